//! The metrics log (`metrics.jsonl`, one JSON object per line) and the chart drawn from it
//! (`curves.svg`: losses, and masked-LM / sentence-order accuracies, train and held-out).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{PretrainError, Result};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRecord {
    /// `train` (averaged over the last `log_every` steps) or `eval` (held-out documents).
    pub kind: String,
    /// Optimisation step after which this was measured.
    pub step: u64,
    /// `masked_lm_loss + sentence_order_loss`.
    pub loss: f64,
    /// Masked-LM cross-entropy.
    pub masked_lm_loss: f64,
    /// Share of masked tokens predicted exactly.
    pub masked_lm_accuracy: f64,
    /// Sentence-order (or NSP) cross-entropy; null without a sentence task.
    pub sentence_order_loss: Option<f64>,
    /// Share of sentence labels predicted.
    pub sentence_order_accuracy: f64,
    /// Learning rate of the last step (train only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    /// Gradient norm before clipping (train only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Sequences per second (train only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequences_per_second: Option<f64>,
    /// Tokens per second (train only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
    /// The masked-LM accuracy of always predicting the most frequent masked token of the
    /// held-out set (eval only): the unigram-frequency baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_lm_unigram_baseline: Option<f64>,
}

impl MetricsRecord {
    /// The record without its wall-clock fields (sequences/s, tokens/s): what two runs of the
    /// same config must agree on exactly (an interrupted and resumed run and an uninterrupted
    /// one; one device with accumulated micro-batches and several replicas).
    pub fn without_timing(&self) -> MetricsRecord {
        MetricsRecord {
            sequences_per_second: None,
            tokens_per_second: None,
            ..self.clone()
        }
    }
}

/// Appends records to `path`.
pub fn append(path: &Path, records: &[MetricsRecord]) -> Result<()> {
    let io = |source| PretrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    for r in records {
        let line = serde_json::to_string(r).map_err(|e| PretrainError::Config(e.to_string()))?;
        writeln!(f, "{line}").map_err(io)?;
    }
    f.sync_data().map_err(io)
}

/// Reads every record of `path` (an absent file is empty).
pub fn read(path: &Path) -> Result<Vec<MetricsRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(path).map_err(|source| PretrainError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| PretrainError::Metrics {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Drops records after `step` (resuming from a checkpoint at `step`), rewriting atomically.
pub fn truncate_after(path: &Path, step: u64) -> Result<()> {
    let kept: Vec<MetricsRecord> = read(path)?.into_iter().filter(|r| r.step <= step).collect();
    let mut text = String::new();
    for r in &kept {
        text.push_str(&serde_json::to_string(r).map_err(|e| PretrainError::Config(e.to_string()))?);
        text.push('\n');
    }
    albert_core::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// A chart panel: its title and its `(label, colour, points)` lines.
type Panel<'a> = (&'a str, Vec<(&'a str, &'a str, Vec<(f64, f64)>)>);

fn polyline(
    points: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    frame: (f64, f64, f64, f64),
) -> String {
    let (left, top, width, height) = frame;
    let sx = |x: f64| left + (x - x0) / (x1 - x0).max(1e-12) * width;
    let sy = |y: f64| top + height - (y - y0) / (y1 - y0).max(1e-12) * height;
    points
        .iter()
        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Draws `curves.svg` from the records: left panel losses, right panel accuracies.
pub fn chart(records: &[MetricsRecord], path: &Path, title: &str) -> Result<()> {
    let series = |kind: &str, f: &dyn Fn(&MetricsRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        records
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| f(r).filter(|v| v.is_finite()).map(|v| (r.step as f64, v)))
            .collect()
    };
    let max_step = records.iter().map(|r| r.step).max().unwrap_or(1).max(1) as f64;
    let panels: [Panel<'_>; 2] = [
        (
            "loss",
            vec![
                (
                    "train MLM loss",
                    "#1f77b4",
                    series("train", &|r| Some(r.masked_lm_loss)),
                ),
                (
                    "held-out MLM loss",
                    "#1f77b4",
                    series("eval", &|r| Some(r.masked_lm_loss)),
                ),
                (
                    "train SOP loss",
                    "#d62728",
                    series("train", &|r| r.sentence_order_loss),
                ),
                (
                    "held-out SOP loss",
                    "#d62728",
                    series("eval", &|r| r.sentence_order_loss),
                ),
            ],
        ),
        (
            "accuracy",
            vec![
                (
                    "train MLM acc",
                    "#1f77b4",
                    series("train", &|r| Some(r.masked_lm_accuracy)),
                ),
                (
                    "held-out MLM acc",
                    "#1f77b4",
                    series("eval", &|r| Some(r.masked_lm_accuracy)),
                ),
                (
                    "train SOP acc",
                    "#d62728",
                    series("train", &|r| Some(r.sentence_order_accuracy)),
                ),
                (
                    "held-out SOP acc",
                    "#d62728",
                    series("eval", &|r| Some(r.sentence_order_accuracy)),
                ),
                (
                    "MLM unigram baseline",
                    "#7f7f7f",
                    series("eval", &|r| r.masked_lm_unigram_baseline),
                ),
            ],
        ),
    ];
    let mut svg = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"420\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"960\" height=\"420\" fill=\"white\"/>\n",
    );
    svg.push_str(&format!(
        "<text x=\"480\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{title}</text>\n"
    ));
    for (p, (name, lines)) in panels.iter().enumerate() {
        let (left, top, width, height) = (60.0 + 470.0 * p as f64, 40.0, 390.0, 300.0);
        let ys: Vec<f64> = lines.iter().flat_map(|l| l.2.iter().map(|v| v.1)).collect();
        let top_value = ys.iter().copied().fold(0.0f64, f64::max).max(1e-6);
        let (lo, hi) = if *name == "accuracy" {
            // Room above the highest curve, at most 1: small accuracies stay readable.
            (0.0, ((top_value * 1.1 * 10.0).ceil() / 10.0).min(1.0))
        } else {
            (0.0, top_value)
        };
        svg.push_str(&format!(
            "<rect x=\"{left}\" y=\"{top}\" width=\"{width}\" height=\"{height}\" fill=\"none\" stroke=\"#888\"/>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{name}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{hi:.2}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{lo:.2}</text>\n\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\">step {max_step}</text>\n",
            left + width / 2.0,
            top - 6.0,
            left - 4.0,
            top + 10.0,
            left - 4.0,
            top + height,
            left + width,
            top + height + 16.0
        ));
        for (k, (label, colour, pts)) in lines.iter().enumerate() {
            if pts.is_empty() {
                continue;
            }
            let dash = if label.starts_with("held-out") {
                " stroke-dasharray=\"5,3\""
            } else if label.contains("baseline") {
                " stroke-dasharray=\"1,3\""
            } else {
                ""
            };
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"{dash} points=\"{}\"/>\n",
                polyline(pts, (0.0, max_step), (lo, hi), (left, top, width, height))
            ));
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}{label}</text>\n",
                left + 8.0 + 190.0 * (k % 2) as f64,
                top + height + 32.0 + 14.0 * (k / 2) as f64,
                match (k % 2, label.contains("baseline")) {
                    (_, true) => "··· ",
                    (1, _) => "- - ",
                    _ => "—— ",
                }
            ));
        }
    }
    svg.push_str("</svg>\n");
    albert_core::io::write_atomic(path, svg.as_bytes())?;
    Ok(())
}
