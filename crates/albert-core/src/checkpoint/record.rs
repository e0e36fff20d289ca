//! burn's own record format (burnpack, `.bpk`) for training checkpoints: every parameter with
//! its `ParamId`, so optimiser state keyed by id survives a save/load cycle.

use std::path::Path;

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};

use crate::error::{AlbertError, Result};
use crate::io::temporary_sibling;

/// Saves `module` to `path` (burnpack) atomically.
pub fn save_record<M: Module>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let tmp = temporary_sibling(path);
    let mut store = BurnpackStore::from_file(&tmp)
        .overwrite(true)
        .auto_extension(false);
    if let Err(e) = module.save_into(&mut store) {
        let _ = std::fs::remove_file(&tmp);
        return Err(AlbertError::Export(format!("{}: {e}", path.display())));
    }
    std::fs::rename(&tmp, path).map_err(|e| AlbertError::io(path, e))
}

/// Loads a record written by [`save_record`] into `module`; every parameter must be present
/// with its shape.
pub fn load_record<M: Module>(mut module: M, path: impl AsRef<Path>) -> Result<M> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(AlbertError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let mut store = BurnpackStore::from_file(path).auto_extension(false);
    let result = module
        .load_from(&mut store)
        .map_err(|e| AlbertError::CorruptCheckpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let mut report = String::new();
        for e in &result.errors {
            report.push_str(&format!("  {e}\n"));
        }
        for (m, _) in &result.missing {
            report.push_str(&format!("  missing: {m}\n"));
        }
        return Err(AlbertError::CheckpointMismatch {
            report: format!("{}:\n{report}", path.display()),
        });
    }
    Ok(module)
}
