//! `cargo xtask finetune-table`: fine-tune on every task of `../shared/data` that `albert
//! finetune` supports, with one budget, in two variants — pretrained vs random initialisation
//! (`--compare init`), or float32 vs bf16 (`--compare precision`) — over `--seeds` seeds each,
//! and write the table (mean ± standard deviation, the difference with two standard errors)
//! to `OUT/table.md`. Runs already done (their `eval.json` exists) are reused, so an interrupted
//! table continues where it stopped.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::{absolute, albert};

/// `cargo xtask finetune-table`.
#[derive(Debug, Clone, Args)]
pub(crate) struct FinetuneTableArgs {
    /// The pretrained model directory (a pretraining run's `model/`).
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// The shared data folder.
    #[arg(long, default_value = "../shared/data")]
    pub(crate) data: PathBuf,
    /// Output directory (one run per task and init, plus `table.md`).
    #[arg(long, default_value = "runs/finetune-table")]
    pub(crate) out: PathBuf,
    /// Epochs per run.
    #[arg(long, default_value_t = 2)]
    pub(crate) epochs: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub(crate) learning_rate: f64,
    /// Peak learning rate of the task head (default: --learning-rate).
    #[arg(long)]
    pub(crate) head_learning_rate: Option<f64>,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 128)]
    pub(crate) max_seq_length: usize,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
    /// Seeds per cell (42, 43, …): each cell is the mean ± standard deviation.
    #[arg(long, default_value_t = 1)]
    pub(crate) seeds: usize,
    /// The two columns: pretrained vs random initialisation, or fp32 vs bf16.
    #[arg(long, value_enum, default_value = "init")]
    pub(crate) compare: Compare,
    /// Only these tasks (by the start of their name, e.g. `sentiment`, `bbc`, or their
    /// `--task`, e.g. `tagging`); default: all six.
    #[arg(long, value_delimiter = ',')]
    pub(crate) tasks: Vec<String>,
}

/// What the two columns compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Compare {
    /// Pretrained weights vs fresh random weights of the same shape (fp32).
    Init,
    /// float32 vs bf16 products, both from the pretrained weights.
    Precision,
}

impl Compare {
    /// The two variants: column title and the extra `albert finetune` arguments.
    fn variants(self) -> [(&'static str, &'static str, [&'static str; 4]); 2] {
        match self {
            Compare::Init => [
                (
                    "pretrained",
                    "pretrained",
                    ["--init", "pretrained", "--precision", "fp32"],
                ),
                (
                    "random init",
                    "random",
                    ["--init", "random", "--precision", "fp32"],
                ),
            ],
            Compare::Precision => [
                (
                    "fp32",
                    "fp32",
                    ["--init", "pretrained", "--precision", "fp32"],
                ),
                (
                    "bf16",
                    "bf16",
                    ["--init", "pretrained", "--precision", "bf16"],
                ),
            ],
        }
    }
}

/// A task of the table: name, `--task`, train and dev files under the data folder, the metric
/// reported, and the epochs (`None`: `--epochs`; the two largest tasks get one).
struct TableTask {
    name: &'static str,
    task: &'static str,
    train: &'static str,
    dev: &'static str,
    metric: &'static str,
    epochs: Option<usize>,
}

const TASKS: [TableTask; 6] = [
    TableTask {
        name: "sentiment (SST-2-style)",
        task: "classification",
        train: "glue-style/sst2_vader_movie/train.tsv",
        dev: "glue-style/sst2_vader_movie/dev.tsv",
        metric: "accuracy",
        epochs: None,
    },
    TableTask {
        name: "BBC topic",
        task: "classification",
        train: "glue-style/bbc_topic/train.tsv",
        dev: "glue-style/bbc_topic/dev.tsv",
        metric: "accuracy",
        epochs: None,
    },
    TableTask {
        name: "Lee similarity (STS-B-style)",
        task: "regression",
        train: "glue-style/stsb_lee/train.tsv",
        dev: "glue-style/stsb_lee/dev.tsv",
        metric: "pearson",
        epochs: None,
    },
    TableTask {
        name: "Brown POS",
        task: "tagging",
        train: "token-tagging/brown_pos/train.conll",
        dev: "token-tagging/brown_pos/dev.conll",
        metric: "accuracy",
        epochs: None,
    },
    TableTask {
        name: "next-paragraph choice (RACE-style)",
        task: "multiple-choice",
        train: "race-style/nextpara/train.json.gz",
        dev: "race-style/nextpara/dev.json",
        metric: "accuracy",
        epochs: Some(1),
    },
    TableTask {
        name: "cloze QA (SQuAD v2.0-style)",
        task: "squad2",
        train: "squad-style/cloze/train-v2.0.json.gz",
        dev: "squad-style/cloze/dev-v2.0.json",
        metric: "f1",
        epochs: Some(1),
    },
];

/// A task's name as a file name (`sentiment-sst-2-style-`).
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// Mean and sample standard deviation (0 for one value).
pub(crate) fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// One cell: `mean ± sd` over the seeds (just the value for one seed).
fn cell(values: &[f64]) -> String {
    let (mean, sd) = mean_sd(values);
    if values.len() < 2 {
        format!("{mean:.4}")
    } else {
        format!("{mean:.4} ± {sd:.4}")
    }
}

/// The difference of the means with two standard errors of that difference (Welch), and whether
/// it exceeds them.
pub(crate) fn difference(a: &[f64], b: &[f64]) -> (f64, f64) {
    let ((ma, sa), (mb, sb)) = (mean_sd(a), mean_sd(b));
    let se = (sa * sa / a.len() as f64 + sb * sb / b.len() as f64).sqrt();
    (ma - mb, 2.0 * se)
}

pub(crate) fn finetune_table(args: &FinetuneTableArgs) -> anyhow::Result<()> {
    let (model, data, out) = (
        absolute(&args.model)?,
        absolute(&args.data)?,
        absolute(&args.out)?,
    );
    anyhow::ensure!(
        model.join("config.json").is_file(),
        "{} is not a model directory",
        model.display()
    );
    anyhow::ensure!(args.seeds >= 1, "--seeds must be at least 1");
    let tasks: Vec<&TableTask> = TASKS
        .iter()
        .filter(|t| {
            args.tasks.is_empty()
                || args
                    .tasks
                    .iter()
                    .any(|x| slug(t.name).starts_with(x.as_str()) || x == t.task)
        })
        .collect();
    anyhow::ensure!(
        !tasks.is_empty(),
        "--tasks {:?} names no task (known: {})",
        args.tasks,
        TASKS
            .iter()
            .map(|t| slug(t.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let variants = args.compare.variants();
    let seeds: Vec<u64> = (0..args.seeds as u64).map(|i| 42 + i).collect();
    let mut table = format!(
        "| task | metric | {} | {} | difference (± 2 SE) | epochs |\n|---|---|---|---|---|---|\n",
        variants[0].0, variants[1].0
    );
    for t in tasks {
        let epochs = t.epochs.unwrap_or(args.epochs);
        let mut columns: Vec<Vec<f64>> = Vec::new();
        for (title, tag, extra) in &variants {
            let mut values = Vec::new();
            for &seed in &seeds {
                let run = out.join(format!("{}-{tag}-seed{seed}", slug(t.name)));
                let value = run_once(args, &model, &data, &run, t, epochs, seed, extra, title)?;
                values.push(value);
            }
            columns.push(values);
        }
        let (diff, two_se) = difference(&columns[0], &columns[1]);
        let verdict = if args.seeds < 2 {
            String::new()
        } else if diff.abs() > two_se {
            " (beyond 2 SE)".into()
        } else {
            " (within 2 SE)".into()
        };
        table += &format!(
            "| {} | {} | {} | {} | {diff:+.4} ± {two_se:.4}{verdict} | {epochs} |\n",
            t.name,
            t.metric,
            cell(&columns[0]),
            cell(&columns[1]),
        );
    }
    table += &format!(
        "\n{} seed(s) per cell ({}); mean ± sample standard deviation; model {}; lr {:e}{}, batch 32, \
         {} tokens.\n",
        seeds.len(),
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        model.display(),
        args.learning_rate,
        args.head_learning_rate
            .map(|h| format!(" (head {h:e})"))
            .unwrap_or_default(),
        args.max_seq_length
    );
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("table.md"), &table)?;
    println!("{table}");
    Ok(())
}

/// Runs one fine-tuning (unless its `eval.json` exists) and returns its main metric.
#[allow(clippy::too_many_arguments)]
fn run_once(
    args: &FinetuneTableArgs,
    model: &Path,
    data: &Path,
    run: &Path,
    t: &TableTask,
    epochs: usize,
    seed: u64,
    extra: &[&str],
    title: &str,
) -> anyhow::Result<f64> {
    let eval = run.join("eval.json");
    if !eval.is_file() {
        eprintln!("==== {}, {title}, seed {seed}", t.name);
        let mut cmd: Vec<String> = [
            "finetune",
            "--task",
            t.task,
            "--model",
            &model.display().to_string(),
            "--train",
            &data.join(t.train).display().to_string(),
            "--dev",
            &data.join(t.dev).display().to_string(),
            "--out",
            &run.display().to_string(),
            "--epochs",
            &epochs.to_string(),
            "--learning-rate",
            &args.learning_rate.to_string(),
            "--max-seq-length",
            &args.max_seq_length.to_string(),
            "--batch-size",
            "32",
            "--seed",
            &seed.to_string(),
            "--device",
            &args.device,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cmd.extend(extra.iter().map(|s| s.to_string()));
        if let Some(h) = args.head_learning_rate {
            cmd.extend(["--head-learning-rate".into(), h.to_string()]);
        }
        // A run interrupted earlier left checkpoints: continue it.
        if run.join("checkpoints").is_dir() {
            cmd.push("--resume".into());
        }
        albert(&args.device, &cmd)?;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&eval)?)?;
    v["metrics"][t.metric]
        .as_f64()
        .ok_or_else(|| anyhow::anyhow!("{}: no {} metric", eval.display(), t.metric))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_by_hand() {
        // Sample sd of 1, 2, 3 is 1; of one value 0.
        assert_eq!(mean_sd(&[1.0, 2.0, 3.0]), (2.0, 1.0));
        assert_eq!(mean_sd(&[5.0]), (5.0, 0.0));
        // SE of the difference: sqrt(1/3 + 1/3); two of them.
        let (d, two_se) = difference(&[1.0, 2.0, 3.0], &[0.0, 1.0, 2.0]);
        assert_eq!(d, 1.0);
        assert!((two_se - 2.0 * (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(cell(&[0.5]), "0.5000");
        assert_eq!(cell(&[1.0, 2.0, 3.0]), "2.0000 ± 1.0000");
        assert_eq!(slug("BBC topic"), "bbc-topic");
    }
}
