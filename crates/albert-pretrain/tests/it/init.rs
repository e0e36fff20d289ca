//! `[run] init`: a run started from a finished run's exported model continues from exactly
//! those weights (one step at learning rate 0 exports the same tensors and scores the same
//! held-out metrics), and a directory describing another model is refused with the field named.

use crate::common;

use albert_core::checkpoint::read_safetensors;
use albert_pretrain::train::{TrainOptions, pretrain};
use common::{shared, tiny_config};

#[test]
fn init_continues_from_an_exported_model() {
    let Some(shared) = shared() else { return };
    let device = crate::common::cpu();
    let tmp = tempfile::tempdir().expect("tmp");
    let first = pretrain(
        &tiny_config(&shared),
        &tmp.path().join("first"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .expect("first run");
    let model_dir = first.model_dir.expect("exported model");

    // Step 0 of a warm-up has learning rate 0: the one step changes nothing.
    let mut config = tiny_config(&shared);
    config.run.steps = 1;
    config.run.init = Some(model_dir.clone());
    assert!(config.schedule.warmup_steps > 0);
    let second = pretrain(
        &config,
        &tmp.path().join("second"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .expect("initialised run");
    let ours = read_safetensors(model_dir.join("model.safetensors")).expect("first weights");
    let theirs = read_safetensors(
        second
            .model_dir
            .expect("second export")
            .join("model.safetensors"),
    )
    .expect("second weights");
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!((&a.name, &a.values), (&b.name, &b.values), "{}", a.name);
    }
    let (mut a, b) = (
        first.final_eval.expect("first eval"),
        second.final_eval.expect("second eval"),
    );
    a.step = b.step;
    assert_eq!(a, b);

    // A continuation that draws fresh training instances (another [instances] seed) scores on
    // the same held-out instances when [data] eval_seed keeps the old seed, on others without.
    let mut reseeded = config.clone();
    reseeded.instances.seed += 1;
    reseeded.data.eval_seed = Some(config.instances.seed);
    let run = |config: &albert_pretrain::train::PretrainConfig, dir: &str| {
        pretrain(
            config,
            &tmp.path().join(dir),
            std::slice::from_ref(&device),
            &TrainOptions::default(),
        )
        .expect("reseeded run")
        .final_eval
        .expect("reseeded eval")
    };
    assert_eq!(run(&reseeded, "same-eval"), b);
    reseeded.data.eval_seed = None;
    assert_ne!(
        run(&reseeded, "other-eval").masked_lm_loss,
        b.masked_lm_loss
    );
    // A freshly initialised one-step run scores differently (the init was used).
    let mut fresh = tiny_config(&shared);
    fresh.run.steps = 1;
    let fresh = pretrain(
        &fresh,
        &tmp.path().join("fresh"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .expect("fresh run");
    assert_ne!(
        fresh.final_eval.expect("fresh eval").masked_lm_loss,
        b.masked_lm_loss
    );

    // Another architecture, a missing directory, missing weights: clear errors.
    let mut wider = config.clone();
    wider.model.hidden_size = 48;
    wider.model.intermediate_size = 96;
    let err = pretrain(
        &wider,
        &tmp.path().join("wider"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("config.json")
            && err.contains("hidden_size is 32 there but 48 in this run")
            && err.contains("intermediate_size is 64 there but 96"),
        "{err}"
    );
    let mut deeper = config.clone();
    deeper.model.num_hidden_layers = 3;
    let err = pretrain(
        &deeper,
        &tmp.path().join("deeper"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("num_hidden_layers is 2 there but 3"), "{err}");
    let mut missing = config.clone();
    missing.run.init = Some(tmp.path().join("nowhere"));
    let err = pretrain(
        &missing,
        &tmp.path().join("missing"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("nowhere") && err.contains("not a directory"),
        "{err}"
    );
    let bare = tmp.path().join("bare");
    std::fs::create_dir_all(&bare).expect("mkdir");
    std::fs::copy(model_dir.join("config.json"), bare.join("config.json")).expect("copy");
    let mut no_weights = config;
    no_weights.run.init = Some(bare);
    let err = pretrain(
        &no_weights,
        &tmp.path().join("no-weights"),
        std::slice::from_ref(&device),
        &TrainOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("model.safetensors not found"), "{err}");
}
