//! Training checkpoints under `OUT/checkpoints/`: one directory per step (`step-000123/` with
//! `model.bpk`, `optim.bpk` and `state.json`), written into a temporary directory and renamed
//! into place; `latest` and `best` are small pointer files replaced atomically. The last
//! `keep_last` checkpoints and the best one (by held-out masked-LM accuracy) are kept.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{PretrainError, Result};

/// Where the run stands: everything besides the model and optimiser needed to continue exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimisation steps done.
    pub step: u64,
    /// Data epoch in progress.
    pub epoch: u64,
    /// Instances of that epoch already used.
    pub offset: usize,
    /// Best held-out masked-LM accuracy so far, and its step.
    pub best: Option<(f64, u64)>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PretrainError + '_ {
    move |source| PretrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The checkpoint directory of a run.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
}

impl CheckpointDir {
    /// `out/checkpoints`.
    pub fn new(out: &Path) -> Self {
        Self {
            root: out.join("checkpoints"),
        }
    }

    /// The directory of step `step`.
    pub fn step_dir(&self, step: u64) -> PathBuf {
        self.root.join(format!("step-{step:06}"))
    }

    fn read_pointer(&self, name: &str) -> Result<Option<PathBuf>> {
        let p = self.root.join(name);
        if !p.exists() {
            return Ok(None);
        }
        let target = std::fs::read_to_string(&p).map_err(io(&p))?;
        let dir = self.root.join(target.trim());
        if !dir.join("state.json").is_file() {
            return Err(PretrainError::Checkpoint {
                path: p,
                message: format!("points to {}, which is not a checkpoint", dir.display()),
            });
        }
        Ok(Some(dir))
    }

    /// The latest checkpoint, if any.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        self.read_pointer("latest")
    }

    /// The best checkpoint, if any.
    pub fn best(&self) -> Result<Option<PathBuf>> {
        self.read_pointer("best")
    }

    /// Reads a checkpoint's state.
    pub fn state(dir: &Path) -> Result<TrainState> {
        let p = dir.join("state.json");
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|e| PretrainError::Checkpoint {
            path: p.clone(),
            message: e.to_string(),
        })
    }

    /// Writes a checkpoint: `write_files(tmp_dir)` fills a temporary directory, which then
    /// becomes `step-N/`; `latest` (and `best` when `is_best`) are updated; old checkpoints
    /// beyond `keep_last` are removed (never the best).
    pub fn save(
        &self,
        state: &TrainState,
        is_best: bool,
        keep_last: usize,
        write_files: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let final_dir = self.step_dir(state.step);
        let tmp = self.root.join(format!(
            ".tmp-step-{:06}-{}",
            state.step,
            std::process::id()
        ));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        write_files(&tmp)?;
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| PretrainError::Config(e.to_string()))?;
        albert_core::io::write_atomic(tmp.join("state.json"), text.as_bytes())?;
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        let name = final_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        albert_core::io::write_atomic(self.root.join("latest"), name.as_bytes())?;
        if is_best {
            albert_core::io::write_atomic(self.root.join("best"), name.as_bytes())?;
        }
        self.prune(keep_last.max(1))?;
        Ok(final_dir)
    }

    fn prune(&self, keep_last: usize) -> Result<()> {
        let best = self.best()?;
        let latest = self.latest()?;
        let mut steps: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map_err(io(&self.root))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
            })
            .collect();
        steps.sort();
        let excess = steps.len().saturating_sub(keep_last);
        for dir in steps.into_iter().take(excess) {
            if Some(&dir) != best.as_ref() && Some(&dir) != latest.as_ref() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            }
        }
        Ok(())
    }
}
