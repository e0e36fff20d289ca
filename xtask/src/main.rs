//! Project automation, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//! No model code lives here: every command drives cargo or the `albert` binary.

use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "albert-rs project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// What CI runs: formatting, clippy, the test suite, and the CUDA type-check.
    Ci,
    /// Type-check the CUDA backend offline (`DOCS_RS=1` skips cubecl's LLVM download).
    CheckCuda,
}

fn cargo(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .envs(env.iter().copied())
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

fn run(task: Task) -> anyhow::Result<()> {
    match task {
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
