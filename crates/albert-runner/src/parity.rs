//! Comparing outputs with a reference file (the HF fixtures' `expected.safetensors`), for tests
//! and for users checking a port.

use std::collections::BTreeMap;
use std::path::Path;

use albert_core::checkpoint::{OutTensor, TensorValues, read_safetensors};

use crate::error::{Result, RunnerError};

/// The comparison of one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDiff {
    /// Its name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// `max |ours - reference|`.
    pub max_abs_diff: f32,
}

/// The result of [`compare`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParityReport {
    /// Tensors present in both with the same shape, by name.
    pub compared: Vec<TensorDiff>,
    /// Reference tensors selected but absent from the outputs.
    pub missing: Vec<String>,
    /// Tensors present in both with different shapes: `(name, ours, reference)`.
    pub shape_mismatch: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl ParityReport {
    /// The largest difference over all compared tensors, with its name.
    pub fn worst(&self) -> Option<&TensorDiff> {
        self.compared
            .iter()
            .max_by(|a, b| a.max_abs_diff.total_cmp(&b.max_abs_diff))
    }

    /// Fails with a readable list unless every selected tensor was compared within `tolerance`.
    pub fn check(&self, tolerance: f32) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        problems.extend(self.missing.iter().map(|m| format!("missing output {m}")));
        problems.extend(
            self.shape_mismatch
                .iter()
                .map(|(n, a, b)| format!("{n}: shape {a:?}, reference {b:?}")),
        );
        problems.extend(
            self.compared
                .iter()
                .filter(|d| d.max_abs_diff.is_nan() || d.max_abs_diff > tolerance)
                .map(|d| {
                    format!(
                        "{}: max |diff| {:e} > {tolerance:e}",
                        d.name, d.max_abs_diff
                    )
                }),
        );
        if self.compared.is_empty() {
            problems.push("nothing was compared".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}

/// Compares `outputs` with the float tensors of `reference` whose names `select` accepts.
pub fn compare(
    reference: &Path,
    outputs: &[OutTensor],
    select: impl Fn(&str) -> bool,
) -> Result<ParityReport> {
    let ours: BTreeMap<&str, &OutTensor> = outputs.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut report = ParityReport::default();
    for t in read_safetensors(reference)? {
        if !select(&t.name) {
            continue;
        }
        let TensorValues::F32(reference_values) = &t.values else {
            continue;
        };
        let Some(o) = ours.get(t.name.as_str()) else {
            report.missing.push(t.name.clone());
            continue;
        };
        if o.shape != t.shape {
            report
                .shape_mismatch
                .push((t.name.clone(), o.shape.clone(), t.shape.clone()));
            continue;
        }
        if o.values.len() != reference_values.len() {
            return Err(RunnerError::Usage(format!(
                "{}: value count differs",
                t.name
            )));
        }
        let max_abs_diff = o
            .values
            .iter()
            .zip(reference_values)
            .map(|(a, b)| {
                if a.is_nan() || b.is_nan() {
                    f32::INFINITY
                } else {
                    (a - b).abs()
                }
            })
            .fold(0.0f32, f32::max);
        report.compared.push(TensorDiff {
            name: t.name.clone(),
            shape: t.shape.clone(),
            max_abs_diff,
        });
    }
    Ok(report)
}

/// One model of an HF reference fixture directory: which config and weight files make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureCase {
    /// The model kind.
    pub head: albert_heads::HeadKind,
    /// Its config file.
    pub config: std::path::PathBuf,
    /// Its weight files, in load order.
    pub weights: Vec<std::path::PathBuf>,
}

/// The five models of a fixture directory (`../shared/fixtures/hf-albert/{tiny,tiny-groups}`),
/// read from its `manifest.json` → `heads`: full checkpoints come with their own config;
/// head-only files are combined with `model.safetensors` and `config.json`.
pub fn fixture_cases(dir: &Path) -> Result<Vec<FixtureCase>> {
    let manifest_path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| RunnerError::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| RunnerError::BadFile {
            path: manifest_path.clone(),
            message: e.to_string(),
        })?;
    let bad = |message: String| RunnerError::BadFile {
        path: manifest_path.clone(),
        message,
    };
    let mut cases = vec![FixtureCase {
        head: albert_heads::HeadKind::Pretraining,
        config: dir.join("config.json"),
        weights: vec![dir.join("model.safetensors")],
    }];
    let heads = manifest
        .get("heads")
        .and_then(|h| h.as_object())
        .ok_or_else(|| bad("no `heads` object".into()))?;
    for (name, head) in heads {
        let kind = albert_heads::HeadKind::parse(name)?;
        let weights = head
            .get("weights")
            .and_then(|w| w.as_str())
            .ok_or_else(|| bad(format!("heads.{name} has no weights")))?;
        let full = head
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k.starts_with("full"));
        let case = match head.get("config").and_then(|c| c.as_str()) {
            Some(config) if full => FixtureCase {
                head: kind,
                config: dir.join(config),
                weights: vec![dir.join(weights)],
            },
            _ => FixtureCase {
                head: kind,
                config: dir.join("config.json"),
                weights: vec![dir.join("model.safetensors"), dir.join(weights)],
            },
        };
        cases.push(case);
    }
    Ok(cases)
}

/// Whether an expected-tensor name is an output of `head` (body tensors belong to every head
/// except multiple choice; `train/*` to none).
pub fn belongs_to(name: &str, head: albert_heads::HeadKind) -> bool {
    use albert_heads::HeadKind::*;
    if name.starts_with("train/") {
        return false;
    }
    let tag = |t: &str| name.contains(&format!("/{t}/"));
    match head {
        MultipleChoice => name.starts_with("mc/"),
        SequenceClassification => tag("seqcls") || is_body(name, true),
        TokenClassification => tag("tokcls") || is_body(name, false),
        QuestionAnswering => tag("qa") || is_body(name, false),
        Pretraining => !name.starts_with("mc/") && !tag("seqcls") && !tag("tokcls") && !tag("qa"),
    }
}

fn is_body(name: &str, pooler: bool) -> bool {
    let Some((_, rest)) = name.split_once('/') else {
        return false;
    };
    rest.starts_with("embedding_output")
        || rest.starts_with("hidden_states/")
        || rest.starts_with("attentions/")
        || rest.starts_with("inner_layer_outputs/")
        || rest == "last_hidden_state"
        || (pooler && rest == "pooler_output")
}

/// The outcome of [`check_fixture`].
#[derive(Debug, Clone)]
pub struct FixtureParity {
    /// Reference tensors checked (every one but `train/*`).
    pub reference_tensors: usize,
    /// Comparisons made (body tensors are compared once per head).
    pub comparisons: usize,
    /// The largest difference seen, and under which head.
    pub worst: Option<(TensorDiff, albert_heads::HeadKind)>,
}

/// Every output of model `head` built from `config` and `weights` (all tensors required) over
/// the batches of `inputs` (an `inputs.json`), through the `albert forward` code path, in this
/// thread's precision.
pub fn model_outputs(
    head: albert_heads::HeadKind,
    config: &Path,
    weights: &[std::path::PathBuf],
    inputs: &Path,
    device: &burn::tensor::Device,
) -> Result<Vec<OutTensor>> {
    use albert_core::HfConfig;
    use albert_core::checkpoint::MissingPolicy;

    use crate::forward::{ForwardOptions, run};
    use crate::inputs::ReferenceInputs;
    use crate::models::AnyModel;

    let hf = HfConfig::from_file(config)?;
    let inputs = ReferenceInputs::from_file(inputs)?;
    let (model, _) = AnyModel::load(head, &hf, weights, MissingPolicy::Error, device)?;
    run(
        &model,
        &hf.config,
        &inputs,
        &ForwardOptions::default(),
        device,
    )
}

/// Runs all five models of an HF fixture directory on `device` through the `albert forward`
/// code path and compares every output with `expected.safetensors`. Fails unless every
/// reference tensor (but the training step's `train/*`) was compared and is within `tolerance`.
pub fn check_fixture(
    dir: &Path,
    device: &burn::tensor::Device,
    tolerance: f32,
) -> Result<FixtureParity> {
    use albert_core::HfConfig;
    use albert_core::checkpoint::MissingPolicy;

    use crate::forward::{ForwardOptions, run};
    use crate::inputs::ReferenceInputs;
    use crate::models::AnyModel;

    let expected = dir.join("expected.safetensors");
    let inputs = ReferenceInputs::from_file(&dir.join("inputs.json"))?;
    let mut covered = std::collections::BTreeSet::new();
    let mut outcome = FixtureParity {
        reference_tensors: 0,
        comparisons: 0,
        worst: None,
    };
    for case in fixture_cases(dir)? {
        let hf = HfConfig::from_file(&case.config)?;
        let (model, _) =
            AnyModel::load(case.head, &hf, &case.weights, MissingPolicy::Error, device)?;
        let outputs = run(
            &model,
            &hf.config,
            &inputs,
            &ForwardOptions::default(),
            device,
        )?;
        let report = compare(&expected, &outputs, |n| belongs_to(n, case.head))?;
        report.check(tolerance).map_err(|problems| {
            RunnerError::Usage(format!(
                "{} {}:\n{problems}",
                dir.display(),
                case.head.cli_name()
            ))
        })?;
        outcome.comparisons += report.compared.len();
        covered.extend(report.compared.iter().map(|d| d.name.clone()));
        if let Some(w) = report.worst()
            && outcome
                .worst
                .as_ref()
                .is_none_or(|(best, _)| w.max_abs_diff >= best.max_abs_diff)
        {
            outcome.worst = Some((w.clone(), case.head));
        }
    }
    let unchecked: Vec<String> = read_safetensors(&expected)?
        .into_iter()
        .map(|t| t.name)
        .filter(|n| !n.starts_with("train/") && !covered.contains(n))
        .collect();
    if !unchecked.is_empty() {
        return Err(RunnerError::Usage(format!(
            "{}: reference tensors no head produced: {}",
            dir.display(),
            unchecked.join(", ")
        )));
    }
    outcome.reference_tensors = covered.len();
    Ok(outcome)
}
