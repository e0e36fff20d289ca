//! `cargo xtask train`: a SentencePiece vocabulary, the `pretrain.toml` of a run and `albert
//! pretrain` on it; and the pieces the other pretraining commands (ablation, recipe grid) share:
//! the corpus list, a `--tokenizer` directory and the `albert pretrain` invocation.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::{absolute, albert, root};

/// Model sizes for `cargo xtask train`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Size {
    /// E 32, H 64, 2 layers: a smoke test (seconds).
    Tiny,
    /// E 64, H 128, 4 layers, 2 heads: the default, a few minutes on 2 cores — the size that
    /// gets past the unigram plateau within that budget (docs/pretraining.md).
    Mini,
    /// E 64, H 256, 4 layers: stays on the unigram plateau for the first thousand steps.
    Small,
    /// albert-base shapes (E 128, H 768, 12 layers): hours per thousand steps on a CPU.
    Base,
}

impl Size {
    /// The default number of steps and the peak LAMB learning rate of a run of this size.
    fn schedule(self) -> (u64, f64) {
        match self {
            Size::Tiny => (200, 0.002),
            Size::Mini => (900, 0.01),
            Size::Small => (360, 0.002),
            Size::Base => (2000, 0.002),
        }
    }
}

/// The sentence-level objective (`[instances] sentence_task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SentenceTask {
    /// Sentence-order prediction (ALBERT).
    Sop,
    /// Next-sentence prediction (BERT).
    Nsp,
    /// No sentence-level loss.
    None,
}

impl SentenceTask {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Sop => "sop",
            Self::Nsp => "nsp",
            Self::None => "none",
        }
    }
}

/// `cargo xtask train`: what the run is asked to do.
#[derive(Debug, Clone, Args)]
pub(crate) struct TrainArgs {
    /// Corpus files (plain or .gz, one paragraph per line, blank line between documents).
    #[arg(long, num_args = 1..)]
    pub(crate) corpus: Vec<PathBuf>,
    /// Output directory (everything the run writes goes under it).
    #[arg(long, default_value = "runs/default")]
    pub(crate) out: PathBuf,
    /// Optimisation steps.
    #[arg(long)]
    pub(crate) steps: Option<u64>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Model size.
    #[arg(long, value_enum, default_value = "mini")]
    pub(crate) size: Size,
    /// Sequences per step.
    #[arg(long, default_value_t = 32)]
    pub(crate) batch_size: usize,
    /// Tokens per sequence (`--seq-len` is an old spelling).
    #[arg(long = "max-seq-length", alias = "seq-len", default_value_t = 64)]
    pub(crate) seq_len: usize,
    /// Peak LAMB learning rate (default: 0.01 for mini, 0.002 for the other sizes).
    #[arg(long)]
    pub(crate) learning_rate: Option<f64>,
    /// SentencePiece vocabulary size.
    #[arg(long, default_value_t = 8000)]
    pub(crate) vocab_size: usize,
    /// cpu, wgpu, cuda, remote:ws://HOST:PORT, or a comma-separated list (data-parallel);
    /// wgpu, cuda and remote build the runner with that feature.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
    /// Sentence-level objective: sop (ALBERT), nsp (BERT) or none.
    #[arg(long, value_enum, default_value = "sop")]
    pub(crate) sentence_task: SentenceTask,
    /// Continue pretraining an HF-layout model directory (config.json, model.safetensors,
    /// spiece.model; e.g. an earlier run's `model/`): its architecture and tokenizer are
    /// used instead of --size and a newly trained vocabulary.
    #[arg(long, conflicts_with_all = ["size", "vocab_size"])]
    pub(crate) init: Option<PathBuf>,
    /// Precision of the matrix products: fp32, bf16 or fp16 (bf16/half operands, f32
    /// accumulation; written to the config's `[run] precision`).
    #[arg(long, default_value = "fp32", value_parser = ["fp32", "bf16", "fp16"])]
    pub(crate) precision: String,
    /// Held-out batches per periodic evaluation; the final evaluation (`final_eval.json`)
    /// scores four times as many batches.
    #[arg(long, default_value_t = 8)]
    pub(crate) eval_batches: usize,
}

fn model_table(size: Size, seq_len: usize) -> String {
    let (e, h, l, a, i) = match size {
        Size::Tiny => (32, 64, 2, 2, 128),
        Size::Mini => (64, 128, 4, 2, 512),
        Size::Small => (64, 256, 4, 4, 1024),
        Size::Base => (128, 768, 12, 12, 3072),
    };
    format!(
        "[model]\nembedding_size = {e}\nhidden_size = {h}\nnum_hidden_layers = {l}\nnum_attention_heads = {a}\n\
         intermediate_size = {i}\nmax_position_embeddings = {}\n",
        seq_len.max(128)
    )
}

/// The `[model]` table of the HF-layout model in `dir` (its `config.json`).
fn model_table_of(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("--init: cannot read {}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--init: {}: {e}", path.display()))?;
    let mut table = String::from("[model]\n");
    for key in [
        "embedding_size",
        "hidden_size",
        "num_hidden_layers",
        "num_hidden_groups",
        "inner_group_num",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
    ] {
        let value = json[key]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("--init: {} has no integer {key:?}", path.display()))?;
        table.push_str(&format!("{key} = {value}\n"));
    }
    Ok(table)
}

/// `--corpus` made absolute and checked to exist; the built-in corpus when none is given.
pub(crate) fn corpus_files(corpus: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let corpus: Vec<PathBuf> = if corpus.is_empty() {
        vec![root().join("data/pretrain/austen.txt.gz")]
    } else {
        corpus
            .iter()
            .map(|c| absolute(c))
            .collect::<anyhow::Result<_>>()?
    };
    for c in &corpus {
        anyhow::ensure!(c.is_file(), "corpus file {} not found", c.display());
    }
    Ok(corpus)
}

/// A `--tokenizer` directory, made absolute and checked to hold `spiece.model`.
pub(crate) fn tokenizer_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = absolute(dir)?;
    anyhow::ensure!(
        dir.join("spiece.model").is_file(),
        "--tokenizer: {} has no spiece.model",
        dir.display()
    );
    Ok(dir)
}

/// `albert pretrain --config CONFIG --out OUT [--resume]` plus `extra` arguments.
pub(crate) fn pretrain(
    device: &str,
    config: &Path,
    out: &Path,
    resume: bool,
    extra: &[String],
) -> anyhow::Result<()> {
    let mut args: Vec<String> = vec![
        "pretrain".into(),
        "--config".into(),
        config.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    if resume {
        args.push("--resume".into());
    }
    args.extend(extra.iter().cloned());
    albert(device, &args)
}

pub(crate) fn train(args: TrainArgs) -> anyhow::Result<()> {
    let TrainArgs {
        corpus,
        out,
        steps,
        resume,
        size,
        batch_size,
        seq_len,
        learning_rate,
        vocab_size,
        device,
        sentence_task,
        init,
        precision,
        eval_batches,
    } = args;
    let out = absolute(&out)?;
    let init = init.map(|d| absolute(&d)).transpose()?;
    let corpus = corpus_files(&corpus)?;
    std::fs::create_dir_all(&out)?;
    let tokenizer = init.clone().unwrap_or_else(|| out.join("tokenizer"));
    let config = out.join("pretrain.toml");
    if resume {
        anyhow::ensure!(
            config.is_file(),
            "--resume: {} has no pretrain.toml (nothing to resume)",
            out.display()
        );
    } else {
        anyhow::ensure!(
            !out.join("checkpoints").exists(),
            "{} already holds a run; pass --resume to continue it or choose another --out",
            out.display()
        );
        if let Some(dir) = &init {
            anyhow::ensure!(
                dir.join("spiece.model").is_file(),
                "--init: {} has no spiece.model (the model's own tokenizer is needed)",
                dir.display()
            );
            eprintln!("== 1/2 tokenizer: the model's own ({})", dir.display());
        } else if !tokenizer.join("spiece.model").is_file() {
            eprintln!("== 1/2 tokenizer: training a {vocab_size}-piece SentencePiece vocabulary");
            let mut args: Vec<String> = vec!["tokenizer".into(), "train".into(), "--input".into()];
            args.extend(corpus.iter().map(|c| c.display().to_string()));
            args.extend([
                "--vocab-size".into(),
                vocab_size.to_string(),
                "--out".into(),
                tokenizer.display().to_string(),
            ]);
            albert(&device, &args)?;
        }
        let (default_steps, default_peak) = size.schedule();
        let steps = steps.unwrap_or(default_steps);
        let peak = learning_rate.unwrap_or(default_peak);
        let text = format!(
            "# Written by `cargo xtask train`; edit and rerun `albert pretrain --config` to change it.\n\
             {model}\n[data]\ncorpus = [{corpus}]\ntokenizer = {tokenizer:?}\nheld_out_every = 4\n\n\
             [instances]\nmax_seq_length = {seq_len}\nsentence_task = \"{task}\"\n\n[schedule]\npeak = {peak}\nwarmup_steps = {warmup}\ntotal_steps = {steps}\n\n\
             [run]\nsteps = {steps}\nbatch_size = {batch_size}\nlog_every = 10\neval_every = {eval}\neval_batches = {eval_batches}\n\
             checkpoint_every = {eval}\ndevice = \"{device}\"\nprecision = \"{precision}\"\n{init_line}",
            model = match &init {
                Some(dir) => model_table_of(dir)?,
                None => model_table(size, seq_len),
            },
            tokenizer = tokenizer.display().to_string(),
            init_line = init
                .as_ref()
                .map(|d| format!("init = {:?}\n", d.display().to_string()))
                .unwrap_or_default(),
            corpus = corpus
                .iter()
                .map(|c| format!("{:?}", c.display().to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            task = sentence_task.name(),
            warmup = (steps / 10).max(1),
            eval = (steps / 5).div_ceil(10).max(1) * 10,
        );
        std::fs::write(&config, text)?;
    }
    eprintln!("== 2/2 pretraining ({})", config.display());
    let mut extra = Vec::new();
    if let (true, Some(s)) = (resume, steps) {
        extra.extend(["--steps".into(), s.to_string()]);
    }
    extra.extend(["--device".into(), device.clone()]);
    pretrain(&device, &config, &out, resume, &extra)
}

#[cfg(test)]
mod tests {
    use super::{SentenceTask, Size, model_table, model_table_of};
    use clap::ValueEnum;

    /// xtask names the sentence tasks as albert-pretrain's config reads them (the copy exists so
    /// that `cargo xtask` builds without the model crates).
    #[test]
    fn sentence_task_names_are_the_pretrain_configs() {
        for task in SentenceTask::value_variants() {
            let parsed: albert_pretrain::data::SentenceTask =
                serde_json::from_value(serde_json::json!(task.name())).expect("a pretrain task");
            assert_eq!(
                serde_json::to_value(parsed).expect("name"),
                serde_json::json!(task.name())
            );
        }
        assert_eq!(SentenceTask::value_variants().len(), 3);
    }

    /// Every `--size` gives a `[model]` table albert-pretrain accepts, and `base` is
    /// albert-base-v2's shape.
    #[test]
    fn model_tables_parse_as_the_pretrain_config() {
        #[derive(serde::Deserialize)]
        struct Model {
            model: albert_pretrain::train::ModelSection,
        }
        for size in Size::value_variants() {
            let table = model_table(*size, 128);
            let parsed: Model = toml::from_str(&table).unwrap_or_else(|e| panic!("{table}: {e}"));
            if *size == Size::Base {
                let base =
                    albert_core::AlbertConfig::preset_by_name("albert-base-v2").expect("preset");
                let m = parsed.model;
                assert_eq!(
                    (m.embedding_size, m.hidden_size, m.num_hidden_layers),
                    (
                        base.embedding_size,
                        base.hidden_size,
                        base.num_hidden_layers
                    )
                );
                assert_eq!(
                    (m.num_attention_heads, m.intermediate_size),
                    (base.num_attention_heads, base.intermediate_size)
                );
            }
        }
    }

    /// `--init DIR`: the `[model]` table comes from the directory's `config.json`; a missing
    /// file or key is an error naming it.
    #[test]
    fn init_takes_the_model_table_from_config_json() {
        let dir = std::env::temp_dir().join(format!("xtask-init-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        assert!(
            model_table_of(&dir)
                .unwrap_err()
                .to_string()
                .contains("config.json")
        );
        let config = r#"{"embedding_size": 64, "hidden_size": 256, "num_hidden_layers": 4,
            "num_hidden_groups": 1, "inner_group_num": 1, "num_attention_heads": 4,
            "intermediate_size": 1024, "max_position_embeddings": 512, "vocab_size": 8000}"#;
        std::fs::write(dir.join("config.json"), config).expect("write");
        let table = model_table_of(&dir).expect("table");
        assert!(table.starts_with("[model]\n"), "{table}");
        for line in [
            "embedding_size = 64",
            "hidden_size = 256",
            "num_hidden_layers = 4",
            "num_attention_heads = 4",
            "intermediate_size = 1024",
            "max_position_embeddings = 512",
        ] {
            assert!(table.contains(line), "{line} in {table}");
        }
        std::fs::write(dir.join("config.json"), r#"{"hidden_size": 256}"#).expect("write");
        let err = model_table_of(&dir).unwrap_err().to_string();
        assert!(err.contains("embedding_size"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
