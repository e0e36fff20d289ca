//! Training checkpoints under `OUT/checkpoints/`, for pretraining and fine-tuning alike: one
//! directory per step (`step-000123/` with the run's files, e.g. `model.bpk` and `optim.bpk`,
//! and `state.json`), written into a temporary directory and renamed into place; `latest` and
//! `best` are small pointer files replaced atomically. The last `keep_last` checkpoints and the
//! best one are kept. What `state.json` holds besides the digests is the run's own state type.
//!
//! `state.json` is written last and records the SHA-256 of every other file of the checkpoint;
//! [`CheckpointDir::newest_valid`] checks them before a resume, so a checkpoint with flipped
//! bytes, a truncated or missing file, or one whose writing was killed is never trained on: the
//! run falls back to the newest checkpoint that verifies (and says so on stderr), or stops with
//! an error naming what is wrong when none does.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AlbertError, Result};

/// `state.json`: the run's state and the SHA-256 (hex) of every other file of the checkpoint.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile<S> {
    #[serde(flatten)]
    state: S,
    /// File name → SHA-256. Absent in checkpoints written before digests were recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sha256: BTreeMap<String, String>,
}

/// The SHA-256 of a file, as lowercase hex.
fn sha256_of(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AlbertError + '_ {
    move |source| AlbertError::io(path, source)
}

fn bad(path: PathBuf, message: impl Into<String>) -> AlbertError {
    AlbertError::Checkpoint {
        path,
        message: message.into(),
    }
}

/// The checkpoint directory of a run.
///
/// ```
/// use albert_core::checkpoint::CheckpointDir;
///
/// # fn main() -> albert_core::Result<()> {
/// let out = tempfile::tempdir().expect("tmp");
/// let checkpoints = CheckpointDir::new(out.path());
/// for step in [10, 20] {
///     // Any serde state; the run's files are written into the temporary directory.
///     checkpoints.save(step, &serde_json::json!({"step": step}), false, 2, |dir| {
///         std::fs::write(dir.join("model.bpk"), format!("weights {step}")).expect("write");
///         std::fs::write(dir.join("optim.bpk"), "moments").expect("write");
///         Ok::<(), albert_core::AlbertError>(())
///     })?;
/// }
/// // Flip the newest checkpoint's weights: resume falls back to the older one, saying why.
/// std::fs::write(checkpoints.step_dir(20).join("model.bpk"), "weights 21").expect("write");
/// let (dir, state): (_, serde_json::Value) = checkpoints.newest_valid(|warning| eprintln!("{warning}"))?;
/// assert_eq!(dir, checkpoints.step_dir(10));
/// assert_eq!(state["step"], 10);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
    /// Files every checkpoint must record a digest of.
    required: Vec<String>,
}

impl CheckpointDir {
    /// `out/checkpoints`, whose checkpoints must hold `model.bpk` and `optim.bpk`.
    pub fn new(out: &Path) -> Self {
        Self {
            root: out.join("checkpoints"),
            required: vec!["model.bpk".into(), "optim.bpk".into()],
        }
    }

    /// The directory holding the `step-N` checkpoints.
    pub fn root(&self) -> &Path {
        &self.root
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
            return Err(bad(
                p,
                format!("points to {}, which is not a checkpoint", dir.display()),
            ));
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

    /// Reads a checkpoint's state (without verifying its files; see [`Self::verify`]).
    pub fn state<S: DeserializeOwned>(dir: &Path) -> Result<S> {
        Ok(Self::state_file(dir)?.state)
    }

    fn state_file<S: DeserializeOwned>(dir: &Path) -> Result<StateFile<S>> {
        let p = dir.join("state.json");
        let text = std::fs::read_to_string(&p).map_err(io(&p))?;
        serde_json::from_str(&text).map_err(|e| bad(p.clone(), e.to_string()))
    }

    /// Checks a checkpoint against the digests its `state.json` records: every listed file
    /// present with its SHA-256. Returns its state, or what is wrong (naming the file).
    /// Checkpoints written before digests were recorded have none to check; they are accepted.
    pub fn verify<S: DeserializeOwned>(&self, dir: &Path) -> Result<S> {
        let file: StateFile<S> = Self::state_file(dir)?;
        for name in &self.required {
            if !file.sha256.is_empty() && !file.sha256.contains_key(name) {
                return Err(bad(
                    dir.join("state.json"),
                    format!("records no digest of {name}"),
                ));
            }
        }
        for (name, want) in &file.sha256 {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(bad(path, "missing"));
            }
            let got = sha256_of(&path)?;
            if &got != want {
                return Err(bad(
                    path,
                    format!(
                        "corrupt: SHA-256 {got} differs from the {want} recorded when it was written"
                    ),
                ));
            }
        }
        Ok(file.state)
    }

    /// Whether the directory holds any checkpoint (or the pointer to one).
    pub fn exists(&self) -> Result<bool> {
        Ok(self.root.join("latest").exists() || !self.step_dirs()?.is_empty())
    }

    /// The `step-N` directories, oldest first.
    fn step_dirs(&self) -> Result<Vec<PathBuf>> {
        if !self.root.is_dir() {
            return Ok(Vec::new());
        }
        let mut steps: Vec<PathBuf> = std::fs::read_dir(&self.root)
            .map_err(io(&self.root))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
            })
            .collect();
        // By step number (the names' zero padding runs out at a million steps).
        steps.sort_by_key(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let step = name
                .as_deref()
                .and_then(|n| n.strip_prefix("step-"))
                .and_then(|n| n.parse::<u64>().ok());
            (step, name)
        });
        Ok(steps)
    }

    /// The checkpoint to resume from: the newest `step-N` directory that verifies
    /// ([`Self::verify`]), each rejected one reported through `warn` with what is wrong. (The
    /// `latest` pointer is not trusted for this: a run killed between renaming a checkpoint into
    /// place and updating the pointer leaves it one behind.) An error when there is no
    /// checkpoint, or when none verifies (naming each problem).
    pub fn newest_valid<S: DeserializeOwned>(&self, warn: impl Fn(&str)) -> Result<(PathBuf, S)> {
        let candidates: Vec<PathBuf> = self.step_dirs()?.into_iter().rev().collect();
        if candidates.is_empty() {
            return Err(bad(self.root.clone(), "no checkpoint to resume from"));
        }
        let mut problems = Vec::new();
        for (i, dir) in candidates.iter().enumerate() {
            match self.verify(dir) {
                Ok(state) => {
                    if i > 0 {
                        warn(&format!(
                            "resuming from {} instead, the newest checkpoint that verifies",
                            dir.display()
                        ));
                    }
                    return Ok((dir.clone(), state));
                }
                Err(e) => {
                    warn(&format!("skipping checkpoint {}: {e}", dir.display()));
                    problems.push(e.to_string());
                }
            }
        }
        Err(bad(
            self.root.clone(),
            format!(
                "no checkpoint verifies, nothing to resume from:\n  {}",
                problems.join("\n  ")
            ),
        ))
    }

    /// Writes the checkpoint of step `step`: `write_files(tmp_dir)` fills a temporary
    /// directory, `state.json` (`state` and the digests) is written last, then the directory
    /// becomes `step-N/`; `latest` (and `best` when `is_best`) are updated; old checkpoints
    /// beyond `keep_last` are removed (never the best).
    pub fn save<S: Serialize, E: From<AlbertError>>(
        &self,
        step: u64,
        state: &S,
        is_best: bool,
        keep_last: usize,
        write_files: impl FnOnce(&Path) -> std::result::Result<(), E>,
    ) -> std::result::Result<PathBuf, E> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let final_dir = self.step_dir(step);
        let tmp = self
            .root
            .join(format!(".tmp-step-{step:06}-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        if let Err(e) = write_files(&tmp) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let mut sha256 = BTreeMap::new();
        for entry in std::fs::read_dir(&tmp).map_err(io(&tmp))? {
            let path = entry.map_err(io(&tmp))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_file() && name != "state.json" {
                sha256.insert(name, sha256_of(&path)?);
            }
        }
        let text = serde_json::to_string_pretty(&StateFile { state, sha256 })
            .map_err(|e| bad(tmp.join("state.json"), e.to_string()))?;
        crate::io::write_atomic(tmp.join("state.json"), text.as_bytes())?;
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        let name = final_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::io::write_atomic(self.root.join("latest"), name.as_bytes())?;
        if is_best {
            crate::io::write_atomic(self.root.join("best"), name.as_bytes())?;
        }
        self.prune(keep_last.max(1))?;
        Ok(final_dir)
    }

    fn prune(&self, keep_last: usize) -> Result<()> {
        // A pointer to a broken checkpoint protects nothing: prune as if it were absent.
        let best = self.best().ok().flatten();
        let latest = self.latest().ok().flatten();
        let steps = self.step_dirs()?;
        let excess = steps.len().saturating_sub(keep_last);
        for dir in steps.into_iter().take(excess) {
            if Some(&dir) != best.as_ref() && Some(&dir) != latest.as_ref() {
                std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
            }
        }
        Ok(())
    }
}
