//! `cargo xtask recipe-grid`: the small-budget pretraining recipe search of issue 15, in the
//! spirit of "Cramming" (Geiping & Goldstein 2022) on CPU hours. Every variant changes one knob
//! of the base recipe (the shipped model's phase 1: E 64, H 128, 4 shared layers, 64-token SOP
//! instances, batch 32, LAMB peak 0.01 with 10% warm-up) and trains on the same number of tokens,
//! same corpus, same held-out documents; every run is scored on the same held-out instances
//! (`[data] eval_max_seq_length`, so runs trained at 128 tokens are compared on the same
//! 64-token instances). Results go to `OUT/table.md` and `OUT/grid.json`; runs already finished
//! are reused, an interrupted one resumes from its checkpoint.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use crate::experiments::{FINAL_EVAL_INSTANCES, FinalEval, eval_batches, scored_eval};
use crate::train::{corpus_files, pretrain, tokenizer_dir};
use crate::{absolute, albert};

/// `cargo xtask recipe-grid`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RecipeGridArgs {
    /// Corpus files (default: the built-in corpus).
    #[arg(long, num_args = 1..)]
    pub(crate) corpus: Vec<PathBuf>,
    /// Vocabulary of every row but the vocabulary-size rows: a directory holding `spiece.model`
    /// (e.g. `models/albert-mini-mixed`); default: one of 8,000 pieces trained on the corpus.
    #[arg(long)]
    pub(crate) tokenizer: Option<PathBuf>,
    /// Output directory (one run per variant, plus `table.md` and `grid.json`).
    #[arg(long, default_value = "runs/recipe-grid")]
    pub(crate) out: PathBuf,
    /// The budget, in steps of the base recipe (32 sequences of 64 tokens): every variant
    /// trains on this many tokens.
    #[arg(long, default_value_t = 1000)]
    pub(crate) steps: u64,
    /// Only these variants (by name, e.g. `base,lr-0.02`); default: all. `--list` prints them.
    #[arg(long, value_delimiter = ',')]
    pub(crate) variants: Vec<String>,
    /// Print the variants and exit.
    #[arg(long)]
    pub(crate) list: bool,
    /// cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
}

/// One recipe: the knobs the grid varies.
#[derive(Debug, Clone, PartialEq)]
struct Recipe {
    embedding: usize,
    hidden: usize,
    layers: usize,
    heads: usize,
    ffn: usize,
    batch: usize,
    seq_len: usize,
    peak: f64,
    warmup: f64,
    mask_prob: f64,
    /// `None`: the grid's base vocabulary; `Some(n)`: one of `n` pieces trained on the corpus.
    vocab: Option<usize>,
    /// Share of the tokens trained at 128 tokens per sequence at the end (a second phase
    /// initialised from the first, at half the peak: the shipped model's two phases).
    long_phase: Option<f64>,
    /// Drop single-segment chunks instead of pairing them with a random other document
    /// (the original's "random next" pairs, labelled "swapped" in SOP mode).
    skip_single_chunks: bool,
}

const BASE: Recipe = Recipe {
    embedding: 64,
    hidden: 128,
    layers: 4,
    heads: 2,
    ffn: 512,
    batch: 32,
    seq_len: 64,
    peak: 0.01,
    warmup: 0.1,
    mask_prob: 0.15,
    vocab: None,
    long_phase: None,
    skip_single_chunks: false,
};

/// Tokens per sequence of the held-out evaluation, for every row.
const EVAL_LEN: usize = 64;

/// The grid: name, what differs from the base, the recipe.
fn variants() -> Vec<(&'static str, &'static str, Recipe)> {
    vec![
        (
            "base",
            "E 64, H 128, 4 layers, batch 32, 64 tokens, peak 0.01, warm-up 10%, mask 15%, 8k vocabulary",
            BASE,
        ),
        (
            "lr-0.005",
            "peak learning rate 0.005",
            Recipe {
                peak: 0.005,
                ..BASE
            },
        ),
        (
            "lr-0.02",
            "peak learning rate 0.02",
            Recipe { peak: 0.02, ..BASE },
        ),
        (
            "layers-2",
            "2 layer applications",
            Recipe { layers: 2, ..BASE },
        ),
        (
            "layers-8",
            "8 layer applications (same parameters)",
            Recipe { layers: 8, ..BASE },
        ),
        (
            "batch-64",
            "batch 64 (half the steps)",
            Recipe { batch: 64, ..BASE },
        ),
        (
            "seq-128",
            "128 tokens throughout (half the steps)",
            Recipe {
                seq_len: 128,
                ..BASE
            },
        ),
        (
            "seq-64-then-128",
            "64 tokens, then the last 10% of the tokens at 128",
            Recipe {
                long_phase: Some(0.1),
                ..BASE
            },
        ),
        (
            "pure-sop",
            "single-segment chunks dropped: every sentence pair is an order pair",
            Recipe {
                skip_single_chunks: true,
                ..BASE
            },
        ),
        (
            "mask-25pct",
            "mask 25% of the tokens",
            Recipe {
                mask_prob: 0.25,
                ..BASE
            },
        ),
        (
            "vocab-4k",
            "4,000-piece vocabulary",
            Recipe {
                vocab: Some(4000),
                ..BASE
            },
        ),
        (
            "vocab-16k",
            "16,000-piece vocabulary",
            Recipe {
                vocab: Some(16000),
                ..BASE
            },
        ),
        (
            "width-256",
            "H 256, 4 heads, FFN 1024",
            Recipe {
                hidden: 256,
                heads: 4,
                ffn: 1024,
                ..BASE
            },
        ),
        (
            "embed-128",
            "E 128",
            Recipe {
                embedding: 128,
                ..BASE
            },
        ),
        (
            "warmup-2pct",
            "warm-up 2% of the steps",
            Recipe {
                warmup: 0.02,
                ..BASE
            },
        ),
        (
            "batch-16",
            "batch 16 (twice the steps)",
            Recipe { batch: 16, ..BASE },
        ),
        (
            "combined",
            "the single-knob winners together: batch 16, 2 layer applications, mask 25%",
            Recipe {
                batch: 16,
                layers: 2,
                mask_prob: 0.25,
                ..BASE
            },
        ),
    ]
}

/// Steps of a phase that trains on `tokens` tokens in batches of `batch` × `seq_len`.
fn steps_for(tokens: u64, batch: usize, seq_len: usize) -> u64 {
    (tokens / (batch * seq_len) as u64).max(1)
}

/// The settings of one training phase of a variant.
struct Phase<'a> {
    corpus: &'a [PathBuf],
    tokenizer: &'a Path,
    seq_len: usize,
    peak: f64,
    steps: u64,
    init: Option<&'a Path>,
    device: &'a str,
}

/// The `pretrain.toml` of one phase.
fn config(r: &Recipe, p: &Phase) -> String {
    let Phase {
        corpus,
        tokenizer,
        seq_len,
        peak,
        steps,
        init,
        device,
    } = *p;
    let corpus = corpus
        .iter()
        .map(|c| format!("{:?}", c.display().to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    let init = init
        .map(|d| format!("init = {:?}\n", d.display().to_string()))
        .unwrap_or_default();
    format!(
        "# Written by `cargo xtask recipe-grid`.\n\
         [model]\nembedding_size = {e}\nhidden_size = {h}\nnum_hidden_layers = {l}\n\
         num_attention_heads = {a}\nintermediate_size = {f}\nmax_position_embeddings = 128\n\n\
         [data]\ncorpus = [{corpus}]\ntokenizer = {tok:?}\nheld_out_every = 4\n\
         eval_max_seq_length = {EVAL_LEN}\n\n\
         [instances]\nmax_seq_length = {seq_len}\nmasked_lm_prob = {m}\nsentence_task = \"sop\"\n\
         single_chunk = \"{single}\"\n\n\
         [schedule]\npeak = {peak}\nwarmup_steps = {warm}\ntotal_steps = {steps}\n\n\
         [run]\nsteps = {steps}\nbatch_size = {b}\nlog_every = 10\neval_every = 0\neval_batches = {eb}\n\
         checkpoint_every = {ckpt}\ndevice = \"{device}\"\n{init}",
        e = r.embedding,
        h = r.hidden,
        l = r.layers,
        a = r.heads,
        f = r.ffn,
        tok = tokenizer.display().to_string(),
        m = r.mask_prob,
        single = if r.skip_single_chunks {
            "skip"
        } else {
            "random-next"
        },
        warm = ((steps as f64 * r.warmup).round() as u64).max(1),
        b = r.batch,
        eb = eval_batches(r.batch),
        ckpt = (steps / 4).div_ceil(10).max(1) * 10,
    )
}

/// Runs one phase in `dir` (resuming it when it has checkpoints, skipping it when it has
/// finished); returns the seconds its training took (kept in `dir/wall_s`; the part of an
/// interrupted invocation is not counted).
fn run_phase(dir: &Path, text: &str, device: &str) -> anyhow::Result<f64> {
    let wall_file = dir.join("wall_s");
    let previous: f64 = std::fs::read_to_string(&wall_file)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0.0);
    if dir.join("final_eval.json").is_file() {
        return Ok(previous);
    }
    std::fs::create_dir_all(dir)?;
    let config = dir.join("pretrain.toml");
    let resume = dir.join("checkpoints").exists();
    if !resume {
        std::fs::write(&config, text)?;
    }
    let start = Instant::now();
    pretrain(device, &config, dir, resume, &[])?;
    let wall = previous + start.elapsed().as_secs_f64();
    std::fs::write(&wall_file, format!("{wall:.1}\n"))?;
    Ok(wall)
}

/// A trained vocabulary of `size` pieces on `corpus` under `out` (trained once).
fn vocabulary(
    out: &Path,
    corpus: &[PathBuf],
    size: usize,
    device: &str,
) -> anyhow::Result<PathBuf> {
    let dir = out.join(format!("tokenizer-{size}"));
    if !dir.join("spiece.model").is_file() {
        eprintln!(
            "==== training a {size}-piece vocabulary -> {}",
            dir.display()
        );
        let mut args: Vec<String> = vec!["tokenizer".into(), "train".into(), "--input".into()];
        args.extend(corpus.iter().map(|c| c.display().to_string()));
        args.extend([
            "--vocab-size".into(),
            size.to_string(),
            "--out".into(),
            dir.display().to_string(),
        ]);
        albert(device, &args)?;
    }
    Ok(dir)
}

/// What the table shows of one finished variant (also `OUT/<name>/grid.json`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Row {
    name: String,
    change: String,
    steps: u64,
    batch: usize,
    seq_len: usize,
    tokens: u64,
    wall_s: f64,
    final_eval: FinalEval,
}

fn run_variant(
    args: &RecipeGridArgs,
    out: &Path,
    corpus: &[PathBuf],
    base_tokenizer: &Path,
    (name, change, r): &(&'static str, &'static str, Recipe),
) -> anyhow::Result<Row> {
    let dir = out.join(name);
    let record = dir.join("grid.json");
    if let Ok(text) = std::fs::read_to_string(&record) {
        let row: Row = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e} (delete it to rerun)", record.display()))?;
        if row.final_eval.instances >= FINAL_EVAL_INSTANCES {
            return Ok(row);
        }
    }
    let tokenizer = match r.vocab {
        Some(size) => vocabulary(out, corpus, size, &args.device)?,
        None => base_tokenizer.to_path_buf(),
    };
    let tokens = args.steps * (BASE.batch * BASE.seq_len) as u64;
    eprintln!("==== recipe {name}: {change} -> {}", dir.display());
    let phase = |seq_len, peak, steps, init| Phase {
        corpus,
        tokenizer: &tokenizer,
        seq_len,
        peak,
        steps,
        init,
        device: &args.device,
    };
    let (final_dir, steps, wall) = match r.long_phase {
        None => {
            let steps = steps_for(tokens, r.batch, r.seq_len);
            let text = config(r, &phase(r.seq_len, r.peak, steps, None));
            let wall = run_phase(&dir, &text, &args.device)?;
            (dir.clone(), steps, wall)
        }
        Some(share) => {
            let long_tokens = (tokens as f64 * share) as u64;
            let (first, second) = (dir.join("phase1"), dir.join("phase2"));
            let s1 = steps_for(tokens - long_tokens, r.batch, r.seq_len);
            let text = config(r, &phase(r.seq_len, r.peak, s1, None));
            let w1 = run_phase(&first, &text, &args.device)?;
            let s2 = steps_for(long_tokens, r.batch, 128);
            let init = first.join("model");
            let text = config(r, &phase(128, r.peak / 2.0, s2, Some(&init)));
            let w2 = run_phase(&second, &text, &args.device)?;
            (second, s1 + s2, w1 + w2)
        }
    };
    let row = Row {
        name: name.to_string(),
        change: change.to_string(),
        steps,
        batch: r.batch,
        seq_len: r.seq_len,
        tokens,
        wall_s: wall,
        final_eval: scored_eval(&final_dir, r.batch, &args.device)?,
    };
    std::fs::write(&record, serde_json::to_string_pretty(&row)?)?;
    Ok(row)
}

/// Multiply-adds of one training token's forward pass, for the table's cost column: the
/// embedding projection, every layer application (Q, K, V, output, FFN, and the attention
/// scores and context over `seq_len` positions) and the MLM head on the masked share (an
/// 8,000-piece vocabulary unless the recipe trains another).
fn macs_per_token(r: &Recipe, seq_len: usize) -> f64 {
    let (e, h, f, n) = (
        r.embedding as f64,
        r.hidden as f64,
        r.ffn as f64,
        seq_len as f64,
    );
    let v = r.vocab.unwrap_or(8000) as f64;
    let layer = 4.0 * h * h + 2.0 * h * f + 2.0 * n * h;
    e * h + r.layers as f64 * layer + r.mask_prob * (h * e + e * v)
}

/// Training compute of a recipe relative to the base on the same tokens.
fn relative_cost(r: &Recipe) -> f64 {
    let cost = |r: &Recipe| match r.long_phase {
        None => macs_per_token(r, r.seq_len),
        Some(share) => {
            (1.0 - share) * macs_per_token(r, r.seq_len) + share * macs_per_token(r, 128)
        }
    };
    cost(r) / cost(&BASE)
}

/// The Markdown table of the finished rows.
fn table(rows: &[Row]) -> String {
    let recipes = variants();
    let mut t = String::from(
        "| variant | change from the base | steps × batch × tokens | compute (× base) | wall (s) | held-out MLM (× unigram) | SOP (± SE) | NSP |\n\
         |---|---|---|---:|---:|---|---|---:|\n",
    );
    for r in rows {
        let cost = recipes
            .iter()
            .find(|v| v.0 == r.name)
            .map_or(f64::NAN, |v| relative_cost(&v.2));
        let e = &r.final_eval;
        let se = (e.sop_accuracy * (1.0 - e.sop_accuracy) / e.instances.max(1) as f64).sqrt();
        let shape = if r.name == "seq-64-then-128" {
            format!("{} × {} × 64 then 128", r.steps, r.batch)
        } else {
            format!("{} × {} × {}", r.steps, r.batch, r.seq_len)
        };
        t += &format!(
            "| {} | {} | {shape} | {cost:.2} | {:.0} | {:.4} ({:.2}×) | {:.3} ± {se:.3} | {:.3} |\n",
            r.name,
            r.change,
            r.wall_s,
            e.masked_lm_accuracy,
            e.masked_lm_accuracy / e.masked_lm_unigram_baseline,
            e.sop_accuracy,
            e.nsp_accuracy,
        );
    }
    if let Some(r) = rows.first() {
        t += &format!(
            "\n{} tokens per run; held-out instances per task: {} of {EVAL_LEN} tokens. \
             The vocabulary rows predict other pieces (compare their × unigram column).\n",
            r.tokens, r.final_eval.instances
        );
    }
    t
}

pub(crate) fn recipe_grid(args: &RecipeGridArgs) -> anyhow::Result<()> {
    let all = variants();
    if args.list {
        for (name, change, _) in &all {
            println!("{name:16} {change}");
        }
        return Ok(());
    }
    for v in &args.variants {
        anyhow::ensure!(
            all.iter().any(|(name, _, _)| name == v),
            "--variants: no variant {v:?} (`--list` prints them)"
        );
    }
    let out = absolute(&args.out)?;
    let corpus = corpus_files(&args.corpus)?;
    std::fs::create_dir_all(&out)?;
    let base_tokenizer = match &args.tokenizer {
        Some(dir) => tokenizer_dir(dir)?,
        None => vocabulary(&out, &corpus, 8000, &args.device)?,
    };
    let mut rows = Vec::new();
    for v in all
        .iter()
        .filter(|(name, _, _)| args.variants.is_empty() || args.variants.iter().any(|x| x == name))
    {
        rows.push(run_variant(args, &out, &corpus, &base_tokenizer, v)?);
        let t = table(&rows);
        std::fs::write(out.join("table.md"), &t)?;
        std::fs::write(out.join("grid.json"), serde_json::to_string_pretty(&rows)?)?;
    }
    println!("{}", table(&rows));
    eprintln!("written to {}", out.join("table.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant differs from the base in what its name says, and trains on the base's
    /// number of tokens.
    #[test]
    fn variants_change_one_knob_on_one_budget() {
        let all = variants();
        let names: std::collections::HashSet<_> = all.iter().map(|v| v.0).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
        assert_eq!(all[0].2, BASE);
        for (name, _, r) in &all[1..] {
            assert_ne!(*r, BASE, "{name} changes something");
        }
        let tokens = 1000 * 32 * 64;
        assert_eq!(steps_for(tokens, 64, 64), 500);
        assert_eq!(steps_for(tokens, 32, 128), 500);
        assert_eq!(steps_for(tokens, 16, 64), 2000);
        // Compute per token: depth doubles the layers' share, batch and masking-free knobs
        // cost nothing extra.
        let by_name = |n: &str| all.iter().find(|v| v.0 == n).expect(n).2.clone();
        assert_eq!(relative_cost(&BASE), 1.0);
        assert_eq!(relative_cost(&by_name("batch-64")), 1.0);
        assert_eq!(relative_cost(&by_name("lr-0.02")), 1.0);
        let deep = relative_cost(&by_name("layers-8"));
        assert!(deep > 1.7 && deep < 2.0, "{deep}");
        assert!(relative_cost(&by_name("width-256")) > 3.0);
        assert!(relative_cost(&by_name("seq-128")) > 1.0);
    }

    /// The written config parses as albert-pretrain's, with the shared evaluation length.
    #[test]
    fn configs_parse_as_the_pretrain_config() {
        for (name, _, r) in variants() {
            let init = r.long_phase.map(|_| Path::new("/m"));
            let text = config(
                &r,
                &Phase {
                    corpus: &[PathBuf::from("/c.txt")],
                    tokenizer: Path::new("/tok"),
                    seq_len: r.seq_len,
                    peak: r.peak,
                    steps: 100,
                    init,
                    device: "cpu",
                },
            );
            let c = albert_pretrain::train::PretrainConfig::from_toml(&text, Path::new("/x.toml"))
                .unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
            assert_eq!(c.eval_instances().max_seq_length, EVAL_LEN);
            assert_eq!(c.instances.max_seq_length, r.seq_len);
            assert_eq!(c.model.hidden_size, r.hidden);
            assert_eq!(c.model.num_hidden_layers, r.layers);
            assert_eq!(c.instances.masked_lm_prob, r.mask_prob);
            assert_eq!(
                c.instances.single_chunk == albert_pretrain::data::SingleChunkPolicy::Skip,
                r.skip_single_chunks
            );
            assert_eq!(c.run.batch_size, r.batch);
            assert_eq!(
                4 * c.run.eval_batches * c.run.batch_size,
                FINAL_EVAL_INSTANCES
            );
            assert_eq!(c.schedule.total_steps, 100);
            assert_eq!(c.schedule.warmup_steps, (100.0 * r.warmup) as u64);
            c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
