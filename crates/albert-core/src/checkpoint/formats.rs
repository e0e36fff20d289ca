//! Which checkpoint format a path holds, and the files of a model directory in any of them.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::pytorch::read_pytorch;
use super::safetensors_io::{FileTensor, read_safetensors};
use super::tf::{read_tf_checkpoint, tf_index_path};
use crate::error::{AlbertError, Result};

/// Every tensor of a checkpoint, whatever its format: a `.safetensors` file, a PyTorch
/// `pytorch_model.bin` (recognised by its zip signature), or an original TF1 checkpoint given by
/// its prefix (`model.ckpt-N`) or its `.index` file. Names are HF names in all three (TF
/// variables are renamed, their kernels transposed); floats of any width come as f32.
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<Vec<FileTensor>> {
    let path = path.as_ref();
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "index") {
            return read_tf_checkpoint(path);
        }
        let mut magic = [0u8; 4];
        let n = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut magic))
            .map_err(|e| AlbertError::io(path, e))?;
        if n == 4 && magic == *b"PK\x03\x04" {
            return read_pytorch(path);
        }
        return read_safetensors(path);
    }
    if tf_index_path(path).is_some() {
        return read_tf_checkpoint(path);
    }
    read_safetensors(path)
}

/// The config and weights of a model directory: `config.json` (Hugging Face) or
/// `albert_config.json` (the original code's, whose `"gelu"` is the tanh approximation, as
/// [`crate::HfConfig`] reads it), and `model.safetensors`, else `pytorch_model.bin`, else the TF1
/// checkpoint `model.ckpt-N` with the largest `N`. A directory with neither is an error naming
/// what is missing.
pub fn model_files(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let missing = |what: &str| AlbertError::CorruptCheckpoint {
        path: dir.to_path_buf(),
        message: format!("not a model directory: no {what}"),
    };
    let config = ["config.json", "albert_config.json"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| missing("config.json (or albert_config.json)"))?;
    let weights = ["model.safetensors", "pytorch_model.bin"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .or_else(|| newest_tf_checkpoint(dir))
        .ok_or_else(|| {
            missing("model.safetensors, pytorch_model.bin or TF checkpoint (model.ckpt-N.index)")
        })?;
    Ok((config, weights))
}

/// The prefix of the `*.ckpt-N.index` checkpoint in `dir` with the largest `N`.
fn newest_tf_checkpoint(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix(".index")?.to_string();
            let step: u64 = name.rsplit_once(".ckpt-")?.1.parse().ok()?;
            Some((step, dir.join(name)))
        })
        .max()
        .map(|(_, prefix)| prefix)
}
