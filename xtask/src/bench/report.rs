//! The benchmark report: per-scenario summaries, paired burn/PyTorch ratios, the targets,
//! and the markdown and SVG renderings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use albert_testdata::median;

use super::f;

/// Per-process records of one (implementation, device, scenario), summarised.
#[derive(Debug, Clone)]
pub(super) struct Summary {
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

pub(super) fn summarise(records: &[Value]) -> Vec<Summary> {
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
            let med = median(&rs.iter().map(|r| f(r, "median_s")).collect::<Vec<_>>());
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
                peak_rss_mib: median(&rs.iter().map(|r| f(r, "peak_rss_mib")).collect::<Vec<_>>()),
            }
        })
        .collect()
}

/// Median over repetitions of burn's / PyTorch's units per second (float32 both), pairing the
/// i-th process of each side (they ran back to back).
fn paired_ratio(records: &[Value], scenario: &str, device: &str, key: &str) -> f64 {
    paired(records, scenario, device, key, ("burn", "pytorch"))
}

/// [`paired_ratio`] of any two implementations (`burn-bf16` against `pytorch-bf16`, or
/// against `burn`): `ours` on `device`; a PyTorch side on whatever device it ran.
fn paired(
    records: &[Value],
    scenario: &str,
    device: &str,
    key: &str,
    (ours, theirs): (&str, &str),
) -> f64 {
    let side = |imp: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| {
                r.get("scenario").and_then(Value::as_str) == Some(scenario)
                    && r.get("implementation").and_then(Value::as_str) == Some(imp)
                    && (imp.starts_with("pytorch")
                        || r.get("device").and_then(Value::as_str) == Some(device))
            })
            .map(|r| f(r, key))
            .collect()
    };
    let (ours, theirs) = (side(ours), side(theirs));
    let ratios: Vec<f64> = ours
        .iter()
        .zip(&theirs)
        .map(|(a, b)| if key == "median_s" { b / a } else { a / b })
        .collect();
    median(&ratios)
}

/// Everything the report renders.
pub(super) struct Report<'a> {
    pub machine: Value,
    pub torch: Option<String>,
    pub peak_gflops: f64,
    pub peak_isa: String,
    /// The bf16 peak (`albert-bench peak --precision bf16`) and its instruction set, when bf16
    /// was measured.
    pub bf16_peak: Option<(f64, String)>,
    /// The int8 peak in GOPS (`albert-bench peak --precision int8`) and its instruction, when
    /// int8 was measured on a CPU that has one.
    pub int8_peak: Option<(f64, String)>,
    pub summaries: Vec<Summary>,
    pub records: &'a [Value],
    pub devices: &'a [String],
    pub command: String,
}

/// The targets: (scenario, what, minimum burn/PyTorch ratio).
const TARGETS: [(&str, &str, f64); 5] = [
    ("base-train-8x128", "speed", 1.0),
    ("base-train-8x128", "rss", 0.7),
    ("base-infer-8x128", "speed", 1.2),
    ("tiny-infer-32x128", "speed", 1.0),
    ("tiny-train-32x128", "speed", 1.0),
];

/// Issue 14's bf16 targets: (scenario, PyTorch mode, minimum speed ratio of our bf16 to it).
const BF16_TARGETS: [(&str, &str, f64); 5] = [
    ("base-infer-8x128", "pytorch-bf16", 1.3),
    ("base-infer-8x128", "pytorch-int8", 1.0),
    ("base-train-8x128", "pytorch-bf16", 1.2),
    ("tiny-infer-32x128", "pytorch-bf16", 1.2),
    ("tiny-train-32x128", "pytorch-bf16", 1.2),
];

/// Our int8 against PyTorch's: (scenario, minimum speed ratio). Not one of issue 14's targets
/// (those are for bf16), the comparison a user choosing a CPU inference mode makes.
const INT8_TARGETS: [(&str, f64); 2] = [("base-infer-8x128", 1.0), ("tiny-infer-32x128", 1.0)];

/// On a CPU without bf16 units, or with bf16 units slower than its FMAs, our bf16 may be at
/// most 10% slower than our float32.
const NO_BF16_UNITS_MIN: f64 = 1.0 / 1.1;

/// The report's name for a PyTorch mode.
fn pytorch_mode(imp: &str) -> &'static str {
    match imp {
        "pytorch-bf16" => "PyTorch bf16 autocast",
        "pytorch-int8" => "PyTorch dynamic int8",
        _ => "PyTorch",
    }
}

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

    pub(super) fn ratios_json(&self) -> Value {
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
            for d in self.devices {
                if self.find(&sc, "burn-bf16", d).is_none() {
                    continue;
                }
                let mut speed = serde_json::Map::new();
                for theirs in ["burn", "pytorch-bf16", "pytorch-int8"] {
                    if self.find(&sc, theirs, d).is_some() {
                        let r = paired(self.records, &sc, d, "median_s", ("burn-bf16", theirs));
                        speed.insert(theirs.into(), json!(r));
                    }
                }
                out.insert(format!("{sc}/{d}/bf16"), json!({ "speed_vs": speed }));
            }
            for d in self.devices {
                if self.find(&sc, "burn-int8", d).is_none() {
                    continue;
                }
                let mut speed = serde_json::Map::new();
                for theirs in ["burn", "pytorch-int8"] {
                    if self.find(&sc, theirs, d).is_some() {
                        let r = paired(self.records, &sc, d, "median_s", ("burn-int8", theirs));
                        speed.insert(theirs.into(), json!(r));
                    }
                }
                out.insert(format!("{sc}/{d}/int8"), json!({ "speed_vs": speed }));
            }
        }
        Value::Object(out)
    }

    pub(super) fn markdown(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(s, "# Benchmark report\n");
        let _ = writeln!(
            s,
            "Machine: {} ({}, {} threads, {} GiB RAM, {}); {}; PyTorch: {}. Measured FMA peak: \
             {} GFLOP/s ({}){}{}.\n",
            m["cpu"].as_str().unwrap_or(""),
            m["isa"].as_str().unwrap_or(""),
            m["threads"],
            m["memory_gib"],
            m["os"].as_str().unwrap_or(""),
            m["rustc"].as_str().unwrap_or(""),
            self.torch.as_deref().unwrap_or("not compared"),
            fmt_num(self.peak_gflops),
            self.peak_isa,
            match &self.bf16_peak {
                Some((g, isa)) => format!("; bf16 peak: {} GFLOP/s ({isa})", fmt_num(*g)),
                None => String::new(),
            },
            match &self.int8_peak {
                Some((g, isa)) => format!("; int8 peak: {} GOPS ({isa})", fmt_num(*g)),
                None => String::new(),
            }
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
        // A bf16 product can always run on the f32 units (its operands are exact in f32), so its
        // attainable peak is the faster of the two: on a CPU whose bf16 dot products are slower
        // than its FMAs, the default bf16 path is the f32 gemm. Unknown (NaN) unless both
        // peaks were measured.
        let bf16_peak = self.bf16_peak.as_ref().map_or(f64::NAN, |p| {
            if self.peak_gflops.is_finite() {
                p.0.max(self.peak_gflops)
            } else {
                f64::NAN
            }
        });
        // int8 "% of peak": integer operations against the byte dot-product peak (GOPS).
        let int8_peak = self.int8_peak.as_ref().map_or(f64::NAN, |p| p.0);
        let precisions = [
            ("burn", "pytorch", self.peak_gflops, ""),
            ("burn-bf16", "pytorch-bf16", bf16_peak, ", bf16"),
            ("burn-int8", "pytorch-int8", int8_peak, ", int8"),
        ];
        for sc in self.model_scenarios() {
            for d in self.devices {
                for (ours, theirs, peak, suffix) in precisions {
                    let Some(b) = self.find(&sc, ours, d) else {
                        continue;
                    };
                    let p = self.find(&sc, theirs, d);
                    let pct = if d == "cpu" && peak.is_finite() {
                        format!("{:.0}%", 100.0 * b.gflops / peak)
                    } else {
                        "–".into()
                    };
                    let pair = (ours, theirs);
                    let (pm, ps, pr, sr, rr) = match p {
                        Some(p) => (
                            fmt_num(p.median_s * 1e3),
                            fmt_num(p.per_second),
                            fmt_num(p.peak_rss_mib),
                            format!("{:.2}×", paired(self.records, &sc, d, "median_s", pair)),
                            format!("{:.2}×", paired(self.records, &sc, d, "peak_rss_mib", pair)),
                        ),
                        None => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
                    };
                    let _ = writeln!(
                        s,
                        "| {sc} | {d}{suffix} | {} | {} | {} | {} | {pct} | {} | {pm} | {ps} | {pr} | {sr} | {rr} |",
                        fmt_num(b.median_s * 1e3),
                        fmt_num(b.per_second),
                        fmt_num(b.tokens_per_second),
                        fmt_num(b.gflops),
                        fmt_num(b.peak_rss_mib),
                    );
                }
            }
        }
        self.bf16_table(&mut s);
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
        for (sc, theirs, min) in BF16_TARGETS {
            if self.find(sc, "burn-bf16", "cpu").is_none() || self.find(sc, theirs, "cpu").is_none()
            {
                continue;
            }
            let r = paired(self.records, sc, "cpu", "median_s", ("burn-bf16", theirs));
            let _ = writeln!(
                s,
                "| {sc} bf16 speed ≥ {min:.1}× {} | {r:.2}× | {} |",
                pytorch_mode(theirs),
                if r >= min { "yes" } else { "no" }
            );
        }
        for (sc, min) in INT8_TARGETS {
            if self.find(sc, "burn-int8", "cpu").is_none()
                || self.find(sc, "pytorch-int8", "cpu").is_none()
            {
                continue;
            }
            let r = paired(
                self.records,
                sc,
                "cpu",
                "median_s",
                ("burn-int8", "pytorch-int8"),
            );
            let _ = writeln!(
                s,
                "| {sc} int8 speed ≥ {min:.1}× PyTorch dynamic int8 (not an issue target) | {r:.2}× | {} |",
                if r >= min { "yes" } else { "no" }
            );
        }
        if let Some((gflops, isa)) = &self.bf16_peak
            && (isa.starts_with("no bf16 units") || *gflops < self.peak_gflops)
        {
            let why = if isa.starts_with("no bf16 units") {
                "no bf16 units"
            } else {
                "bf16 units slower than the FMAs"
            };
            for sc in self.model_scenarios() {
                if self.find(&sc, "burn-bf16", "cpu").is_none()
                    || self.find(&sc, "burn", "cpu").is_none()
                {
                    continue;
                }
                let r = paired(self.records, &sc, "cpu", "median_s", ("burn-bf16", "burn"));
                let _ = writeln!(
                    s,
                    "| {sc} bf16 at most 10% slower than our fp32 ({why}) | {r:.2}× | {} |",
                    if r >= NO_BF16_UNITS_MIN { "yes" } else { "no" }
                );
            }
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
    pub(super) fn svg(&self) -> String {
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

mod bf16;

#[cfg(test)]
mod tests;
