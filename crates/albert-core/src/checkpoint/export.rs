//! Writing a module as an HF-layout directory: `config.json` + `model.safetensors` with exactly
//! HF's tensor names, shapes and tied-weight convention (no `predictions.decoder.*`).

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

use super::hf_names::hf_name;
use super::safetensors_io::{OutTensor, write_safetensors};
use crate::config::{SharingMode, group_index};
use crate::error::{AlbertError, Result};
use crate::hf_config::HfConfig;

#[derive(Default)]
struct ValueWalker {
    path: Vec<String>,
    containers: Vec<String>,
    values: Vec<(String, String, Vec<usize>, Vec<f32>)>,
    error: Option<String>,
}

impl ModuleVisitor for ValueWalker {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.containers.push(container_type.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        let module_type = self
            .containers
            .iter()
            .rev()
            .find(|c| c.starts_with("Struct:"))
            .cloned()
            .unwrap_or_default();
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        match tensor.try_into_vec_as::<f32>() {
            Ok(v) => self.values.push((path, module_type, shape, v)),
            Err(e) => self.error = Some(format!("cannot read {path}: {e:?}")),
        }
    }
}

/// Every float parameter as `(HF name, HF shape, values in HF layout)`.
fn hf_tensors<M: Module>(
    module: &M,
    layers: usize,
    sharing: SharingMode,
) -> Result<Vec<OutTensor>> {
    let mut walker = ValueWalker::default();
    module.visit(&mut walker);
    if let Some(e) = walker.error {
        return Err(AlbertError::Export(e));
    }
    let values = if sharing == SharingMode::All {
        walker.values
    } else {
        expand_groups(walker.values, layers)
    };
    let mut out = Vec::with_capacity(values.len());
    for (path, module_type, shape, v) in values {
        let name = hf_name(&path, &module_type);
        let transposed =
            module_type == "Struct:Linear" && path.ends_with(".weight") && shape.len() == 2;
        let (shape, values) = if transposed {
            let (rows, cols) = (shape[0], shape[1]);
            let mut t = vec![0.0f32; v.len()];
            for r in 0..rows {
                for c in 0..cols {
                    t[c * rows + r] = v[r * cols + c];
                }
            }
            (vec![cols, rows], t)
        } else {
            (shape, v)
        };
        out.push(OutTensor {
            name,
            shape,
            values,
        });
    }
    Ok(out)
}

/// Rewrites `attention_groups.{g}` / `ffn_groups.{g}` paths into one group per layer
/// application, copying the shared tensors: the unshared HF model that computes the same
/// function.
fn expand_groups(
    values: Vec<(String, String, Vec<usize>, Vec<f32>)>,
    layers: usize,
) -> Vec<(String, String, Vec<usize>, Vec<f32>)> {
    let group_count = |half: &str| {
        values
            .iter()
            .filter_map(|(p, ..)| p.strip_prefix(&format!("albert.encoder.{half}.")))
            .filter_map(|rest| rest.split('.').next()?.parse::<usize>().ok())
            .max()
            .map_or(0, |g| g + 1)
    };
    let counts = [
        ("attention_groups", group_count("attention_groups")),
        ("ffn_groups", group_count("ffn_groups")),
    ];
    let mut out = Vec::new();
    for (path, ty, shape, v) in values {
        let half = counts
            .iter()
            .find(|(half, _)| path.starts_with(&format!("albert.encoder.{half}.")));
        let Some((half, groups)) = half else {
            out.push((path, ty, shape, v));
            continue;
        };
        let prefix = format!("albert.encoder.{half}.");
        let rest = &path[prefix.len()..];
        let (group, tail) = rest.split_once('.').unwrap_or((rest, ""));
        let Ok(group) = group.parse::<usize>() else {
            out.push((path, ty, shape, v));
            continue;
        };
        for layer in (0..layers).filter(|&i| group_index(i, layers, *groups) == group) {
            out.push((
                format!("{prefix}{layer}.{tail}"),
                ty.clone(),
                shape.clone(),
                v.clone(),
            ));
        }
    }
    out
}

/// Writes `module` to `dir` as an HF checkpoint directory (`config.json`, `model.safetensors`),
/// each file atomically. `hf.architectures` names the HF class (e.g. `AlbertForPreTraining`).
///
/// Models with [`SharingMode`] other than `All` are written as the equivalent unshared HF model
/// (`num_hidden_groups = num_hidden_layers`, shared tensors copied into every layer that uses
/// them). Returns the tensors written.
pub fn export_hf<M: Module>(
    module: &M,
    hf: &HfConfig,
    dir: impl AsRef<Path>,
) -> Result<Vec<OutTensor>> {
    let dir = dir.as_ref();
    let config = &hf.config;
    let tensors = hf_tensors(module, config.num_hidden_layers, config.sharing)?;
    let mut hf = hf.clone();
    if config.sharing != SharingMode::All {
        hf.config.sharing = SharingMode::All;
        hf.config.num_hidden_groups = config.num_hidden_layers;
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = tensors.iter().find(|t| !seen.insert(t.name.as_str())) {
        return Err(AlbertError::Export(format!(
            "two parameters map to the HF name {}",
            dup.name
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| AlbertError::io(dir, e))?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors(dir.join("model.safetensors"), &tensors, Some(metadata))?;
    crate::io::write_atomic(dir.join("config.json"), hf.to_json_string()?.as_bytes())?;
    Ok(tensors)
}
