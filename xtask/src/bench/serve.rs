//! `cargo xtask bench --suite serve`: `albert-bench serve` (the inference server under a
//! bounded load on 127.0.0.1, every answer checked) `--repeats` times, and the report
//! `serve.md` / `serve.json` beside the model benchmarks' (throughput and p50/p99 latency per
//! precision and concurrency, medians over the repetitions).

use std::fmt::Write as _;
use std::process::Command;

use albert_testdata::median;
use anyhow::Context;
use serde_json::json;

use super::{BenchArgs, build_bench, command_line, f, machine, record_of, write_atomic};

/// Runs the serve suite and writes the report under `args.out`: per repetition, one
/// `albert-bench serve` process per precision of `--precisions` (interleaved, so that a noisy
/// stretch of the machine hits every precision alike).
pub fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let exe = build_bench(&[])?;
    let precisions = &args.precisions;
    // Per precision, its runs.
    let mut runs: Vec<Vec<serde_json::Value>> = vec![Vec::new(); precisions.len()];
    for rep in 0..args.repeats {
        for (p, precision) in precisions.iter().enumerate() {
            eprintln!("repetition {}/{}, {precision}", rep + 1, args.repeats);
            let mut c = Command::new(&exe);
            c.args(["serve", "--requests", "2000", "--concurrency", "1,8,32"]);
            c.args(["--precision", precision]);
            runs[p].push(record_of(c, "burn serve")?);
        }
    }
    let first = &runs[0][0];
    let levels: Vec<u64> = first["reports"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["concurrency"].as_u64()).collect())
        .unwrap_or_default();
    let stat = |p: usize, level: usize, key: &str| -> f64 {
        median(
            &runs[p]
                .iter()
                .map(|r| f(&r["reports"][level], key))
                .collect::<Vec<_>>(),
        )
    };
    let command = command_line(args);
    let m = machine();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# `albert serve` under load\n\n`{command}` on {} ({}, {} threads); \
         model `{}` ({}), the server and the load generator in one process on 127.0.0.1, \
         {} requests per level, each answer checked against the pipeline's answer for that \
         input alone (no errors, no mismatches; bf16, fp16 and int8 within 1e-2). Medians over the \
         repetitions; with several precisions, each repetition runs them one after the other.\n",
        m["cpu"].as_str().unwrap_or("?"),
        m["isa"].as_str().unwrap_or("?"),
        m["threads"],
        first["model"].as_str().unwrap_or("?"),
        first["scenario"].as_str().unwrap_or("?"),
        2000,
    );
    md.push_str(
        "| precision | concurrency | requests/s | × one at a time | × fp32 | p50 ms | p99 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    let fp32 = precisions.iter().position(|p| p == "fp32");
    for (p, precision) in precisions.iter().enumerate() {
        let base = stat(p, 0, "throughput");
        for (i, c) in levels.iter().enumerate() {
            let t = stat(p, i, "throughput");
            let vs_fp32 = fp32.map_or("–".to_string(), |q| {
                format!("{:.2}", t / stat(q, i, "throughput"))
            });
            let _ = writeln!(
                md,
                "| {precision} | {c} | {t:.0} | {:.2} | {vs_fp32} | {:.1} | {:.1} |",
                t / base,
                stat(p, i, "p50_ms"),
                stat(p, i, "p99_ms")
            );
        }
    }
    println!("{md}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_atomic(&args.out.join("serve.md"), &md)?;
    let all: Vec<serde_json::Value> = runs.into_iter().flatten().collect();
    let json = json!({"machine": m, "command": command, "runs": all});
    write_atomic(
        &args.out.join("serve.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("wrote {}/serve.{{md,json}}", args.out.display());
    Ok(())
}
