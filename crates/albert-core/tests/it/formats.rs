//! Checkpoint formats besides safetensors: `pytorch_model.bin`, original TF1 checkpoints and
//! bare-body (`AlbertModel`) saves load the same weights as the `tiny` fixture's safetensors;
//! damaged files are clear errors.

use crate::checkpoints::tiny;
use crate::common;

use std::path::Path;

use albert_core::checkpoint::{
    MissingPolicy, OutTensor, TensorValues, load_hf, read_safetensors, write_safetensors,
};
use albert_core::{AlbertForPreTraining, HfConfig};
use burn::tensor::Device;

/// The `tiny` weights saved as `pytorch_model.bin` (torch's zip pickle) and as an original TF1
/// checkpoint (`../shared/fixtures/hf-albert/formats`) load into exactly the parameters that
/// `tiny/model.safetensors` gives — every value bit for bit — with nothing missing, through
/// [`load_hf`] and through the model directory lookup ([`albert_core::checkpoint::model_files`]);
/// the original `albert_config.json` reads as the same architecture (its `"gelu"` is tanh).
#[test]
fn pytorch_bin_and_tf_checkpoint_load_the_same_weights() {
    use albert_core::checkpoint::{model_files, param_values};

    let Some((hf, dir)) = tiny() else { return };
    let Some(formats) = common::hf_dir("formats") else {
        return;
    };
    let device = Device::flex();
    let load = |files: &[std::path::PathBuf]| {
        let (model, report) = load_hf(
            AlbertForPreTraining::init(&hf.config, 0, &device),
            files,
            MissingPolicy::Error,
        )
        .unwrap_or_else(|e| panic!("{files:?}: {e}"));
        assert!(report.missing.is_empty(), "{files:?}: {report}");
        param_values(&model).expect("values")
    };
    let reference = load(&[dir.join("model.safetensors")]);
    let (bin_config, bin_weights) = model_files(&formats.join("tiny-bin")).expect("tiny-bin");
    assert!(bin_weights.ends_with("pytorch_model.bin"));
    assert_eq!(
        HfConfig::from_file(&bin_config).expect("config").config,
        hf.config
    );
    let (tf_config, tf_weights) = model_files(&formats.join("tiny-tf")).expect("tiny-tf");
    assert!(tf_weights.ends_with("model.ckpt-0"), "{tf_weights:?}");
    let original = HfConfig::from_file(&tf_config)
        .expect("albert_config.json")
        .config;
    assert_eq!(original.hidden_act, hf.config.hidden_act);
    assert_eq!(
        (
            original.hidden_size,
            original.num_hidden_layers,
            original.embedding_size
        ),
        (
            hf.config.hidden_size,
            hf.config.num_hidden_layers,
            hf.config.embedding_size
        )
    );
    for weights in [bin_weights, tf_weights] {
        let got = load(std::slice::from_ref(&weights));
        assert_eq!(got.len(), reference.len());
        for ((info, values), (want_info, want)) in got.iter().zip(&reference) {
            assert_eq!(info.hf_name, want_info.hf_name);
            assert!(values == want, "{weights:?}: {} differs", info.hf_name);
        }
    }
    // The TF checkpoint's extra variable (global_step) is reported unused, not loaded.
    let (_, report) = load_hf(
        AlbertForPreTraining::init(&hf.config, 0, &device),
        &[formats.join("tiny-tf/model.ckpt-0")],
        MissingPolicy::Error,
    )
    .expect("tf");
    assert!(
        report
            .unused
            .iter()
            .any(|(name, _, _)| name == "global_step"),
        "{report}"
    );
}

/// A truncated `pytorch_model.bin` and a TF shard cut short are errors naming the file.
#[test]
fn damaged_pytorch_and_tf_files_are_clear_errors() {
    use albert_core::checkpoint::read_checkpoint;

    let Some(formats) = common::hf_dir("formats") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let bin = std::fs::read(formats.join("tiny-bin/pytorch_model.bin")).expect("bin");
    let truncated = tmp.path().join("pytorch_model.bin");
    std::fs::write(&truncated, &bin[..bin.len() / 2]).expect("write");
    let e = read_checkpoint(&truncated)
        .expect_err("truncated")
        .to_string();
    assert!(e.contains("pytorch_model.bin"), "{e}");

    for f in ["model.ckpt-0.index", "model.ckpt-0.data-00000-of-00001"] {
        std::fs::copy(formats.join("tiny-tf").join(f), tmp.path().join(f)).expect("copy");
    }
    let data = tmp.path().join("model.ckpt-0.data-00000-of-00001");
    let bytes = std::fs::read(&data).expect("data");
    std::fs::write(&data, &bytes[..bytes.len() - 100]).expect("cut");
    let e = read_checkpoint(tmp.path().join("model.ckpt-0"))
        .expect_err("short shard")
        .to_string();
    assert!(
        e.contains("data-00000-of-00001") && e.contains("past"),
        "{e}"
    );
}

/// A bare-body checkpoint (`AlbertModel` as HF and sentence-transformers save it: `embeddings.*`,
/// `encoder.*`, `pooler.*` without the `albert.` prefix) loads into a model's body, the same
/// values as the prefixed file; heads stay missing (an error unless the policy allows them).
#[test]
fn bare_body_checkpoints_load_with_the_albert_prefix() {
    use albert_core::checkpoint::param_values;

    let Some((hf, dir)) = tiny() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let bare = tmp.path().join("model.safetensors");
    let tensors: Vec<OutTensor> = read_safetensors(dir.join("model.safetensors"))
        .expect("read")
        .into_iter()
        .filter_map(|t| {
            let name = t.name.strip_prefix("albert.")?.to_string();
            let TensorValues::F32(values) = t.values else {
                return None;
            };
            Some(OutTensor {
                name,
                shape: t.shape,
                values,
            })
        })
        .collect();
    assert!(tensors.iter().any(|t| t.name.starts_with("encoder.")));
    write_safetensors(&bare, &tensors, None).expect("write");
    let device = Device::flex();
    let load = |file: &Path, policy| {
        load_hf(
            AlbertForPreTraining::init(&hf.config, 0, &device),
            &[file],
            policy,
        )
    };
    let err = load(&bare, MissingPolicy::Error)
        .expect_err("heads missing")
        .to_string();
    assert!(err.contains("sop_classifier"), "{err}");
    let (model, report) = load(&bare, MissingPolicy::InitializeHeads).expect("body loads");
    assert!(
        report.notes.iter().any(|n| n.contains("albert.")),
        "{report}"
    );
    let (reference, _) =
        load(&dir.join("model.safetensors"), MissingPolicy::Error).expect("reference");
    let body = |m: &AlbertForPreTraining| {
        param_values(m)
            .expect("values")
            .into_iter()
            .filter(|(i, _)| i.hf_name.starts_with("albert."))
            .collect::<Vec<_>>()
    };
    let (got, want) = (body(&model), body(&reference));
    assert_eq!(got.len(), want.len());
    assert!(got == want, "body values differ");
}
