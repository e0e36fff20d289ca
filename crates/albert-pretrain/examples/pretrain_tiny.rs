//! Pretrain a small ALBERT (E 64, H 128, 4 shared layers; masked LM + sentence-order
//! prediction, LAMB) on the repository's built-in corpus, then print the held-out evaluation:
//! the recipe of `cargo xtask train` (900 steps, 3–5 minutes on 2 cores, masked-LM accuracy
//! well above the unigram baseline). The same run as
//! `albert pretrain --config FILE.toml --out DIR`, driven from Rust; everything (metrics log,
//! checkpoints, the model in Hugging Face layout) lands under the output directory.
//!
//! ```sh
//! cargo run --release -p albert-pretrain --example pretrain_tiny -- runs/example-pretrain [STEPS]
//! ```

use std::path::{Path, PathBuf};

use albert_pretrain::train::{PretrainConfig, TrainOptions, pretrain};
use burn::tensor::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "runs/example-pretrain".into()),
    );
    let steps: u64 = args.next().map_or(Ok(900), |s| s.parse())?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let toml = format!(
        r#"
[model]
embedding_size = 64
hidden_size = 128
num_hidden_layers = 4
num_attention_heads = 2
intermediate_size = 512
max_position_embeddings = 128

[data]
corpus = [{corpus:?}]
tokenizer = {tokenizer:?}
held_out_every = 4

[instances]
max_seq_length = 64

[schedule]
peak = 0.01
warmup_steps = {warmup}
total_steps = {steps}

[run]
steps = {steps}
batch_size = 32
log_every = 10
eval_every = 0
checkpoint_every = {steps}
"#,
        corpus = repo.join("data/pretrain/austen.txt.gz"),
        tokenizer = repo.join("models/albert-mini-mixed"),
        warmup = steps / 10,
    );
    let config = PretrainConfig::from_toml(&toml, Path::new("example.toml"))?;
    // The fused CPU kernels (optional: without them burn's own ops run).
    albert_kernels::install();
    let options = TrainOptions {
        progress: true,
        ..TrainOptions::default()
    };
    let summary = pretrain(&config, &out, &[Device::flex()], &options)?;
    if let Some(eval) = summary.final_eval {
        println!(
            "held-out masked-LM accuracy {:.3} (unigram baseline {:.3}), SOP accuracy {:.3}",
            eval.masked_lm_accuracy, eval.masked_lm_unigram_baseline, eval.sop_accuracy
        );
    }
    if let Some(model) = summary.model_dir {
        println!("model: {}", model.display());
    }
    Ok(())
}
