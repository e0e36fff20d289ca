//! The sentence-objective ablation (`cargo xtask ablate-sentence`): several pretraining runs on
//! one budget and their table. Fine-tuning comparisons are in `finetune_table.rs`.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::absolute;
use crate::train::{SentenceTask, Size, TrainArgs, pretrain, tokenizer_dir, train};

/// `cargo xtask ablate-sentence`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AblateArgs {
    /// Corpus files (default: the built-in corpus).
    #[arg(long, num_args = 1..)]
    pub(crate) corpus: Vec<PathBuf>,
    /// Output directory (one run per task under it, plus `table.md`).
    #[arg(long, default_value = "runs/ablate-sentence")]
    pub(crate) out: PathBuf,
    /// Optimisation steps of each run.
    #[arg(long, default_value_t = 1000)]
    pub(crate) steps: u64,
    /// Model size.
    #[arg(long, value_enum, default_value = "mini")]
    pub(crate) size: Size,
    /// Sequences per step.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch_size: usize,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 64)]
    pub(crate) max_seq_length: usize,
    /// SentencePiece vocabulary size (trained on the corpus unless --tokenizer is given).
    #[arg(long, default_value_t = 8000)]
    pub(crate) vocab_size: usize,
    /// Use this vocabulary (a directory holding `spiece.model`, e.g. `models/albert-mini-mixed`)
    /// for every run instead of training one.
    #[arg(long)]
    pub(crate) tokenizer: Option<PathBuf>,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
}

impl AblateArgs {
    /// The settings of each of the ablation's runs (SOP's; the task is set per run).
    pub(crate) fn train_args(self) -> TrainArgs {
        TrainArgs {
            corpus: self.corpus,
            out: self.out,
            steps: Some(self.steps),
            resume: false,
            size: self.size,
            batch_size: self.batch_size,
            seq_len: self.max_seq_length,
            learning_rate: None,
            vocab_size: self.vocab_size,
            device: self.device,
            sentence_task: SentenceTask::Sop,
            init: None,
            precision: "fp32".into(),
            eval_batches: eval_batches(self.batch_size),
        }
    }
}

/// One row of the ablation table, read from a run's `final_eval.json` (the fields of
/// `albert_pretrain::train::FinalEval` this table shows; a test checks that it reads what
/// pretraining writes).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct FinalEval {
    /// (Absent from the recipe grid's older `grid.json` records.)
    #[serde(default)]
    pub(crate) step: u64,
    pub(crate) masked_lm_accuracy: f64,
    pub(crate) masked_lm_unigram_baseline: f64,
    pub(crate) sop_accuracy: f64,
    pub(crate) nsp_accuracy: f64,
    pub(crate) instances: usize,
}

/// Held-out instances per task in the final evaluation of the ablation's and the recipe grid's
/// runs (the same ones for every run of a table: same documents, seed and length). 4,096 puts one
/// standard error of an accuracy near 0.5 at 0.008.
pub(crate) const FINAL_EVAL_INSTANCES: usize = 4096;

/// `[run] eval_batches` giving [`FINAL_EVAL_INSTANCES`] at `batch` sequences per batch (the final
/// evaluation scores four times the periodic evaluation's `eval_batches × batch_size`).
pub(crate) fn eval_batches(batch: usize) -> usize {
    FINAL_EVAL_INSTANCES.div_ceil(4 * batch)
}

/// The finished pretraining run's `final_eval.json` in `dir`. A run scored on fewer than
/// [`FINAL_EVAL_INSTANCES`] instances (by an earlier version of a table's command) is first
/// resumed with [`eval_batches`] in its `pretrain.toml`, which only redoes its final evaluation:
/// re-scored, not retrained.
pub(crate) fn scored_eval(dir: &Path, batch: usize, device: &str) -> anyhow::Result<FinalEval> {
    let path = dir.join("final_eval.json");
    let read = || -> anyhow::Result<FinalEval> {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    };
    let eval = read()?;
    if eval.instances >= FINAL_EVAL_INSTANCES {
        return Ok(eval);
    }
    let eval_batches = eval_batches(batch);
    eprintln!(
        "==== re-scoring {} ({eval_batches} evaluation batches)",
        dir.display()
    );
    let config = dir.join("pretrain.toml");
    let toml = std::fs::read_to_string(&config)
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
    let patched: Vec<String> = toml
        .lines()
        .map(|l| {
            if l.starts_with("eval_batches") {
                format!("eval_batches = {eval_batches}")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&config, patched.join("\n") + "\n")?;
    pretrain(device, &config, dir, true, &[])?;
    read()
}

/// Runs the ablation; `tokenizer` (a directory holding `spiece.model`) is every run's
/// vocabulary, else the first run trains one and the others copy it.
pub(crate) fn ablate_sentence(base: TrainArgs, tokenizer: Option<&Path>) -> anyhow::Result<()> {
    let out = absolute(&base.out)?;
    let tasks = [SentenceTask::Sop, SentenceTask::Nsp, SentenceTask::None];
    let first_tokenizer = tokenizer.map(tokenizer_dir).transpose()?;
    let first_tokenizer =
        first_tokenizer.unwrap_or_else(|| out.join(tasks[0].name()).join("tokenizer"));
    let given = tokenizer.is_some();
    let mut rows = Vec::new();
    for task in tasks {
        let dir = out.join(task.name());
        let eval_path = dir.join("final_eval.json");
        if !eval_path.is_file() {
            let tok = dir.join("tokenizer");
            if (given || task != tasks[0]) && !tok.join("spiece.model").is_file() {
                // Same vocabulary for every run: copy the given or the first run's.
                std::fs::create_dir_all(&tok)?;
                for entry in std::fs::read_dir(&first_tokenizer)? {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if entry.file_type()?.is_file()
                        && (name.starts_with("spiece") || name.starts_with("tokenizer"))
                    {
                        std::fs::copy(entry.path(), tok.join(entry.file_name()))?;
                    }
                }
            }
            eprintln!("==== sentence task {} -> {}", task.name(), dir.display());
            let resume = dir.join("pretrain.toml").is_file() && dir.join("checkpoints").exists();
            train(TrainArgs {
                out: dir.clone(),
                resume,
                sentence_task: task,
                init: None,
                ..base.clone()
            })?;
        }
        rows.push((task, scored_eval(&dir, base.batch_size, &base.device)?));
    }
    let mut table = String::from(
        "| trained with | steps | held-out MLM acc | SOP acc | NSP acc |\n|---|---|---|---|---|\n",
    );
    for (task, e) in &rows {
        table += &format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} |\n",
            task.name(),
            e.step,
            e.masked_lm_accuracy,
            e.sop_accuracy,
            e.nsp_accuracy
        );
    }
    if let Some((_, e)) = rows.first() {
        table += &format!(
            "\nHeld-out instances per task: {}. Unigram-frequency baseline of MLM accuracy: {:.3}.\n",
            e.instances, e.masked_lm_unigram_baseline
        );
    }
    std::fs::write(out.join("table.md"), &table)?;
    println!("{table}");
    eprintln!("written to {}", out.join("table.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The `final_eval.json` albert-pretrain writes is what xtask's tables read.
    #[test]
    fn final_eval_reads_what_pretraining_writes() {
        let written = albert_pretrain::train::FinalEval {
            step: 900,
            trained_task: albert_pretrain::data::SentenceTask::Nsp,
            masked_lm_accuracy: 0.125,
            masked_lm_loss: 5.5,
            masked_lm_unigram_baseline: 0.0625,
            sop_accuracy: 0.75,
            nsp_accuracy: 0.5,
            instances: 1024,
        };
        let text = serde_json::to_string(&written).expect("json");
        let read: super::FinalEval = serde_json::from_str(&text).expect("read");
        assert_eq!(read.step, 900);
        assert_eq!(read.masked_lm_accuracy, 0.125);
        assert_eq!(read.masked_lm_unigram_baseline, 0.0625);
        assert_eq!((read.sop_accuracy, read.nsp_accuracy), (0.75, 0.5));
        assert_eq!(read.instances, 1024);
    }
}
