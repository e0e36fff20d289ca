//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//! No model code lives here: every command drives cargo or the `albert` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

mod bench;
mod experiments;
mod finetune_table;
mod fuzz;
mod recipe_grid;
mod train;
use experiments::{AblateArgs, ablate_sentence};
use finetune_table::{FinetuneTableArgs, finetune_table};
use recipe_grid::{RecipeGridArgs, recipe_grid};
use train::{TrainArgs, train};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "albert-rs project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Pretrain ALBERT end to end on the built-in corpus (or --corpus): train a SentencePiece
    /// vocabulary, create SOP + n-gram-masked instances, pretrain with LAMB, write metrics,
    /// a chart, checkpoints and the HF-layout model under --out.
    Train(TrainArgs),
    /// The paper's Table 5 in small: pretrain with SOP, NSP and no sentence loss on the same
    /// budget (same corpus, vocabulary, model, steps and seed), score each model on held-out
    /// MLM, SOP and NSP, and write `table.md` under --out.
    AblateSentence(AblateArgs),
    /// Fine-tune a pretrained model directory and the same architecture from random weights
    /// (or in fp32 and bf16, --compare precision) on every task of ../shared/data that `albert
    /// finetune` supports (or --tasks), with one budget and --seeds seeds per cell, and write
    /// `table.md` under --out.
    FinetuneTable(FinetuneTableArgs),
    /// The small-budget pretraining recipe search: short runs on one token budget, each
    /// changing one knob of the base recipe (learning rate, warm-up, depth, width, embedding
    /// size, batch, sequence length and a 64-then-128 schedule, masking rate, vocabulary size),
    /// all scored on the same held-out instances; writes `table.md` under --out.
    RecipeGrid(RecipeGridArgs),
    /// Benchmark inference and training steps (tiny, albert-base, albert-large shapes),
    /// tokenizer and instance-creation throughput; optionally against PyTorch + transformers,
    /// interleaved in the same invocation. Writes bench.md, bench.json and bench.svg.
    Bench(bench::BenchArgs),
    /// Fuzz every parser of untrusted input (fuzz/, cargo-fuzz on a nightly toolchain) for
    /// --seconds per target, corpora seeded from real files.
    Fuzz(fuzz::FuzzArgs),
    /// What CI runs: formatting, clippy, the test suite, and the CUDA type-check.
    Ci,
    /// Type-check the CUDA backend offline (`DOCS_RS=1` skips cubecl's LLVM download).
    CheckCuda,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()?;
    anyhow::ensure!(
        status.success(),
        "cargo {} failed ({status})",
        args.join(" ")
    );
    Ok(())
}

fn check_cuda() -> anyhow::Result<()> {
    cargo(
        &["check", "-p", "albert-runner", "--features", "cuda"],
        &[("DOCS_RS", "1")],
    )
}

fn albert(device: &str, args: &[String]) -> anyhow::Result<()> {
    let mut cmd: Vec<String> = ["run", "--release", "--quiet", "-p", "albert-runner"]
        .map(String::from)
        .to_vec();
    let features = backend_features(device);
    if !features.is_empty() {
        cmd.extend(["--features".to_string(), features.join(",")]);
    }
    cmd.push("--".into());
    cmd.extend(args.iter().cloned());
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    cargo(&refs, &[])
}

/// The `albert-runner` features a `--device` list needs beyond the default CPU backend:
/// `wgpu:0,wgpu:1` → `wgpu`, `remote:ws://…` → `remote`.
fn backend_features(devices: &str) -> Vec<&'static str> {
    let mut features = Vec::new();
    for name in devices.split(',').map(str::trim) {
        let feature = match name.split(':').next() {
            Some("wgpu") => "wgpu",
            Some("cuda") => "cuda",
            Some("remote") => "remote",
            _ => continue,
        };
        if !features.contains(&feature) {
            features.push(feature);
        }
    }
    features
}

/// `p` made absolute against the current directory (the xtask runs cargo from the workspace root).
fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

fn run(task: Task) -> anyhow::Result<()> {
    match task {
        Task::Train(args) => train(args),
        Task::AblateSentence(args) => {
            let tokenizer = args.tokenizer.clone();
            ablate_sentence(args.train_args(), tokenizer.as_deref())
        }
        Task::FinetuneTable(args) => finetune_table(&args),
        Task::RecipeGrid(args) => recipe_grid(&args),
        Task::Ci => {
            cargo(&["fmt", "--all", "--", "--check"], &[])?;
            cargo(
                &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
                &[],
            )?;
            cargo(&["test", "--workspace"], &[])?;
            check_cuda()
        }
        Task::CheckCuda => check_cuda(),
        Task::Bench(args) => bench::bench(args),
        Task::Fuzz(args) => fuzz::fuzz(&args),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::backend_features;

    #[test]
    fn device_lists_pick_the_runner_features() {
        assert!(backend_features("cpu").is_empty());
        assert!(backend_features("cpu,cpu").is_empty());
        assert_eq!(backend_features("wgpu"), ["wgpu"]);
        assert_eq!(backend_features("wgpu:0, wgpu:1"), ["wgpu"]);
        assert_eq!(backend_features("cuda:0,cuda:1"), ["cuda"]);
        assert_eq!(
            backend_features("remote:ws://a:3000,remote:ws://b:3000#1,wgpu"),
            ["remote", "wgpu"]
        );
    }
}
