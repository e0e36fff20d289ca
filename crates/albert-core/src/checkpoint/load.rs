//! Loading HF safetensors checkpoints into any module of this workspace, with a full report.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{ModuleSnapshot, bridge};
use burn::tensor::TensorData;

use super::hf_names::TIED;
use super::params::{ParamInfo, param_infos, transpose};
use super::safetensors_io::{FileTensor, TensorValues};
use crate::error::{AlbertError, Result};

/// What to do with parameters the checkpoint does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingPolicy {
    /// Every parameter must be in the checkpoint (inference, export).
    Error,
    /// Parameters outside the pretrained body (`classifier.*`, `qa_outputs.*`, the pooler, the
    /// pretraining heads) may be missing: they keep their fresh initialisation and are
    /// reported. This is how a new head goes on a pretrained body for fine-tuning. Missing body
    /// parameters are still an error.
    InitializeHeads,
    /// Parameters whose HF names start with one of these prefixes may be missing (heads a
    /// command does not use, e.g. the SOP head and pooler of an `AlbertForMaskedLM` checkpoint
    /// for fill-mask); every other parameter is required.
    Unused(&'static [&'static str]),
}

/// A tensor whose shape or dtype does not fit the parameter it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// HF name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// What the model expects (HF layout), e.g. `float [64, 32]`.
    pub expected: String,
    /// What the file has.
    pub found: String,
}

/// Everything a load did, by HF tensor name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Parameters loaded, with the file each came from (the last file that had it).
    pub loaded: Vec<(String, PathBuf)>,
    /// Parameters not in any file, with their expected HF shape.
    pub missing: Vec<(String, Vec<usize>)>,
    /// Tensors in the files that the model has no parameter for, with shape and file.
    pub unused: Vec<(String, Vec<usize>, PathBuf)>,
    /// Tensors of the wrong shape or dtype.
    pub mismatched: Vec<Mismatch>,
    /// Tied tensors found in the files (e.g. `predictions.decoder.weight`) and not loaded
    /// separately because the model ties them.
    pub tied: Vec<String>,
    /// Remarks (tied tensors that disagree, missing tensors that were initialised, ...).
    pub notes: Vec<String>,
}

impl LoadReport {
    /// True when every parameter was loaded and nothing mismatched.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.mismatched.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "loaded {} tensors", self.loaded.len())?;
        for m in &self.mismatched {
            writeln!(
                f,
                "  mis-shaped: {} in {}: the model expects {}, the file has {}",
                m.name,
                m.file.display(),
                m.expected,
                m.found
            )?;
        }
        for (name, shape) in &self.missing {
            writeln!(f, "  missing: {name} {shape:?}")?;
        }
        for (name, shape, file) in &self.unused {
            writeln!(f, "  unused: {name} {shape:?} (in {})", file.display())?;
        }
        for name in &self.tied {
            writeln!(f, "  tied: {name} (ALBERT ties it; not loaded separately)")?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

fn allowed_missing(name: &str, policy: MissingPolicy) -> bool {
    match policy {
        MissingPolicy::Error => false,
        MissingPolicy::InitializeHeads => {
            !name.starts_with("albert.") || name.starts_with("albert.pooler.")
        }
        MissingPolicy::Unused(prefixes) => prefixes.iter().any(|p| name.starts_with(p)),
    }
}

/// A checkpoint of the bare body (`AlbertModel`: `embeddings.*`, `encoder.*`, `pooler.*`, as
/// HF and sentence-transformers save it) loaded into a model whose body is `albert.*`: its
/// names get the `albert.` prefix (what `from_pretrained` does with `base_model_prefix`).
/// Only when the checkpoint has no `albert.*` tensor at all and the model wants some.
fn add_base_prefix(
    infos: &[super::ParamInfo],
    available: &mut BTreeMap<String, FileTensor>,
    report: &mut LoadReport,
) {
    const BODY: [&str; 3] = ["embeddings.", "encoder.", "pooler."];
    let wants_prefix = infos.iter().any(|i| i.hf_name.starts_with("albert."));
    let has_prefix = available.keys().any(|k| k.starts_with("albert."));
    if !wants_prefix || has_prefix {
        return;
    }
    let bare: Vec<String> = available
        .keys()
        .filter(|k| BODY.iter().any(|b| k.starts_with(b)))
        .cloned()
        .collect();
    if bare.is_empty() {
        return;
    }
    for name in &bare {
        if let Some(mut t) = available.remove(name) {
            t.name = format!("albert.{name}");
            available.insert(t.name.clone(), t);
        }
    }
    report.notes.push(format!(
        "a bare-body checkpoint: {} tensors read as albert.*",
        bare.len()
    ));
}

fn describe(kind: &str, shape: &[usize]) -> String {
    format!("{kind} {shape:?}")
}

/// Loads checkpoint `files` (safetensors, `pytorch_model.bin` or TF1 checkpoints:
/// [`super::read_checkpoint`]) into `module`, later files adding to or replacing earlier
/// ones (so a body file and a head-only file can be combined).
///
/// Every parameter is looked up by its HF name (see [`super::hf_names`]). A mis-shaped tensor
/// is always an error; a missing one is an error unless `policy` allows it; unused tensors and
/// tied duplicates are reported. On error the message lists the whole report.
pub fn load_hf<M: Module>(
    mut module: M,
    files: &[impl AsRef<Path>],
    policy: MissingPolicy,
) -> Result<(M, LoadReport)> {
    let infos = param_infos(&module);
    let mut available: BTreeMap<String, FileTensor> = BTreeMap::new();
    for file in files {
        for t in super::read_checkpoint(file.as_ref())? {
            available.insert(t.name.clone(), t);
        }
    }
    let mut report = LoadReport::default();
    add_base_prefix(&infos, &mut available, &mut report);
    resolve_tied(&infos, &mut available, &mut report);

    let mut tensors = Vec::new();
    for info in &infos {
        let Some(t) = available.remove(&info.hf_name) else {
            report
                .missing
                .push((info.hf_name.clone(), info.hf_shape.clone()));
            continue;
        };
        match to_pack_tensor(info, &t) {
            Ok(pack) => {
                tensors.push(pack);
                report.loaded.push((info.hf_name.clone(), t.file.clone()));
            }
            Err(found) => report.mismatched.push(Mismatch {
                name: info.hf_name.clone(),
                file: t.file.clone(),
                expected: describe("float", &info.hf_shape),
                found,
            }),
        }
    }
    report.unused = available
        .into_values()
        .map(|t| (t.name, t.shape, t.file))
        .collect();

    let fatal_missing = report
        .missing
        .iter()
        .any(|(name, _)| !allowed_missing(name, policy));
    if !report.mismatched.is_empty() || fatal_missing {
        return Err(AlbertError::CheckpointMismatch {
            report: report.to_string(),
        });
    }
    if !report.missing.is_empty() {
        report.notes.push(format!(
            "{} missing tensors keep their fresh initialisation",
            report.missing.len()
        ));
    }

    let expected = tensors.len();
    let result = module.apply(tensors, None, None, false);
    if !result.errors.is_empty() || result.applied.len() != expected {
        return Err(AlbertError::CheckpointMismatch {
            report: format!(
                "{report}internal: burn applied {} of {expected} tensors; errors: {:?}",
                result.applied.len(),
                result.errors
            ),
        });
    }
    Ok((module, report))
}

/// Handles `predictions.decoder.{weight,bias}`: tied in ALBERT, present in older checkpoints.
fn resolve_tied(
    infos: &[ParamInfo],
    available: &mut BTreeMap<String, FileTensor>,
    report: &mut LoadReport,
) {
    let has_param = |name: &str| infos.iter().any(|i| i.hf_name == name);
    for (tied, target) in TIED {
        if !has_param(target) || !has_param("predictions.bias") {
            continue; // no MLM head: the tensor is simply unused
        }
        let Some(t) = available.remove(*tied) else {
            continue;
        };
        match available.get(*target) {
            None if *target == "predictions.bias" => {
                // Only the explicit decoder bias is present: it is the MLM bias.
                let mut t = t;
                t.name = target.to_string();
                available.insert(target.to_string(), t);
            }
            other => {
                if let Some(kept) = other
                    && (kept.values != t.values || kept.shape != t.shape)
                {
                    report.notes.push(format!(
                        "{tied} differs from {target}; ALBERT ties them and uses {target}"
                    ));
                }
                report.tied.push(tied.to_string());
            }
        }
    }
}

/// The file tensor in our layout, or a description of what is wrong with it.
fn to_pack_tensor(
    info: &ParamInfo,
    t: &FileTensor,
) -> std::result::Result<burn::store::burn_pack::Tensor, String> {
    let TensorValues::F32(values) = &t.values else {
        return Err(describe(t.values.kind(), &t.shape));
    };
    if t.shape != info.hf_shape {
        return Err(describe("float", &t.shape));
    }
    let values = if info.transposed {
        transpose(values, t.shape[0], t.shape[1])
    } else {
        values.clone()
    };
    Ok(bridge::from_data(
        TensorData::new(values, info.shape.clone()),
        info.path.clone(),
        None,
    ))
}
