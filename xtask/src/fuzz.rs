//! `cargo xtask fuzz`: builds `fuzz/` (cargo-fuzz, libFuzzer; needs a nightly toolchain and
//! `cargo install cargo-fuzz`), seeds each target's corpus from real files (the shipped model,
//! `../shared`'s fixtures and task files, this repository's configs) and runs every target for
//! `--seconds`; a crash stops with the reproducing input's path.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};
use clap::Args;

use crate::root;

/// `cargo xtask fuzz`.
#[derive(Debug, Clone, Args)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 600)]
    pub seconds: u64,
    /// Only these targets (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<String>,
    /// The nightly toolchain to use.
    #[arg(long, default_value = "nightly")]
    pub toolchain: String,
    /// Do not fuzz: only minimise the existing corpora into fuzz/regressions/.
    #[arg(long)]
    pub minimize_only: bool,
}

/// Regression inputs larger than this are not committed (the corpus keeps them).
const MAX_REGRESSION_BYTES: u64 = 16 * 1024;
/// At most this many regression inputs per target (the smallest of the minimised corpus).
const MAX_REGRESSION_FILES: usize = 120;

/// Every target with its largest input (libFuzzer's `-max_len`).
const TARGETS: &[(&str, usize)] = &[
    ("serve_request", 4096),
    ("config_json", 4096),
    ("pretrain_toml", 4096),
    ("task_files", 8192),
    ("tokenize_text", 4096),
    ("safetensors", 400_000),
    ("pytorch_bin", 400_000),
    ("tf_checkpoint", 400_000),
    ("spiece_model", 400_000),
    ("tokenizer_json", 1 << 20),
];

/// Runs the fuzz targets.
pub fn fuzz(args: &FuzzArgs) -> anyhow::Result<()> {
    let toolchain = format!("+{}", args.toolchain);
    let fuzz_dir = root().join("fuzz");
    let selected: Vec<(&str, usize)> = TARGETS
        .iter()
        .copied()
        .filter(|(t, _)| args.targets.is_empty() || args.targets.iter().any(|x| x == t))
        .collect();
    ensure!(
        !selected.is_empty(),
        "--targets {:?}: no such target (known: {})",
        args.targets,
        TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
    );
    let status = Command::new("cargo")
        .args([toolchain.as_str(), "fuzz", "build", "-O"])
        .current_dir(&fuzz_dir)
        .status()
        .context("running cargo fuzz (install it with `cargo +nightly install cargo-fuzz`)")?;
    ensure!(
        status.success(),
        "cargo {toolchain} fuzz build failed ({status}); it needs a nightly toolchain \
         (`rustup toolchain install nightly`) and cargo-fuzz (`cargo +nightly install cargo-fuzz`)"
    );
    let mut summary = Vec::new();
    for (target, max_len) in selected {
        let corpus = fuzz_dir.join("corpus").join(target);
        std::fs::create_dir_all(&corpus)
            .with_context(|| format!("creating {}", corpus.display()))?;
        if args.minimize_only {
            save_regressions(&toolchain, &fuzz_dir, target)?;
            continue;
        }
        let seeded = seed(target, &corpus)?;
        eprintln!("== {target}: {seeded} seed inputs, {} s", args.seconds);
        let out = Command::new("cargo")
            .args([toolchain.as_str(), "fuzz", "run", "-O", target])
            .arg(&corpus)
            .args([
                "--".to_string(),
                format!("-max_total_time={}", args.seconds),
                format!("-max_len={max_len}"),
                "-rss_limit_mb=4096".into(),
                "-timeout=20".into(),
                "-print_final_stats=1".into(),
            ])
            .current_dir(&fuzz_dir)
            .stderr(std::process::Stdio::piped())
            .output()
            .with_context(|| format!("running fuzz target {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let runs = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .map_or("?".to_string(), |s| s.trim().to_string());
        if !out.status.success() {
            eprintln!("{log}");
            bail!(
                "fuzz target {target} failed after {runs} runs: the input is under fuzz/artifacts/{target}/ \
                 (reproduce with `cargo {toolchain} fuzz run {target} fuzz/artifacts/{target}/<file>`)"
            );
        }
        eprintln!("   {target}: {runs} runs, no failure");
        let kept = save_regressions(&toolchain, &fuzz_dir, target)?;
        summary.push(format!(
            "| `{target}` | {} | {runs} | {kept} |",
            args.seconds
        ));
    }
    if args.minimize_only {
        return Ok(());
    }
    println!("| target | seconds | runs | regression inputs |\n|---|---:|---:|---:|");
    for line in summary {
        println!("{line}");
    }
    Ok(())
}

/// Minimises the corpus of `target` (`cargo fuzz cmin`: the smallest set with the same
/// coverage) and replaces `fuzz/regressions/<target>/` with its inputs of at most
/// [`MAX_REGRESSION_BYTES`], which `cargo test` replays (albert-runner's `fuzz_corpus` test).
/// Returns how many were kept.
fn save_regressions(toolchain: &str, fuzz_dir: &Path, target: &str) -> anyhow::Result<usize> {
    let status = Command::new("cargo")
        .args([toolchain, "fuzz", "cmin", "-O", target])
        .current_dir(fuzz_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .with_context(|| format!("cargo fuzz cmin {target}"))?;
    ensure!(
        status.success(),
        "cargo fuzz cmin {target} failed ({status})"
    );
    let corpus = fuzz_dir.join("corpus").join(target);
    let out = fuzz_dir.join("regressions").join(target);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // The minimised corpus replaces the previous one; the inputs that once crashed
    // (`crash-*`, committed by hand with their fix) stay.
    for entry in std::fs::read_dir(&out).with_context(|| format!("reading {}", out.display()))? {
        let path = entry?.path();
        let crash = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("crash-"));
        if path.is_file() && !crash {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    let mut inputs = Vec::new();
    for entry in
        std::fs::read_dir(&corpus).with_context(|| format!("reading {}", corpus.display()))?
    {
        let path = entry?.path();
        if let Ok(m) = path.metadata()
            && m.is_file()
            && m.len() <= MAX_REGRESSION_BYTES
        {
            inputs.push((m.len(), path));
        }
    }
    inputs.sort();
    inputs.truncate(MAX_REGRESSION_FILES);
    let kept = inputs.len();
    for (_, path) in inputs {
        let name = path.file_name().context("a corpus file name")?;
        std::fs::copy(&path, out.join(name))
            .with_context(|| format!("copying {}", path.display()))?;
    }
    eprintln!("   {target}: {kept} inputs in {}", out.display());
    Ok(kept)
}

/// Copies the seed inputs of `target` into an empty `corpus`; returns how many files it holds.
fn seed(target: &str, corpus: &Path) -> anyhow::Result<usize> {
    let count = || std::fs::read_dir(corpus).map_or(0, Iterator::count);
    if count() > 0 {
        return Ok(count());
    }
    let shared = std::env::var_os("ALBERT_SHARED_DIR")
        .map_or_else(|| root().join("../shared"), PathBuf::from);
    let model = root().join("models/albert-mini-mixed");
    let fixtures = shared.join("fixtures/hf-albert");
    let data = shared.join("data");
    let read = |p: &Path| std::fs::read(p).ok();
    let head = |p: &Path, n: usize| {
        read(p).map(|mut b| {
            b.truncate(n);
            b
        })
    };
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    match target {
        "serve_request" => {
            for (route, body) in [
                (
                    0u8,
                    r#"{"inputs": ["a film", ["text", "pair"], {"text": "t", "text_pair": "p"}], "top_k": 2}"#,
                ),
                (1, r#"{"inputs": "It was a [MASK] day.", "top_k": 3}"#),
                (2, r#"{"question": "Who?", "context": "Ann went home."}"#),
                (
                    2,
                    r#"{"inputs": [{"question": "Who?", "context": "Ann went home."}]}"#,
                ),
                (
                    3,
                    r#"{"inputs": ["a", "b"], "pooling": "cls", "normalize": true}"#,
                ),
            ] {
                let mut b = vec![route];
                b.extend_from_slice(body.as_bytes());
                seeds.push(b);
            }
        }
        "config_json" => {
            seeds.extend(read(&model.join("config.json")));
            seeds.extend(read(&fixtures.join("tiny/seqcls.config.json")));
            seeds.extend(read(&fixtures.join("formats/tiny-tf/albert_config.json")));
        }
        "pretrain_toml" => {
            for name in ["ship-mini-config.toml", "learn-config.toml"] {
                seeds.extend(read(&root().join("docs/pretraining").join(name)));
            }
        }
        "task_files" => {
            for (tag, path) in [
                (0u8, data.join("glue-style/sst2_vader_movie/dev.tsv")),
                (1, data.join("squad-style/fixtures/squad.json")),
                (2, data.join("race-style/quarel-2way.json")),
                (3, data.join("token-tagging/brown_pos/dev.conll")),
            ] {
                if let Some(body) = head(&path, 6000) {
                    let mut b = vec![tag];
                    b.extend(body);
                    seeds.push(b);
                }
            }
        }
        "tokenize_text" => {
            for text in [
                "Emma Woodhouse, handsome, clever, and rich.",
                "naïve café — “quotes” 東京 [MASK] [SEP] <unk>\0and a pair",
                "   multiple   spaces\tand\ttabs\n",
            ] {
                seeds.push(text.as_bytes().to_vec());
            }
        }
        "safetensors" => seeds.extend(read(&fixtures.join("tiny/model.safetensors"))),
        "pytorch_bin" => seeds.extend(read(&fixtures.join("formats/tiny-bin/pytorch_model.bin"))),
        "tf_checkpoint" => {
            let tf = fixtures.join("formats/tiny-tf");
            if let (Some(index), Some(shard)) = (
                read(&tf.join("model.ckpt-0.index")),
                read(&tf.join("model.ckpt-0.data-00000-of-00001")),
            ) && index.len() < 1 << 16
            {
                let mut b = vec![(index.len() >> 8) as u8, index.len() as u8];
                b.extend(index);
                b.extend(shard);
                seeds.push(b);
            }
        }
        "spiece_model" => seeds.extend(read(&model.join("spiece.model"))),
        "tokenizer_json" => seeds.extend(read(&model.join("tokenizer.json"))),
        _ => {}
    }
    for (i, s) in seeds.iter().enumerate() {
        let p = corpus.join(format!("seed-{i}"));
        std::fs::write(&p, s).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(count())
}
