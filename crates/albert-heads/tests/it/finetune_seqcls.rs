//! The classification fine-tuning loop end to end on a tiny model: real sentences (SST-2-style
//! dev file) whose class is announced by their first word, so a working loop must reach
//! near-perfect dev accuracy in a few epochs while a broken one (no gradient, wrong labels,
//! wrong optimiser wiring) stays near chance. Also: the best model is written in HF layout and
//! reloads to the same predictions; the metrics log and predictions file are written.

use crate::common;
use albert_heads::progress::Progress;

use albert_core::HfConfig;
use albert_core::checkpoint::{MissingPolicy, load_hf};
use albert_core::init::ParamInit;
use albert_heads::AlbertForSequenceClassification;
use albert_heads::finetune::seqcls::{SeqCls, encode, label_set, predict, score};
use albert_heads::tasks::tsv::{Label, TextExample, read_tsv};
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;

/// The SST-2-style dev file, the fixture vocabulary and its tokenizer (`None`: the shared
/// folder is absent).
fn sst2_dev() -> Option<(std::path::PathBuf, std::path::PathBuf, AlbertTokenizer)> {
    let tsv = shared_path("data/glue-style/sst2_vader_movie/dev.tsv")?;
    let spm = shared_path("fixtures/tokenizer/spiece.model")?;
    let tokenizer = AlbertTokenizer::from_path(&spm).expect("tokenizer");
    Some((tsv, spm, tokenizer))
}

#[test]
fn classification_loop_learns_and_saves() {
    let Some((tsv, spm, tokenizer)) = sst2_dev() else {
        return;
    };
    let rows = read_tsv(&tsv).expect("tsv");
    // The class is the first word: "north ..." = north, "south ..." = south.
    let labelled: Vec<TextExample> = rows
        .iter()
        .take(360)
        .enumerate()
        .map(|(i, r)| {
            let class = if i % 2 == 0 { "north" } else { "south" };
            TextExample {
                text_a: format!("{class} {}", r.text_a),
                text_b: None,
                label: Some(Label::Class(class.into())),
                line: r.line,
            }
        })
        .collect();
    let (train, dev) = labelled.split_at(280);
    let labels = label_set(train);
    assert_eq!(labels, vec!["north", "south"]);
    let config = common::quick(16, 8);
    let path = std::path::Path::new("inline.tsv");
    let train_data = encode(&tokenizer, train, &labels, 16, path).expect("train");
    let dev_data = encode(&tokenizer, dev, &labels, 16, path).expect("dev");
    let albert = common::tiny_albert(tokenizer.vocab_size(), 32).with_labels(Some(labels.clone()));
    let device = crate::common::cpu();
    let model =
        AlbertForSequenceClassification::new(&albert, 2, &mut ParamInit::new(7, 0.02), &device);
    let before = predict(
        &model,
        &albert,
        &dev_data,
        32,
        0,
        &device,
        &Progress::disabled(),
    )
    .expect("predict");
    let chance = score(&dev_data.targets, &before, &labels)["accuracy"];

    let tmp = tempfile::tempdir().expect("tmp");
    let summary = common::train::<SeqCls>(
        model,
        &albert,
        &train_data,
        &dev_data,
        &config,
        &spm,
        tmp.path(),
    );
    let best = summary.best.metrics["accuracy"];
    eprintln!(
        "dev accuracy before {chance:.3}, per epoch {:?}",
        summary.evaluations
    );
    assert!(best >= 0.95, "best dev accuracy {best} (before: {chance})");

    // Files: model in HF layout with its labels and tokenizer, metrics log, predictions.
    let dir = &summary.model_dir;
    for f in ["config.json", "model.safetensors", "spiece.model"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let log = std::fs::read_to_string(tmp.path().join("metrics.jsonl")).expect("log");
    assert_eq!(log.lines().count(), 8);
    let preds = std::fs::read_to_string(tmp.path().join("dev_predictions.jsonl")).expect("preds");
    assert_eq!(preds.lines().count(), dev.len());

    // Reload: same label names, same dev metrics as the best epoch.
    let hf2 = HfConfig::from_file(dir.join("config.json")).expect("config");
    assert_eq!(hf2.config.labels.as_deref(), Some(labels.as_slice()));
    let fresh =
        AlbertForSequenceClassification::new(&hf2.config, 2, &mut ParamInit::new(1, 0.02), &device);
    let (reloaded, report) = load_hf(
        fresh,
        &[dir.join("model.safetensors")],
        MissingPolicy::Error,
    )
    .expect("reload");
    assert!(report.missing.is_empty(), "{report:?}");
    let again = predict(
        &reloaded,
        &hf2.config,
        &dev_data,
        32,
        0,
        &device,
        &Progress::disabled(),
    )
    .expect("predict");
    assert_eq!(
        score(&dev_data.targets, &again, &labels),
        summary.best.metrics
    );
}

/// `head_learning_rate`: one AdamW step from fresh moments moves every parameter by its
/// learning rate times `g / (|g| + ε)`, so the largest move of a tensor is its group's rate —
/// the pooler (body) by `learning_rate`, the classifier (head) by `head_learning_rate` — and
/// without the option both by `learning_rate`.
#[test]
fn head_learning_rate_applies_to_the_head_only() {
    let Some((tsv, spm, tokenizer)) = sst2_dev() else {
        return;
    };
    let rows: Vec<TextExample> = read_tsv(&tsv).expect("tsv").into_iter().take(16).collect();
    let labels = label_set(&rows);
    let path = std::path::Path::new("inline.tsv");
    let data = encode(&tokenizer, &rows, &labels, 16, path).expect("encode");
    let albert = common::tiny_albert(tokenizer.vocab_size(), 32).with_labels(Some(labels.clone()));
    let device = crate::common::cpu();
    let max_move = |a: &AlbertForSequenceClassification, b: &AlbertForSequenceClassification| {
        let d = |x: burn::tensor::Tensor<2>, y: burn::tensor::Tensor<2>| {
            f64::from((x - y).abs().max().into_scalar::<f32>())
        };
        let pooler = |m: &AlbertForSequenceClassification| {
            m.albert.pooler.as_ref().expect("pooler").weight.val()
        };
        (
            d(pooler(a), pooler(b)),
            d(a.classifier.weight.val(), b.classifier.weight.val()),
        )
    };
    for head in [None, Some(1e-2)] {
        let lr = 1e-4;
        // One step: the whole set in one batch, no warmup (the first step is at the peak), no
        // decay, no clipping.
        let config = albert_heads::finetune::FinetuneConfig {
            batch_size: 16,
            epochs: 1,
            learning_rate: lr,
            head_learning_rate: head,
            warmup_ratio: 0.0,
            weight_decay: 0.0,
            max_grad_norm: 0.0,
            ..common::quick(16, 1)
        };
        let model = AlbertForSequenceClassification::new(
            &albert,
            labels.len(),
            &mut ParamInit::new(7, 0.02),
            &device,
        );
        let tmp = tempfile::tempdir().expect("tmp");
        let summary = common::train::<SeqCls>(
            model.clone(),
            &albert,
            &data,
            &data,
            &config,
            &spm,
            tmp.path(),
        );
        let fresh = AlbertForSequenceClassification::new(
            &albert,
            labels.len(),
            &mut ParamInit::new(1, 0.02),
            &device,
        );
        let (trained, _) = load_hf(
            fresh,
            &[summary.model_dir.join("model.safetensors")],
            MissingPolicy::Error,
        )
        .expect("reload");
        let (body, classifier) = max_move(&model, &trained);
        let head_lr = head.unwrap_or(lr);
        assert!(
            (0.9 * lr..=1.0001 * lr).contains(&body),
            "pooler moved {body}, lr {lr}"
        );
        assert!(
            (0.9 * head_lr..=1.0001 * head_lr).contains(&classifier),
            "classifier moved {classifier}, head lr {head_lr}"
        );
    }
}
