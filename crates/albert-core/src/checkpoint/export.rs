//! Writing a module as an HF-layout directory: `config.json` + `model.safetensors` with exactly
//! HF's tensor names, shapes and tied-weight convention (no `predictions.decoder.*`).

use std::collections::HashMap;
use std::path::Path;

use burn::module::Module;

use super::params::{ParamInfo, param_values, transpose};
use super::safetensors_io::{OutTensor, StoreDtype, write_safetensors_as};
use crate::config::{SharingMode, group_index};
use crate::error::{AlbertError, Result};
use crate::hf_config::HfConfig;

/// Every float parameter as an HF tensor (name, shape and values in HF layout).
fn hf_tensors<M: Module>(
    module: &M,
    layers: usize,
    sharing: SharingMode,
) -> Result<Vec<OutTensor>> {
    let mut params = param_values(module)?;
    if sharing != SharingMode::All {
        params = expand_groups(params, layers);
    }
    Ok(params
        .into_iter()
        .map(|(info, values)| {
            let values = if info.transposed {
                transpose(&values, info.shape[0], info.shape[1])
            } else {
                values
            };
            OutTensor {
                name: info.hf_name,
                shape: info.hf_shape,
                values,
            }
        })
        .collect())
}

/// Rewrites `attention_groups.{g}` / `ffn_groups.{g}` paths into one group per layer
/// application, copying the shared tensors: the unshared HF model that computes the same
/// function.
fn expand_groups(params: Vec<(ParamInfo, Vec<f32>)>, layers: usize) -> Vec<(ParamInfo, Vec<f32>)> {
    let group_of = |path: &str, half: &str| -> Option<(usize, String)> {
        let rest = path.strip_prefix(&format!("albert.encoder.{half}."))?;
        let (group, tail) = rest.split_once('.')?;
        Some((group.parse().ok()?, tail.to_string()))
    };
    let halves = ["attention_groups", "ffn_groups"].map(|half| {
        let groups = params
            .iter()
            .filter_map(|(info, _)| group_of(&info.path, half))
            .map(|(g, _)| g + 1)
            .max()
            .unwrap_or(0);
        (half, groups)
    });
    let mut out = Vec::new();
    for (info, values) in params {
        let found = halves.iter().find_map(|&(half, groups)| {
            group_of(&info.path, half).map(|(g, tail)| (half, groups, g, tail))
        });
        let Some((half, groups, group, tail)) = found else {
            out.push((info, values));
            continue;
        };
        for layer in (0..layers).filter(|&i| group_index(i, layers, groups) == group) {
            let path = format!("albert.encoder.{half}.{layer}.{tail}");
            out.push((
                ParamInfo::new(path, info.module_type.clone(), info.shape.clone()),
                values.clone(),
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
    export_hf_as(module, hf, dir, StoreDtype::F32)
}

/// [`export_hf`] with the weights stored as `dtype` (bf16 or fp16: half the size, each value
/// rounded to the nearest; transformers loads such a file and widens it to the model's dtype).
pub fn export_hf_as<M: Module>(
    module: &M,
    hf: &HfConfig,
    dir: impl AsRef<Path>,
    dtype: StoreDtype,
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
    write_safetensors_as(
        dir.join("model.safetensors"),
        &tensors,
        Some(metadata),
        dtype,
    )?;
    crate::io::write_atomic(dir.join("config.json"), hf.to_json_string()?.as_bytes())?;
    Ok(tensors)
}
