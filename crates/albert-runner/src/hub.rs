//! `--model ORG/NAME[@REVISION]`: model directories from the Hugging Face hub, through the
//! `hf-hub` crate into the standard cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`), so transformers and this tool share downloads. `HF_ENDPOINT`
//! (another hub, or a mirror), `HF_TOKEN` (private and gated models) and `HF_HUB_OFFLINE=1`
//! (the cache only, no request) are honoured as transformers honours them. A local path that
//! exists always wins.

use std::path::{Path, PathBuf};

#[cfg(feature = "hub")]
use hf_hub::{HFClient, HFError};

use crate::error::{Result, RunnerError};

/// A hub model name: `ORG/NAME` (or `NAME`) and an optional `@REVISION` (branch, tag or commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubName {
    /// The owner (empty for the short form).
    pub owner: String,
    /// The repository.
    pub name: String,
    /// The revision (default `main`).
    pub revision: Option<String>,
}

impl HubName {
    /// Parses `ORG/NAME[@REVISION]`; `None` when `spec` cannot be a hub name (an absolute or
    /// `./` path, more than one `/`, characters the hub does not allow).
    pub fn parse(spec: &str) -> Option<Self> {
        let (id, revision) = match spec.split_once('@') {
            Some((id, rev)) if !rev.is_empty() => (id, Some(rev.to_string())),
            Some(_) => return None,
            None => (spec, None),
        };
        let ok = |part: &str| {
            !part.is_empty()
                && !part.starts_with(['.', '-'])
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        let (owner, name) = match id.split_once('/') {
            Some((owner, name)) if ok(owner) && ok(name) => (owner, name),
            None if ok(id) => ("", id),
            _ => return None,
        };
        Some(Self {
            owner: owner.into(),
            name: name.into(),
            revision,
        })
    }

    /// `ORG/NAME` as the hub writes it.
    pub fn repo_id(&self) -> String {
        if self.owner.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.owner, self.name)
        }
    }
}

/// Whether `HF_HUB_OFFLINE` asks for the cache only (`1`, `true`, `yes`, `on`).
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

#[cfg(feature = "hub")]
/// The files of a model directory on the hub, each list in order of preference: the first of
/// each group that exists is fetched (`required` groups must have one).
const FILES: &[(&[&str], bool)] = &[
    (&["config.json", "albert_config.json"], true),
    (&["model.safetensors", "pytorch_model.bin"], true),
    (&["spiece.model"], false),
    (&["tokenizer.json"], false),
    (&["tokenizer_config.json"], false),
];

/// `model` as a local directory: itself when it exists, else the hub model it names, fetched
/// (or, offline, found) in the cache; its snapshot directory is returned.
pub fn resolve_model(model: &Path) -> Result<PathBuf> {
    if model.exists() {
        return Ok(model.to_path_buf());
    }
    let Some(name) = model.to_str().and_then(HubName::parse) else {
        return Err(RunnerError::BadFile {
            path: model.to_path_buf(),
            message: "no such model directory (nor a hub name ORG/NAME[@REVISION])".into(),
        });
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| hub_error(&name, format!("cannot start the download runtime: {e}")))?;
    runtime.block_on(fetch(&name, offline()))
}

fn hub_error(name: &HubName, message: impl std::fmt::Display) -> RunnerError {
    RunnerError::Usage(format!("--model {}: {message}", name.repo_id()))
}

#[cfg(not(feature = "hub"))]
async fn fetch(name: &HubName, _offline: bool) -> Result<PathBuf> {
    Err(crate::device::not_built(
        &format!("--model {}", name.repo_id()),
        "hub",
    ))
}

#[cfg(feature = "hub")]
async fn fetch(name: &HubName, offline_requested: bool) -> Result<PathBuf> {
    let client = HFClient::new().map_err(|e| hub_error(name, e))?;
    let repo = client.model(name.owner.clone(), name.name.clone());
    let endpoint = client.endpoint().to_string();
    // Why only the cache is used, if it is: HF_HUB_OFFLINE, or the hub did not answer.
    let mut cache_only: Option<String> = offline_requested
        .then(|| "HF_HUB_OFFLINE is set; run once online to download it".to_string());
    if cache_only.is_none() {
        // An unknown repository or revision is one clear error, before any file is tried.
        let info = repo
            .info()
            .maybe_revision(name.revision.clone())
            .send()
            .await;
        match info {
            Ok(_) => {}
            Err(HFError::RepoNotFound { .. }) => {
                return Err(hub_error(
                    name,
                    format!("no such model on {endpoint} (or it is private: set HF_TOKEN)"),
                ));
            }
            Err(HFError::RevisionNotFound { revision, .. }) => {
                return Err(hub_error(
                    name,
                    format!("no revision {revision:?} on {endpoint}"),
                ));
            }
            Err(e) if transient(&e) => {
                // As transformers does: an unreachable hub falls back to the cache.
                eprintln!(
                    "note: {endpoint} did not answer ({e}); using the cached copy of {}",
                    name.repo_id()
                );
                cache_only = Some(format!("and {endpoint} did not answer: {e}"));
            }
            Err(e) => return Err(hub_error(name, format!("{endpoint}: {e}"))),
        }
    }
    let offline = cache_only.is_some();
    let mut snapshot: Option<PathBuf> = None;
    let mut have_tokenizer = false;
    for (candidates, required) in FILES {
        let mut found = None;
        for file in *candidates {
            let got = repo
                .download_file()
                .filename(*file)
                .maybe_revision(name.revision.clone())
                .local_files_only(offline)
                .send()
                .await;
            match got {
                Ok(path) => {
                    found = Some(path);
                    break;
                }
                Err(HFError::EntryNotFound { .. } | HFError::LocalEntryNotFound { .. }) => {}
                Err(e) => return Err(hub_error(name, format!("{file}: {e}"))),
            }
        }
        match found {
            Some(path) => {
                if candidates.contains(&"spiece.model") || candidates.contains(&"tokenizer.json") {
                    have_tokenizer = true;
                }
                if snapshot.is_none() {
                    snapshot = path.parent().map(Path::to_path_buf);
                }
            }
            None if *required => {
                let where_ = match &cache_only {
                    Some(why) => format!("in the cache ({why})"),
                    None => format!("on {endpoint}"),
                };
                return Err(hub_error(
                    name,
                    format!("none of {} {where_}", candidates.join(", ")),
                ));
            }
            None => {}
        }
    }
    if !have_tokenizer {
        return Err(hub_error(
            name,
            "no spiece.model or tokenizer.json in the repository",
        ));
    }
    snapshot.ok_or_else(|| hub_error(name, "nothing downloaded"))
}

/// Whether the hub did not answer (no connection, a timeout, a 5xx): then the cache is used,
/// as transformers does.
#[cfg(feature = "hub")]
fn transient(e: &HFError) -> bool {
    match e {
        HFError::Request { source, .. } => source.is_timeout() || source.is_connect(),
        HFError::Http { context } => context.status.is_server_error(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::HubName;

    #[test]
    fn hub_names_parse() {
        let n = HubName::parse("albert/albert-base-v2@v1.0").expect("name");
        assert_eq!(
            (n.owner.as_str(), n.name.as_str(), n.revision.as_deref()),
            ("albert", "albert-base-v2", Some("v1.0"))
        );
        assert_eq!(n.repo_id(), "albert/albert-base-v2");
        assert_eq!(
            HubName::parse("albert-base-v2").map(|n| n.repo_id()),
            Some("albert-base-v2".into())
        );
        for not in [
            "/abs/path",
            "./dir",
            "a/b/c",
            "a/",
            "x@",
            "../up",
            "a b/c",
            "",
        ] {
            assert_eq!(HubName::parse(not), None, "{not}");
        }
    }
}
