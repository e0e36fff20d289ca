//! Fine-tune a pretrained ALBERT for text classification on a GLUE-style TSV (or CSV / JSON
//! lines) file, keep the best model by dev accuracy in Hugging Face layout, and print the dev
//! metrics of each evaluation. The same run as `albert finetune --task classification`.
//!
//! ```sh
//! cargo run --release -p albert-heads --example finetune -- \
//!     models/albert-mini-mixed train.tsv dev.tsv runs/example-finetune
//! ```

use std::path::{Path, PathBuf};

use albert_core::HfConfig;
use albert_heads::finetune::{FinetuneConfig, RunFiles, Start, Task, TaskRun};
use albert_tokenizer::AlbertTokenizer;
use burn::tensor::Device;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, train, dev, out] = args.as_slice() else {
        return Err("usage: finetune MODEL_DIR TRAIN DEV OUT_DIR".into());
    };
    let model = Path::new(model);
    let hf = HfConfig::from_file(model.join("config.json"))?;
    let tokenizer = AlbertTokenizer::from_path(model)?;
    let config = FinetuneConfig {
        epochs: 2,
        learning_rate: 1e-4,
        max_seq_length: 128,
        ..FinetuneConfig::default()
    };
    let tokenizer_files: Vec<PathBuf> = ["spiece.model", "tokenizer.json"]
        .iter()
        .map(|f| model.join(f))
        .filter(|p| p.is_file())
        .collect();
    albert_kernels::install();
    let device = Device::flex();
    let weights = model.join("model.safetensors");
    let run = TaskRun {
        hf: &hf,
        tokenizer: &tokenizer,
        start: Start::Pretrained(&weights),
        train: Path::new(train),
        dev: Path::new(dev),
        config: &config,
        main_metric: Task::Classification.main_metric(None),
        files: RunFiles {
            out: Path::new(out),
            tokenizer_files: &tokenizer_files,
            progress: true,
            resume: false,
        },
        device: &device,
    };
    let summary = Task::Classification.finetune(&run)?;
    for e in &summary.evaluations {
        println!("step {} (epoch {}): {:?}", e.step, e.epoch, e.metrics);
    }
    println!(
        "best: step {} {:?}; model in {}",
        summary.best.step,
        summary.best.metrics,
        summary.model_dir.display()
    );
    Ok(())
}
