//! `cargo xtask bench --suite serve`: `albert-bench serve` (the inference server under a
//! bounded load on 127.0.0.1, every answer checked) `--repeats` times, and the report
//! `serve.md` / `serve.json` beside the model benchmarks' (throughput and p50/p99 latency per
//! concurrency, medians over the repetitions).

use std::fmt::Write as _;
use std::process::Command;

use albert_testdata::median;
use anyhow::Context;
use serde_json::json;

use super::{BenchArgs, build_bench, f, machine, record_of, write_atomic};

/// Runs the serve suite and writes the report under `args.out`.
pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let exe = build_bench(&[])?;
    let mut runs = Vec::new();
    for rep in 0..args.repeats {
        eprintln!("repetition {}/{}", rep + 1, args.repeats);
        let mut c = Command::new(&exe);
        c.args(["serve", "--requests", "2000", "--concurrency", "1,8,32"]);
        runs.push(record_of(c, "burn serve")?);
    }
    let levels: Vec<u64> = runs[0]["reports"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["concurrency"].as_u64()).collect())
        .unwrap_or_default();
    let stat = |level: usize, key: &str| -> f64 {
        median(
            &runs
                .iter()
                .map(|r| f(&r["reports"][level], key))
                .collect::<Vec<_>>(),
        )
    };
    let m = machine();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# `albert serve` under load\n\n`cargo xtask bench --suite serve --repeats {}` on {} ({}, {} threads); \
         model `{}` ({}), the server and the load generator in one process on 127.0.0.1, \
         {} requests per level, each answer checked against the pipeline's answer for that \
         input alone (no errors, no mismatches). Medians over the repetitions.\n",
        args.repeats,
        m["cpu"].as_str().unwrap_or("?"),
        m["isa"].as_str().unwrap_or("?"),
        m["threads"],
        runs[0]["model"].as_str().unwrap_or("?"),
        runs[0]["scenario"].as_str().unwrap_or("?"),
        2000,
    );
    md.push_str("| concurrency | requests/s | × one at a time | p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|\n");
    let base = stat(0, "throughput");
    for (i, c) in levels.iter().enumerate() {
        let t = stat(i, "throughput");
        let _ = writeln!(
            md,
            "| {c} | {t:.0} | {:.2} | {:.1} | {:.1} |",
            t / base,
            stat(i, "p50_ms"),
            stat(i, "p99_ms")
        );
    }
    println!("{md}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_atomic(&args.out.join("serve.md"), &md)?;
    let json = json!({"machine": m, "command": format!("cargo xtask bench --suite serve --repeats {}", args.repeats), "runs": runs});
    write_atomic(
        &args.out.join("serve.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("wrote {}/serve.{{md,json}}", args.out.display());
    Ok(())
}
