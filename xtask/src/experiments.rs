//! Experiments that run several trainings and write a table: the sentence-objective ablation
//! (`cargo xtask ablate-sentence`) and pretrained-vs-random fine-tuning
//! (`cargo xtask finetune-table`).

use crate::{FinetuneTableArgs, SentenceTask, TrainArgs, absolute, albert, train};

/// One row of the ablation table, read from a run's `final_eval.json` (the fields of
/// `albert_pretrain::train::FinalEval` this table shows; a test checks that it reads what
/// pretraining writes).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct FinalEval {
    pub(crate) step: u64,
    pub(crate) masked_lm_accuracy: f64,
    pub(crate) masked_lm_unigram_baseline: f64,
    pub(crate) sop_accuracy: f64,
    pub(crate) nsp_accuracy: f64,
    pub(crate) instances: usize,
}

pub(crate) fn ablate_sentence(base: TrainArgs) -> anyhow::Result<()> {
    let out = absolute(&base.out)?;
    let tasks = [SentenceTask::Sop, SentenceTask::Nsp, SentenceTask::None];
    let first_tokenizer = out.join(tasks[0].name()).join("tokenizer");
    let mut rows = Vec::new();
    for task in tasks {
        let dir = out.join(task.name());
        let eval_path = dir.join("final_eval.json");
        if !eval_path.is_file() {
            let tok = dir.join("tokenizer");
            if task != tasks[0] && !tok.join("spiece.model").is_file() {
                // Same vocabulary for every run: copy the first run's.
                std::fs::create_dir_all(&tok)?;
                for entry in std::fs::read_dir(&first_tokenizer)? {
                    let entry = entry?;
                    std::fs::copy(entry.path(), tok.join(entry.file_name()))?;
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
        let text = std::fs::read_to_string(&eval_path)?;
        let eval: FinalEval = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", eval_path.display()))?;
        rows.push((task, eval));
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

/// The tasks of the results table: name, `--task`, train and dev files under the data folder,
/// the metric reported, and the epochs (`None`: `--epochs`; the two largest tasks get one).
type TableTask = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<usize>,
);
const FINETUNE_TASKS: [TableTask; 6] = [
    (
        "sentiment (SST-2-style)",
        "classification",
        "glue-style/sst2_vader_movie/train.tsv",
        "glue-style/sst2_vader_movie/dev.tsv",
        "accuracy",
        None,
    ),
    (
        "BBC topic",
        "classification",
        "glue-style/bbc_topic/train.tsv",
        "glue-style/bbc_topic/dev.tsv",
        "accuracy",
        None,
    ),
    (
        "Lee similarity (STS-B-style)",
        "regression",
        "glue-style/stsb_lee/train.tsv",
        "glue-style/stsb_lee/dev.tsv",
        "pearson",
        None,
    ),
    (
        "Brown POS",
        "tagging",
        "token-tagging/brown_pos/train.conll",
        "token-tagging/brown_pos/dev.conll",
        "accuracy",
        None,
    ),
    (
        "next-paragraph choice (RACE-style)",
        "multiple-choice",
        "race-style/nextpara/train.json.gz",
        "race-style/nextpara/dev.json",
        "accuracy",
        Some(1),
    ),
    (
        "cloze QA (SQuAD v2.0-style)",
        "squad2",
        "squad-style/cloze/train-v2.0.json.gz",
        "squad-style/cloze/dev-v2.0.json",
        "f1",
        Some(1),
    ),
];

#[allow(clippy::too_many_arguments)]
pub(crate) fn finetune_table(args: &FinetuneTableArgs) -> anyhow::Result<()> {
    let (model, data, out) = (
        absolute(&args.model)?,
        absolute(&args.data)?,
        absolute(&args.out)?,
    );
    let (epochs, learning_rate) = (args.epochs, args.learning_rate);
    let (max_seq_length, device) = (args.max_seq_length, args.device.as_str());
    anyhow::ensure!(
        model.join("config.json").is_file(),
        "{} is not a model directory",
        model.display()
    );
    let mut table = String::from(
        "| task | metric | pretrained | random init | epochs |\n|---|---|---|---|---|\n",
    );
    for (name, task, train, dev, metric, task_epochs) in FINETUNE_TASKS {
        let epochs = task_epochs.unwrap_or(epochs);
        let mut row = Vec::new();
        for init in ["pretrained", "random"] {
            let slug: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect();
            let run = out.join(format!("{slug}-{init}"));
            let eval = run.join("eval.json");
            if !eval.is_file() {
                eprintln!("==== {name}, {init}");
                let args: Vec<String> = [
                    "finetune",
                    "--task",
                    task,
                    "--model",
                    &model.display().to_string(),
                    "--train",
                    &data.join(train).display().to_string(),
                    "--dev",
                    &data.join(dev).display().to_string(),
                    "--out",
                    &run.display().to_string(),
                    "--epochs",
                    &epochs.to_string(),
                    "--learning-rate",
                    &learning_rate.to_string(),
                    "--max-seq-length",
                    &max_seq_length.to_string(),
                    "--batch-size",
                    "32",
                    "--init",
                    init,
                    "--device",
                    device,
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                albert(device, &args)?;
            }
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&eval)?)?;
            row.push(v["metrics"][metric].as_f64().unwrap_or(f64::NAN));
        }
        table += &format!(
            "| {name} | {metric} | {:.4} | {:.4} | {epochs} |\n",
            row[0], row[1]
        );
    }
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("table.md"), &table)?;
    println!("{table}");
    Ok(())
}
