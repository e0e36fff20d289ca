//! `albert-bench`: measures one scenario in this process and prints one JSON record on stdout
//! (progress on stderr). `cargo xtask bench` runs it once per scenario and repetition, so each
//! record's peak RSS belongs to that scenario alone, interleaved with `pytorch_bench.py`.
//!
//! ```text
//! albert-bench model --size base --mode train --batch-size 8 --max-seq-length 128 [--device cpu] [--iters 5]
//! albert-bench tokenize [--tokenizer FILE] [--corpus FILE]
//! albert-bench instances [--tokenizer FILE] [--corpus FILE] [--max-seq-length 128]
//! albert-bench matmul --m 1024 --k 768 --n 3072 [--iters 15]
//! albert-bench peak [--precision bf16|int8]
//! albert-bench serve [--model models/albert-mini-mixed] [--requests 2000] [--concurrency 1,8,32] [--precision int8]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use albert_benches::measure::{Record, run_model, time_iterations};
use albert_benches::peak::{bf16_peak_gflops, int8_peak_gops, peak_gflops};
use albert_benches::scenario::{Mode, Scenario, Size};
use albert_benches::{repo_dir, shared_dir};
use albert_pretrain::data::{DataConfig, TokenizedCorpus, epoch_instances};
use albert_tokenizer::{AlbertTokenizer, EncodeOptions};
use clap::{Parser, Subcommand};
use rayon::prelude::*;

#[derive(Debug, Parser)]
#[command(
    name = "albert-bench",
    about = "Measure one benchmark scenario; prints a JSON record"
)]
struct Cli {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Inference or a training step of an ALBERT size at one batch shape.
    Model {
        /// tiny, base or large.
        #[arg(long)]
        size: Size,
        /// infer or train.
        #[arg(long)]
        mode: Mode,
        /// Sequences per batch.
        #[arg(long = "batch-size", alias = "batch")]
        batch: usize,
        /// Tokens per sequence.
        #[arg(long = "max-seq-length", alias = "seq")]
        seq: usize,
        /// cpu, wgpu, cuda (as `albert --device`).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Precision of the products: fp32, bf16, fp16 or int8 (inference only), as `albert
        /// --precision`; the record's implementation is then `burn-bf16` etc.
        #[arg(long, default_value = "fp32", value_parser = albert_runner::device::precision_parser())]
        precision: albert_core::precision::Precision,
        /// Untimed iterations first.
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Timed iterations.
        #[arg(long, default_value_t = 5)]
        iters: usize,
    },
    /// `albert serve` under a bounded load on 127.0.0.1: throughput and p50/p99 latency per
    /// concurrency, every response checked against the pipeline's answer.
    Serve {
        /// Model directory (served for its config's task; embed for a body-only model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Requests per concurrency level.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Concurrency levels, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        concurrency: Vec<usize>,
        /// The server's --max-batch.
        #[arg(long, default_value_t = 32)]
        max_batch: usize,
        /// The server's --max-wait-ms.
        #[arg(long, default_value_t = 0)]
        max_wait_ms: u64,
        /// cpu, wgpu, cuda (as `albert --device`).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Precision of the products: fp32, bf16, fp16 or int8 (as `albert serve
        /// --precision`).
        #[arg(long, default_value = "fp32", value_parser = albert_runner::device::precision_parser())]
        precision: albert_core::precision::Precision,
    },
    /// Tokenizer encode throughput over a corpus, on every core.
    Tokenize {
        #[command(flatten)]
        text: TextArgs,
    },
    /// Pretraining-instance creation (SOP pairs, n-gram masking) throughput, on every core.
    Instances {
        #[command(flatten)]
        text: TextArgs,
        /// `max_seq_length` of the instances.
        #[arg(long = "max-seq-length", alias = "seq", default_value_t = 128)]
        seq: usize,
    },
    /// One row-major f32 product `[m, k]·[k, n]` through the kernels' `gemm` call (the CPU
    /// backend's matmul speed on its own, to compare with `pytorch_bench.py matmul`).
    Matmul {
        #[arg(long)]
        m: usize,
        #[arg(long)]
        k: usize,
        #[arg(long)]
        n: usize,
        /// Untimed iterations first.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Timed iterations.
        #[arg(long, default_value_t = 15)]
        iters: usize,
    },
    /// The machine's peak multiply-add rate on every core: f32 FMA, or with `--precision bf16`
    /// bf16 dot products (AMX tiles, AVX512-BF16; the f32 figure on a CPU without bf16 units),
    /// or with `--precision int8` byte dot products (AVX512-VNNI; "gflops" then counts GOPS).
    Peak {
        /// fp32, bf16 or int8.
        #[arg(long, default_value = "fp32", value_parser = albert_runner::device::precision_parser())]
        precision: albert_core::precision::Precision,
    },
}

#[derive(Debug, clap::Args)]
struct TextArgs {
    /// SentencePiece model or tokenizer.json [default: ../shared/fixtures/tokenizer/spiece.model]
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Corpus file, plain or .gz [default: the repository's data/pretrain/austen.txt.gz]
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Timed iterations.
    #[arg(long, default_value_t = 3)]
    iters: usize,
}

impl TextArgs {
    fn load(&self) -> Result<(AlbertTokenizer, PathBuf), String> {
        let tok_path = self
            .tokenizer
            .clone()
            .unwrap_or_else(|| shared_dir().join("fixtures/tokenizer/spiece.model"));
        let tok = AlbertTokenizer::from_path(&tok_path)
            .map_err(|e| format!("{}: {e}", tok_path.display()))?;
        let corpus = self
            .corpus
            .clone()
            .unwrap_or_else(|| repo_dir().join("data/pretrain/austen.txt.gz"));
        Ok((tok, corpus))
    }
}

fn run(what: What) -> Result<String, String> {
    let record = match what {
        What::Model {
            size,
            mode,
            batch,
            seq,
            device,
            precision,
            warmup,
            iters,
        } => {
            if batch == 0 || seq < 4 || iters == 0 {
                return Err("--batch-size and --iters must be ≥ 1 and --max-seq-length ≥ 4".into());
            }
            let max = size.config().max_position_embeddings;
            if seq > max {
                return Err(format!(
                    "--max-seq-length {seq} exceeds the model's {max} positions"
                ));
            }
            if precision.inference_only() && mode == Mode::Train {
                return Err(format!(
                    "--precision {precision} is for inference only: --mode train needs fp32, \
                     bf16 or fp16"
                ));
            }
            let _precision = albert_core::precision::autocast(precision);
            let dev = albert_runner::device::device(&device).map_err(|e| e.to_string())?;
            albert_runner::device::probe(&dev, &device).map_err(|e| e.to_string())?;
            let scenario = Scenario {
                size,
                mode,
                batch,
                seq,
            };
            eprintln!(
                "albert-bench: {} on {device}, {precision}: {warmup} warm-up + {iters} timed iterations",
                scenario.name()
            );
            let record = run_model(scenario, &dev, &device, warmup, iters);
            match precision {
                albert_core::precision::Precision::Fp32 => record,
                p @ albert_core::precision::Precision::Int8 => Record {
                    implementation: format!("burn-{p}"),
                    int8_path: (device == "cpu")
                        .then(|| albert_kernels::int8_path().name().to_string()),
                    ..record
                },
                p => Record {
                    implementation: format!("burn-{p}"),
                    bf16_path: (device == "cpu").then(|| {
                        albert_kernels::bf16_path()
                            .map_or("f32-gemm".into(), |p| format!("{p:?}").to_lowercase())
                    }),
                    ..record
                },
            }
        }
        What::Tokenize { text } => {
            let (tok, corpus) = text.load()?;
            let lines = albert_tokenizer::lines::read_lines(&corpus).map_err(|e| e.to_string())?;
            let encode = || {
                lines
                    .par_iter()
                    .map(|l| {
                        tok.encode(l, None, &EncodeOptions::default())
                            .map_or(0, |e| e.ids.len())
                    })
                    .sum::<usize>()
            };
            let tokens = encode() as f64;
            eprintln!(
                "albert-bench: tokenize {} lines ({tokens} tokens) of {}",
                lines.len(),
                corpus.display()
            );
            let seconds = time_iterations(text.warmup, text.iters, || {
                std::hint::black_box(encode());
            });
            Record::burn(
                "cpu",
                "tokenize".into(),
                seconds,
                (tokens, "tokens"),
                tokens,
            )
        }
        What::Instances { text, seq } => {
            let (tok, corpus) = text.load()?;
            let corpus_data =
                TokenizedCorpus::from_files(std::slice::from_ref(&corpus), &tok, true)
                    .map_err(|e| e.to_string())?;
            let config = DataConfig {
                max_seq_length: seq,
                ..DataConfig::default()
            };
            config.validate().map_err(|e| e.to_string())?;
            let mut epoch = 0;
            let mut count = 0;
            let seconds = time_iterations(text.warmup, text.iters, || {
                count = epoch_instances(&corpus_data, &config, epoch).len();
                epoch += 1;
            });
            eprintln!(
                "albert-bench: {count} instances of ≤ {seq} tokens per epoch of {}",
                corpus.display()
            );
            Record::burn(
                "cpu",
                format!("instances-{seq}"),
                seconds,
                (count as f64, "instances"),
                0.0,
            )
        }
        What::Matmul {
            m,
            k,
            n,
            warmup,
            iters,
        } => {
            if m == 0 || k == 0 || n == 0 || iters == 0 {
                return Err("--m, --k, --n and --iters must be ≥ 1".into());
            }
            let a: Vec<f32> = (0..m * k).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i % 13) as f32 - 6.0) / 6.0).collect();
            eprintln!(
                "albert-bench: matmul [{m}, {k}]·[{k}, {n}]: {warmup} warm-up + {iters} timed"
            );
            let seconds = time_iterations(warmup, iters, || {
                std::hint::black_box(albert_kernels::matmul_rows(&a, &b, m, k, n));
            });
            Record {
                flops: 2.0 * (m * k * n) as f64,
                ..Record::burn(
                    "cpu",
                    format!("matmul-{m}x{k}x{n}"),
                    seconds,
                    (1.0, "products"),
                    0.0,
                )
            }
        }
        What::Serve {
            model,
            requests,
            concurrency,
            max_batch,
            max_wait_ms,
            device,
            precision,
        } => {
            let model = model.unwrap_or_else(|| repo_dir().join("models/albert-mini-mixed"));
            let bench = albert_benches::serve::ServeBench {
                requests,
                concurrency,
                max_batch,
                max_wait_ms,
                device,
                precision,
            };
            return albert_benches::serve::run(&model, &bench).map(|v| v.to_string());
        }
        What::Peak { precision } => {
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let (gflops, isa) = match precision {
                albert_core::precision::Precision::Fp32 => {
                    let (g, isa) = peak_gflops(threads);
                    (g, isa.to_string())
                }
                albert_core::precision::Precision::Bf16 => bf16_peak_gflops(threads),
                albert_core::precision::Precision::Int8 => match int8_peak_gops(threads) {
                    Some(peak) => peak,
                    None => {
                        return Err("albert-bench peak --precision int8: this CPU has no \
                                    AVX512-VNNI (the int8 products run on an emulation)"
                            .into());
                    }
                },
                albert_core::precision::Precision::Fp16 => {
                    return Err(
                        "albert-bench peak: --precision fp32, bf16 or int8 (no fp16 \
                                peak: the CPU kernels run fp16 products in float32)"
                            .into(),
                    );
                }
            };
            eprintln!(
                "albert-bench: {precision} peak {gflops:.0} GFLOP/s ({isa}, {threads} threads)"
            );
            return Ok(serde_json::json!({
                "scenario": "peak",
                "precision": precision.to_string(),
                "gflops": gflops,
                "isa": isa,
                "threads": threads,
            })
            .to_string());
        }
    };
    if let Some(loss) = record.loss
        && !loss.is_finite()
    {
        return Err(format!("{}: training loss is {loss}", record.scenario));
    }
    serde_json::to_string(&record).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    // As the `albert` binary does (ALBERT_MALLOC_TUNING=0 for the A/B).
    albert_kernels::memory::tune_allocator();
    match run(Cli::parse().what) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("albert-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
