//! `cargo xtask bench`: runs benchmark scenarios, each in its own process (`albert-bench`, and
//! `benches/pytorch_bench.py` with `--compare-pytorch`, interleaved A B B A … so both sides see
//! the same machine state), and writes `bench.json`, `bench.md` and `bench.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};

use crate::{cargo, root};

/// The scenario sets of `--suite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// Tiny config, 32 × 128, inference and training (about a minute).
    Quick,
    /// The targets: tiny 32 × 128 and albert-base 8 × 128, inference and training,
    /// tokenizer and instance-creation throughput, the FMA peak.
    Default,
    /// Default plus the memory grid (albert-base at 4/16 × 128 and 8 × 64/256) and
    /// albert-large 8 × 128.
    Full,
}

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub suite: Suite,
    pub only: Vec<String>,
    pub devices: Vec<String>,
    pub repeats: usize,
    pub compare_pytorch: bool,
    pub python: String,
    pub out: PathBuf,
}

/// A model scenario: `(size, mode, batch, seq)`.
type ModelCase = (&'static str, &'static str, usize, usize);

fn model_cases(suite: Suite) -> Vec<ModelCase> {
    let mut v = vec![("tiny", "infer", 32, 128), ("tiny", "train", 32, 128)];
    if suite == Suite::Quick {
        return v;
    }
    v.extend([("base", "infer", 8, 128), ("base", "train", 8, 128)]);
    if suite == Suite::Full {
        for mode in ["infer", "train"] {
            v.extend([
                ("base", mode, 4, 128),
                ("base", mode, 16, 128),
                ("base", mode, 8, 64),
                ("base", mode, 8, 256),
                ("large", mode, 8, 128),
            ]);
        }
    }
    v
}

fn case_name((size, mode, b, n): ModelCase) -> String {
    format!("{size}-{mode}-{b}x{n}")
}

/// Warm-up and timed iterations per process: enough to settle, few enough for base/large.
fn iterations(size: &str) -> (usize, usize) {
    match size {
        "tiny" => (3, 20),
        "base" => (1, 3),
        _ => (1, 2),
    }
}

/// Runs one process and parses the JSON record on the last line of its stdout.
fn record_of(mut cmd: Command, what: &str) -> anyhow::Result<Value> {
    eprintln!("  {what}");
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("starting {what}"))?;
    ensure!(out.status.success(), "{what} failed ({})", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what} printed no JSON record"))?;
    serde_json::from_str(line).with_context(|| format!("{what}: bad JSON record {line:?}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Per-process records of one (implementation, device, scenario), summarised.
#[derive(Debug, Clone)]
struct Summary {
    implementation: String,
    device: String,
    scenario: String,
    unit: String,
    median_s: f64,
    per_second: f64,
    tokens_per_second: f64,
    gflops: f64,
    peak_rss_mib: f64,
}

fn summarise(records: &[Value]) -> Vec<Summary> {
    let mut groups: BTreeMap<(String, String, String), Vec<&Value>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.get("implementation").is_some()) {
        let key = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        groups
            .entry((key("scenario"), key("implementation"), key("device")))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|((scenario, implementation, device), rs)| {
            let med = median(rs.iter().map(|r| f(r, "median_s")).collect());
            let units = f(rs[0], "units");
            Summary {
                implementation,
                device,
                scenario,
                unit: rs[0]
                    .get("unit")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .into(),
                median_s: med,
                per_second: units / med,
                tokens_per_second: f(rs[0], "tokens") / med,
                gflops: f(rs[0], "flops") / med / 1e9,
                peak_rss_mib: median(rs.iter().map(|r| f(r, "peak_rss_mib")).collect()),
            }
        })
        .collect()
}

/// Median over repetitions of burn's / PyTorch's units per second, pairing the i-th process
/// of each side (they ran back to back).
fn paired_ratio(records: &[Value], scenario: &str, device: &str, key: &str) -> f64 {
    let side = |imp: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| {
                r.get("scenario").and_then(Value::as_str) == Some(scenario)
                    && r.get("implementation").and_then(Value::as_str) == Some(imp)
                    && (imp == "pytorch" || r.get("device").and_then(Value::as_str) == Some(device))
            })
            .map(|r| f(r, key))
            .collect()
    };
    let (ours, theirs) = (side("burn"), side("pytorch"));
    median(
        ours.iter()
            .zip(&theirs)
            .map(|(a, b)| if key == "median_s" { b / a } else { a / b })
            .collect(),
    )
}

fn python_has_torch(python: &str) -> Option<String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import torch, transformers; print(torch.__version__, transformers.__version__)",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".to_string(), |s| s.trim().to_string());
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or("");
    let isa = if flags.contains(" avx512f") {
        "AVX-512"
    } else if flags.contains(" avx2") {
        "AVX2"
    } else {
        "no AVX2"
    };
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |k| k / 1024.0 / 1024.0);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    json!({
        "cpu": cpu,
        "isa": isa,
        "threads": std::thread::available_parallelism().map_or(1, usize::from),
        "memory_gib": (mem_gib * 10.0).round() / 10.0,
        "os": std::env::consts::OS,
        "rustc": rustc,
    })
}

/// Runs the suite and writes the report.
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    ensure!(args.repeats >= 1, "--repeats must be at least 1");
    let torch = if args.compare_pytorch {
        match python_has_torch(&args.python) {
            Some(v) => Some(v),
            None => bail!(
                "--compare-pytorch: `{} -c 'import torch, transformers'` failed; install them \
                 with `{} -m pip install torch transformers` (several GB)",
                args.python,
                args.python
            ),
        }
    } else {
        None
    };
    let mut features = Vec::new();
    for d in &args.devices {
        match d.as_str() {
            "cpu" => {}
            "wgpu" | "cuda" => features.push(d.clone()),
            other => bail!("--devices: unknown device {other:?} (cpu, wgpu, cuda)"),
        }
    }
    let mut build = vec![
        "build",
        "--release",
        "-p",
        "albert-benches",
        "--bin",
        "albert-bench",
    ];
    let joined = features.join(",");
    if !features.is_empty() {
        build.extend(["--features", &joined]);
    }
    cargo(&build, &[])?;
    let exe = root().join("target/release/albert-bench");
    let script = root().join("benches/pytorch_bench.py");

    let mut cases = model_cases(args.suite);
    let mut extras = if args.suite == Suite::Quick {
        vec![]
    } else {
        vec!["tokenize", "instances-128", "peak"]
    };
    // The pipeline scenarios encode with the team fixture's vocabulary.
    let shared = std::env::var_os("ALBERT_SHARED_DIR")
        .map_or_else(|| root().join("../shared"), PathBuf::from);
    if !shared.join("fixtures/tokenizer/spiece.model").exists() {
        eprintln!(
            "note: {} not found: skipping the tokenize and instances-128 scenarios",
            shared.join("fixtures/tokenizer/spiece.model").display()
        );
        extras.retain(|e| *e == "peak");
    }
    if !args.only.is_empty() {
        cases.retain(|c| args.only.contains(&case_name(*c)));
        extras.retain(|e| args.only.iter().any(|o| o == e));
        ensure!(
            !cases.is_empty() || !extras.is_empty(),
            "--only {:?} matches no scenario of --suite {:?}",
            args.only,
            args.suite
        );
    }

    let mut records: Vec<Value> = Vec::new();
    let mut peak: Vec<Value> = Vec::new();
    for rep in 0..args.repeats {
        eprintln!("repetition {}/{}", rep + 1, args.repeats);
        for &case in &cases {
            let (size, mode, b, n) = case;
            let (warmup, iters) = iterations(size);
            let common = [
                "model".to_string(),
                "--size".into(),
                size.into(),
                "--mode".into(),
                mode.into(),
                "--batch".into(),
                b.to_string(),
                "--seq".into(),
                n.to_string(),
                "--warmup".into(),
                warmup.to_string(),
                "--iters".into(),
                iters.to_string(),
            ];
            let mut runs: Vec<(Command, String)> = args
                .devices
                .iter()
                .map(|d| {
                    let mut c = Command::new(&exe);
                    c.args(&common).args(["--device", d]);
                    (c, format!("burn {} on {d}", case_name(case)))
                })
                .collect();
            if torch.is_some() {
                let mut c = Command::new(&args.python);
                c.arg(&script).args(&common);
                let py = (c, format!("pytorch {}", case_name(case)));
                // Alternate who goes first: A B, then B A.
                if rep % 2 == 0 {
                    runs.push(py);
                } else {
                    runs.insert(0, py);
                }
            }
            for (cmd, what) in runs {
                records.push(record_of(cmd, &what)?);
            }
        }
        for extra in &extras {
            let mut c = Command::new(&exe);
            match *extra {
                "tokenize" => c.arg("tokenize"),
                "instances-128" => c.args(["instances", "--seq", "128"]),
                _ => c.arg("peak"),
            };
            let r = record_of(c, &format!("burn {extra}"))?;
            if *extra == "peak" {
                peak.push(r);
            } else {
                records.push(r);
            }
        }
    }

    let peak_gflops = median(peak.iter().map(|p| f(p, "gflops")).collect());
    let peak_isa = peak
        .first()
        .and_then(|p| p.get("isa"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let summaries = summarise(&records);
    let report = Report {
        machine: machine(),
        torch: torch.clone(),
        peak_gflops,
        peak_isa,
        summaries,
        records: &records,
        devices: &args.devices,
        command: command_line(&args),
    };
    let md = report.markdown();
    println!("{md}");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    write_atomic(&args.out.join("bench.md"), &md)?;
    write_atomic(&args.out.join("bench.svg"), &report.svg())?;
    let json = json!({
        "machine": report.machine,
        "pytorch": torch,
        "peak_gflops": peak_gflops,
        "peak": peak,
        "command": report.command,
        "records": records,
        "ratios": report.ratios_json(),
    });
    write_atomic(
        &args.out.join("bench.json"),
        &serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("wrote {}/bench.{{md,json,svg}}", args.out.display());
    Ok(())
}

fn command_line(args: &BenchArgs) -> String {
    let mut s = format!("cargo xtask bench --suite {:?}", args.suite).to_lowercase();
    if !args.only.is_empty() {
        let _ = write!(s, " --only {}", args.only.join(","));
    }
    if args.devices != ["cpu"] {
        let _ = write!(s, " --devices {}", args.devices.join(","));
    }
    let _ = write!(s, " --repeats {}", args.repeats);
    if args.compare_pytorch {
        s.push_str(" --compare-pytorch");
    }
    s
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

struct Report<'a> {
    machine: Value,
    torch: Option<String>,
    peak_gflops: f64,
    peak_isa: String,
    summaries: Vec<Summary>,
    records: &'a [Value],
    devices: &'a [String],
    command: String,
}

/// The targets: (scenario, what, minimum burn/PyTorch ratio).
const TARGETS: [(&str, &str, f64); 5] = [
    ("base-train-8x128", "speed", 1.0),
    ("base-train-8x128", "rss", 0.7),
    ("base-infer-8x128", "speed", 1.2),
    ("tiny-infer-32x128", "speed", 1.0),
    ("tiny-train-32x128", "speed", 1.0),
];

fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1000.0 {
        format!("{:.0}", x)
    } else if x >= 10.0 {
        format!("{:.1}", x)
    } else {
        format!("{:.2}", x)
    }
}

impl Report<'_> {
    fn find(&self, scenario: &str, implementation: &str, device: &str) -> Option<&Summary> {
        self.summaries.iter().find(|s| {
            s.scenario == scenario
                && s.implementation == implementation
                && (implementation == "pytorch" || s.device == device)
        })
    }

    fn model_scenarios(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for s in &self.summaries {
            if s.unit == "sequences" && !v.contains(&s.scenario) {
                v.push(s.scenario.clone());
            }
        }
        v
    }

    fn ratios_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for sc in self.model_scenarios() {
            for d in self.devices {
                if self.find(&sc, "pytorch", d).is_none() || self.find(&sc, "burn", d).is_none() {
                    continue;
                }
                out.insert(
                    format!("{sc}/{d}"),
                    json!({
                        "speed": paired_ratio(self.records, &sc, d, "median_s"),
                        "rss": paired_ratio(self.records, &sc, d, "peak_rss_mib"),
                    }),
                );
            }
        }
        Value::Object(out)
    }

    fn markdown(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(s, "# Benchmark report\n");
        let _ = writeln!(
            s,
            "Machine: {} ({}, {} threads, {} GiB RAM, {}); {}; PyTorch: {}. Measured FMA peak: \
             {} GFLOP/s ({}).\n",
            m["cpu"].as_str().unwrap_or(""),
            m["isa"].as_str().unwrap_or(""),
            m["threads"],
            m["memory_gib"],
            m["os"].as_str().unwrap_or(""),
            m["rustc"].as_str().unwrap_or(""),
            self.torch.as_deref().unwrap_or("not compared"),
            fmt_num(self.peak_gflops),
            self.peak_isa
        );
        let _ = writeln!(s, "Rerun: `{}`\n", self.command);
        let _ = writeln!(
            s,
            "Each cell is the median over processes (one process per scenario and repetition, \
             burn and PyTorch interleaved) of the per-process median iteration time. Ratios are \
             medians of the back-to-back pairs: speed = burn seq/s ÷ PyTorch seq/s, RSS = burn \
             peak RSS ÷ PyTorch peak RSS. GFLOP/s counts matmul FLOPs of the work each side \
             does (HF projects every position onto the vocabulary in training; burn only the \
             masked ones).\n"
        );
        let _ = writeln!(
            s,
            "| scenario | backend | ms/iter | seq/s | tokens/s | GFLOP/s | % of peak | peak RSS MiB | PyTorch ms/iter | PyTorch seq/s | PyTorch RSS MiB | speed ratio | RSS ratio |"
        );
        let _ = writeln!(
            s,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for sc in self.model_scenarios() {
            for d in self.devices {
                let Some(b) = self.find(&sc, "burn", d) else {
                    continue;
                };
                let p = self.find(&sc, "pytorch", d);
                let pct = if d == "cpu" && self.peak_gflops.is_finite() {
                    format!("{:.0}%", 100.0 * b.gflops / self.peak_gflops)
                } else {
                    "–".into()
                };
                let (pm, ps, pr, sr, rr) = match p {
                    Some(p) => (
                        fmt_num(p.median_s * 1e3),
                        fmt_num(p.per_second),
                        fmt_num(p.peak_rss_mib),
                        format!("{:.2}×", paired_ratio(self.records, &sc, d, "median_s")),
                        format!("{:.2}×", paired_ratio(self.records, &sc, d, "peak_rss_mib")),
                    ),
                    None => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
                };
                let _ = writeln!(
                    s,
                    "| {sc} | {d} | {} | {} | {} | {} | {pct} | {} | {pm} | {ps} | {pr} | {sr} | {rr} |",
                    fmt_num(b.median_s * 1e3),
                    fmt_num(b.per_second),
                    fmt_num(b.tokens_per_second),
                    fmt_num(b.gflops),
                    fmt_num(b.peak_rss_mib),
                );
            }
        }
        let pipeline: Vec<&Summary> = self
            .summaries
            .iter()
            .filter(|s| s.unit != "sequences")
            .collect();
        if !pipeline.is_empty() {
            let _ = writeln!(s, "\n| pipeline | per second | ms/iter | peak RSS MiB |");
            let _ = writeln!(s, "|---|---:|---:|---:|");
            for p in &pipeline {
                let _ = writeln!(
                    s,
                    "| {} | {} {} | {} | {} |",
                    p.scenario,
                    fmt_num(p.per_second),
                    p.unit,
                    fmt_num(p.median_s * 1e3),
                    fmt_num(p.peak_rss_mib)
                );
            }
        }
        let _ = writeln!(s, "\n## Targets\n");
        if self.torch.is_none() {
            let _ = writeln!(
                s,
                "The speed and memory targets are ratios to PyTorch: rerun with `--compare-pytorch`.\n"
            );
        }
        let _ = writeln!(s, "| target | measured | met |");
        let _ = writeln!(s, "|---|---:|---|");
        for (sc, what, min) in TARGETS {
            let key = if what == "speed" {
                "median_s"
            } else {
                "peak_rss_mib"
            };
            if self.find(sc, "pytorch", "cpu").is_none() || self.find(sc, "burn", "cpu").is_none() {
                continue;
            }
            let r = paired_ratio(self.records, sc, "cpu", key);
            let (label, met) = if what == "speed" {
                (format!("{sc} speed ≥ {min:.1}× PyTorch"), r >= min)
            } else {
                (format!("{sc} peak RSS ≤ {min:.1}× PyTorch"), r <= min)
            };
            let _ = writeln!(
                s,
                "| {label} | {r:.2}× | {} |",
                if met { "yes" } else { "no" }
            );
        }
        let consumer = self.find("tiny-train-32x128", "burn", "cpu");
        if let (Some(inst), Some(c)) = (
            self.summaries
                .iter()
                .find(|s| s.scenario == "instances-128"),
            consumer,
        ) {
            let r = inst.per_second / c.per_second;
            let _ = writeln!(
                s,
                "| instance creation ≥ 10× the seq/s of the fastest train step (tiny-train-32x128) | {r:.0}× | {} |",
                if r >= 10.0 { "yes" } else { "no" }
            );
        }
        if let Some(t) = self.summaries.iter().find(|s| s.scenario == "tokenize") {
            let _ = writeln!(
                s,
                "| tokenizer ≥ 1 M tokens/s | {} tokens/s | {} |",
                fmt_num(t.per_second),
                if t.per_second >= 1e6 { "yes" } else { "no" }
            );
        }
        s
    }

    /// Two panels: burn ÷ PyTorch speed per scenario (1.0 and the targets marked), and peak
    /// RSS per scenario for both.
    fn svg(&self) -> String {
        let scen: Vec<String> = self
            .model_scenarios()
            .into_iter()
            .filter(|sc| self.find(sc, "burn", "cpu").is_some())
            .collect();
        let row = 26.0;
        let left = 170.0;
        let width = 420.0;
        let panel_h = row * scen.len().max(1) as f64 + 40.0;
        let total_w = 2.0 * (left + width) + 40.0;
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{}\" \
             font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
            panel_h + 30.0
        );
        // Panel 1: speed ratio.
        let ratios: Vec<f64> = scen
            .iter()
            .map(|sc| paired_ratio(self.records, sc, "cpu", "median_s"))
            .collect();
        let max_r = ratios
            .iter()
            .copied()
            .filter(|r| r.is_finite())
            .fold(1.5f64, f64::max)
            * 1.1;
        let x = |r: f64| left + width * r / max_r;
        let _ = writeln!(
            s,
            "<text x=\"{left}\" y=\"16\" font-weight=\"bold\">speed: burn (cpu) ÷ PyTorch, seq/s</text>"
        );
        for (i, (sc, r)) in scen.iter().zip(&ratios).enumerate() {
            let y = 30.0 + row * i as f64;
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{sc}</text>",
                left - 6.0,
                y + 15.0
            );
            if r.is_finite() {
                let color = if *r >= 1.0 { "#2a7f3f" } else { "#c0392b" };
                let _ = writeln!(
                    s,
                    "<rect x=\"{left}\" y=\"{}\" width=\"{:.1}\" height=\"18\" fill=\"{color}\"/>\
                     <text x=\"{:.1}\" y=\"{}\">{r:.2}×</text>",
                    y + 2.0,
                    x(*r) - left,
                    x(*r) + 4.0,
                    y + 15.0
                );
            }
        }
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"26\" y2=\"{1}\" stroke=\"black\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{0:.1}\" y=\"{2}\" text-anchor=\"middle\">1.0× (parity)</text>",
            x(1.0),
            panel_h,
            panel_h + 14.0
        );
        // Panel 2: peak RSS.
        let off = left + width + 40.0 + left;
        let rss: Vec<(f64, f64)> = scen
            .iter()
            .map(|sc| {
                (
                    self.find(sc, "burn", "cpu")
                        .map_or(f64::NAN, |b| b.peak_rss_mib),
                    self.find(sc, "pytorch", "cpu")
                        .map_or(f64::NAN, |p| p.peak_rss_mib),
                )
            })
            .collect();
        let max_m = rss
            .iter()
            .flat_map(|(a, b)| [*a, *b])
            .filter(|v| v.is_finite())
            .fold(1.0f64, f64::max)
            * 1.15;
        let _ = writeln!(
            s,
            "<text x=\"{off}\" y=\"16\" font-weight=\"bold\">peak RSS, MiB: <tspan fill=\"#2c6fbb\">burn</tspan> / <tspan fill=\"#999\">PyTorch</tspan></text>"
        );
        for (i, (sc, (b, p))) in scen.iter().zip(&rss).enumerate() {
            let y = 30.0 + row * i as f64;
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{sc}</text>",
                off - 6.0,
                y + 15.0
            );
            for (j, (v, color)) in [(*b, "#2c6fbb"), (*p, "#999")].into_iter().enumerate() {
                if v.is_finite() {
                    let yy = y + 2.0 + 9.0 * j as f64;
                    let w = width * v / max_m;
                    let _ = writeln!(
                        s,
                        "<rect x=\"{off}\" y=\"{yy}\" width=\"{w:.1}\" height=\"8\" fill=\"{color}\"/>\
                         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{v:.0}</text>",
                        off + w + 3.0,
                        yy + 7.5
                    );
                }
            }
        }
        s.push_str("</svg>\n");
        s
    }
}
