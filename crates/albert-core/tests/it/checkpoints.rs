//! HF checkpoints in and out: exact key sets, round trips, the tied decoder in both forms,
//! sharing-mode export, burn records, and clear errors on bad files.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use albert_core::checkpoint::{
    MissingPolicy, OutTensor, TensorValues, export_hf, load_hf, load_record, read_safetensors,
    save_record, write_safetensors,
};
use albert_core::init::ParamInit;
use albert_core::{
    AlbertConfig, AlbertForPreTraining, AlbertModel, EncoderOutputs, HfConfig, SharingMode,
    TokenBatch,
};
use burn::tensor::{Device, Tensor};

/// The `tiny` fixture's config and directory (`None`: the shared fixtures are absent).
pub(crate) fn tiny() -> Option<(HfConfig, std::path::PathBuf)> {
    let dir = common::hf_dir("tiny")?;
    Some((
        HfConfig::from_file(dir.join("config.json")).expect("config"),
        dir,
    ))
}

fn floats(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    read_safetensors(path)
        .expect("read")
        .into_iter()
        .filter_map(|t| match t.values {
            TensorValues::F32(v) => Some((t.name, (t.shape, v))),
            _ => None,
        })
        .collect()
}

fn batch() -> TokenBatch {
    TokenBatch {
        input_ids: vec![vec![2, 10, 4, 11, 3, 0], vec![2, 7, 8, 3, 9, 3]],
        token_type_ids: Some(vec![vec![0, 0, 0, 0, 0, 0], vec![0, 0, 0, 0, 1, 1]]),
        attention_mask: Some(vec![vec![1, 1, 1, 1, 1, 0], vec![1; 6]]),
    }
}

fn max_diff(a: Tensor<3>, b: Tensor<3>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn export_reload_is_identical_with_hf_key_set() {
    let Some((hf, dir)) = tiny() else { return };
    let device = Device::flex();
    let model = AlbertForPreTraining::init(&hf.config, 1, &device);
    let (model, report) = load_hf(
        model,
        &[dir.join("model.safetensors")],
        MissingPolicy::Error,
    )
    .expect("load");
    assert!(report.is_complete() && report.tied.is_empty(), "{report}");
    let out = tempfile::tempdir().expect("tmp");
    export_hf(&model, &hf, out.path()).expect("export");

    let original = floats(&dir.join("model.safetensors"));
    let exported = floats(&out.path().join("model.safetensors"));
    let original_keys: BTreeSet<_> = read_safetensors(dir.join("model.safetensors"))
        .expect("read")
        .into_iter()
        .map(|t| t.name)
        .collect();
    let exported_keys: BTreeSet<_> = exported.keys().cloned().collect();
    assert_eq!(
        exported_keys, original_keys,
        "exactly HF's key set (no predictions.decoder.*)"
    );
    for (name, (shape, values)) in &original {
        assert_eq!(&exported[name].0, shape, "{name}");
        assert_eq!(&exported[name].1, values, "{name}: bit-identical");
    }
    // `transformers` refuses safetensors without format metadata.
    let bytes = std::fs::read(out.path().join("model.safetensors")).expect("read");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("header");
    assert_eq!(header["__metadata__"]["format"], "pt");
    let config = HfConfig::from_file(out.path().join("config.json")).expect("config");
    assert_eq!(config.config, hf.config);

    // And back in: identical outputs.
    let again = AlbertForPreTraining::init(&hf.config, 2, &device);
    let (again, _) = load_hf(
        again,
        &[out.path().join("model.safetensors")],
        MissingPolicy::Error,
    )
    .expect("reload");
    let input = batch().to_input(&hf.config, &device).expect("input");
    let a = model.forward(input.clone(), EncoderOutputs::default());
    let b = again.forward(input, EncoderOutputs::default());
    assert_eq!(max_diff(a.prediction_logits, b.prediction_logits), 0.0);
}

#[test]
fn explicit_tied_decoder_form_loads_the_same() {
    let Some((hf, dir)) = tiny() else { return };
    let device = Device::flex();
    let tensors = floats(&dir.join("model.safetensors"));
    let mut explicit: Vec<OutTensor> = tensors
        .iter()
        .map(|(name, (shape, values))| OutTensor {
            name: name.clone(),
            shape: shape.clone(),
            values: values.clone(),
        })
        .collect();
    let word = &tensors["albert.embeddings.word_embeddings.weight"];
    explicit.push(OutTensor {
        name: "predictions.decoder.weight".into(),
        shape: word.0.clone(),
        values: word.1.clone(),
    });
    let bias = &tensors["predictions.bias"];
    explicit.push(OutTensor {
        name: "predictions.decoder.bias".into(),
        shape: bias.0.clone(),
        values: bias.1.clone(),
    });
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("explicit.safetensors");
    write_safetensors(&path, &explicit, None).expect("write");
    let (model, report) = load_hf(
        AlbertForPreTraining::init(&hf.config, 3, &device),
        &[&path],
        MissingPolicy::Error,
    )
    .expect("load");
    assert_eq!(
        report.tied,
        vec!["predictions.decoder.weight", "predictions.decoder.bias"]
    );
    assert!(
        report.unused.is_empty() && report.notes.is_empty(),
        "{report}"
    );

    // Only the decoder's name for the bias: it becomes predictions.bias.
    explicit.retain(|t| t.name != "predictions.bias");
    let only_decoder_bias = tmp.path().join("decoder_bias.safetensors");
    write_safetensors(&only_decoder_bias, &explicit, None).expect("write");
    let (model2, report2) = load_hf(
        AlbertForPreTraining::init(&hf.config, 4, &device),
        &[&only_decoder_bias],
        MissingPolicy::Error,
    )
    .expect("load");
    assert!(report2.missing.is_empty(), "{report2}");
    let input = batch().to_input(&hf.config, &device).expect("input");
    let a = model
        .forward(input.clone(), EncoderOutputs::default())
        .prediction_logits;
    let b = model2
        .forward(input, EncoderOutputs::default())
        .prediction_logits;
    assert_eq!(max_diff(a, b), 0.0);
}

#[test]
fn unused_and_missing_are_reported_by_name_and_shape() {
    let Some((hf, dir)) = tiny() else { return };
    let device = Device::flex();
    // A pretraining checkpoint under a body without pooler: pooler and heads are unused.
    let body = AlbertModel::new(&hf.config, false, &mut ParamInit::new(0, 0.02), &device);
    #[derive(burn::module::Module, Debug)]
    struct Wrapper {
        albert: AlbertModel,
    }
    let (_, report) = load_hf(
        Wrapper { albert: body },
        &[dir.join("model.safetensors")],
        MissingPolicy::Error,
    )
    .expect("load");
    let unused: Vec<String> = report
        .unused
        .iter()
        .map(|(n, s, _)| format!("{n} {s:?}"))
        .collect();
    assert!(
        unused.contains(&"albert.pooler.weight [64, 64]".to_string()),
        "{unused:?}"
    );
    assert!(
        unused.contains(&"predictions.bias [1000]".to_string()),
        "{unused:?}"
    );

    // A head-only file: the body is missing -> error naming tensors and shapes.
    let err = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[common::hf_dir("tiny-groups")
            .expect("dir")
            .join("seqcls.safetensors")],
        MissingPolicy::Error,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("missing: albert.embeddings.word_embeddings.weight [1000, 32]"),
        "{err}"
    );
    assert!(err.contains("unused: classifier.weight [3, 64]"), "{err}");
}

#[test]
fn missing_head_is_allowed_only_when_initialising_heads() {
    let Some((hf, dir)) = tiny() else { return };
    let device = Device::flex();
    // Body + pooler file without the pretraining heads.
    let body_only: Vec<OutTensor> = floats(&dir.join("model.safetensors"))
        .into_iter()
        .filter(|(n, _)| n.starts_with("albert."))
        .map(|(name, (shape, values))| OutTensor {
            name,
            shape,
            values,
        })
        .collect();
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("body.safetensors");
    write_safetensors(&path, &body_only, None).expect("write");
    let strict = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[&path],
        MissingPolicy::Error,
    );
    assert!(
        strict
            .unwrap_err()
            .to_string()
            .contains("missing: predictions.bias [1000]")
    );
    let (_, report) = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[&path],
        MissingPolicy::InitializeHeads,
    )
    .expect("fine-tune load");
    let missing: Vec<&str> = report.missing.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        missing.contains(&"sop_classifier.classifier.weight")
            && !missing.iter().any(|n| n.starts_with("albert."))
    );
    // Without the body, even fine-tuning refuses.
    let head_only = tmp.path().join("none.safetensors");
    write_safetensors(
        &head_only,
        &[OutTensor {
            name: "x".into(),
            shape: vec![1],
            values: vec![0.0],
        }],
        None,
    )
    .expect("write");
    let err = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[&head_only],
        MissingPolicy::InitializeHeads,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("missing: albert.encoder.embedding_hidden_mapping_in.weight [64, 32]"),
        "{err}"
    );
}

#[test]
fn mis_shaped_tensor_is_an_error_naming_both_shapes() {
    let Some((hf, dir)) = tiny() else { return };
    let device = Device::flex();
    let mut tensors: Vec<OutTensor> = floats(&dir.join("model.safetensors"))
        .into_iter()
        .map(|(name, (shape, values))| OutTensor {
            name,
            shape,
            values,
        })
        .collect();
    let q = tensors
        .iter_mut()
        .find(|t| {
            t.name == "albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight"
        })
        .expect("query");
    q.shape = vec![32, 128];
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("bad.safetensors");
    write_safetensors(&path, &tensors, None).expect("write");
    let err = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[&path],
        MissingPolicy::InitializeHeads,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mis-shaped: albert.encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight")
            && err.contains("expects float [64, 64], the file has float [32, 128]"),
        "{err}"
    );
}

#[test]
fn truncated_and_garbage_files_are_clear_errors() {
    let Some((hf, dir)) = tiny() else { return };
    let device = Device::flex();
    let bytes = std::fs::read(dir.join("model.safetensors")).expect("read");
    let tmp = tempfile::tempdir().expect("tmp");
    for (name, content) in [
        ("truncated.safetensors", bytes[..bytes.len() / 2].to_vec()),
        ("header-only.safetensors", bytes[..20].to_vec()),
        ("empty.safetensors", Vec::new()),
        (
            "garbage.safetensors",
            b"this is not a checkpoint at all".to_vec(),
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, content).expect("write");
        let err = load_hf(
            AlbertForPreTraining::init(&hf.config, 0, &device),
            &[&path],
            MissingPolicy::Error,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(name) && err.contains("not a valid safetensors"),
            "{name}: {err}"
        );
    }
    let err = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[tmp.path().join("absent.safetensors")],
        MissingPolicy::Error,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("absent.safetensors"), "{err}");
}

/// The sharing modes change what is stored, never the forward function: a model in any mode,
/// written as the equivalent unshared HF model and read back as HF's all-shared layout with one
/// group per layer, computes the same outputs.
#[test]
fn every_sharing_mode_exports_to_an_equivalent_hf_model() {
    let device = Device::flex();
    let base = AlbertConfig::new()
        .with_vocab_size(50)
        .with_embedding_size(8)
        .with_hidden_size(16)
        .with_num_attention_heads(2)
        .with_intermediate_size(24)
        .with_num_hidden_layers(4)
        .with_num_hidden_groups(2)
        .with_inner_group_num(2)
        .with_max_position_embeddings(16);
    let batch = TokenBatch {
        input_ids: vec![vec![2, 10, 4, 11, 3, 0], vec![2, 7, 8, 3, 9, 3]],
        ..batch()
    };
    for mode in SharingMode::ALL {
        let config = base.clone().with_sharing(mode);
        let model = AlbertForPreTraining::init(&config, 11, &device);
        let tmp = tempfile::tempdir().expect("tmp");
        export_hf(&model, &HfConfig::new(config.clone()), tmp.path()).expect("export");
        let hf = HfConfig::from_file(tmp.path().join("config.json")).expect("config");
        let expected_groups = if mode == SharingMode::All { 2 } else { 4 };
        assert_eq!(hf.config.num_hidden_groups, expected_groups, "{mode:?}");
        assert_eq!(hf.config.sharing, SharingMode::All);
        let (reloaded, report) = load_hf(
            AlbertForPreTraining::init(&hf.config, 12, &device),
            &[tmp.path().join("model.safetensors")],
            MissingPolicy::Error,
        )
        .expect("reload");
        assert!(report.unused.is_empty(), "{mode:?}: {report}");
        let input = batch.to_input(&config, &device).expect("input");
        let a = model.forward(input.clone(), EncoderOutputs::default());
        let b = reloaded.forward(input, EncoderOutputs::default());
        let d = max_diff(a.body.last_hidden_state, b.body.last_hidden_state);
        assert!(d < 1e-6, "{mode:?}: {d}");
    }
}

#[test]
fn burn_record_round_trip_and_errors() {
    let device = Device::flex();
    let config = AlbertConfig::new()
        .with_vocab_size(40)
        .with_embedding_size(8)
        .with_hidden_size(16)
        .with_num_attention_heads(2)
        .with_intermediate_size(24)
        .with_num_hidden_layers(2)
        .with_max_position_embeddings(16);
    let model = AlbertForPreTraining::init(&config, 5, &device);
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("model.bpk");
    save_record(&model, &path).expect("save");
    let loaded = load_record(AlbertForPreTraining::init(&config, 6, &device), &path).expect("load");
    let input = batch().to_input(&config.clone().with_vocab_size(40), &device);
    let input = input.expect("input");
    let a = model
        .forward(input.clone(), EncoderOutputs::default())
        .prediction_logits;
    let b = loaded
        .forward(input, EncoderOutputs::default())
        .prediction_logits;
    assert_eq!(max_diff(a, b), 0.0);

    let bigger = config.clone().with_hidden_size(32);
    let err = load_record(AlbertForPreTraining::init(&bigger, 6, &device), &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.bpk"), "{err}");
    std::fs::write(tmp.path().join("junk.bpk"), b"junk").expect("write");
    assert!(
        load_record(
            AlbertForPreTraining::init(&config, 6, &device),
            tmp.path().join("junk.bpk")
        )
        .is_err()
    );
    assert!(
        load_record(
            AlbertForPreTraining::init(&config, 6, &device),
            tmp.path().join("none.bpk")
        )
        .is_err()
    );
}
