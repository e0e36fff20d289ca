//! Tokenizer throughput (tokens/s and bytes/s; one thread and every core) over the pretraining
//! corpora, and the time to train a 30k vocabulary on 10 MB of them.
//!
//! `cargo bench -p albert-benches --bench tokenizer`. Tokenizers: the team fixture's
//! `spiece.model` (native, HF-slow behaviour) and `tokenizer.json` (the `tokenizers` crate).

use std::time::Duration;

use albert_benches::{pretrain_lines, shared_dir};
use albert_tokenizer::{AlbertTokenizer, EncodeOptions, TrainerConfig, train};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

const ENCODE_BYTES: usize = 2 << 20;

fn encode_all(tok: &AlbertTokenizer, lines: &[String]) -> usize {
    lines
        .par_iter()
        .map(|l| {
            tok.encode(l, None, &EncodeOptions::default())
                .map_or(0, |e| e.ids.len())
        })
        .sum()
}

fn encode(c: &mut Criterion) {
    let lines = pretrain_lines(ENCODE_BYTES);
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let fixture = shared_dir().join("fixtures/tokenizer");
    for model in ["spiece.model", "tokenizer.json"] {
        let tok = AlbertTokenizer::from_path(fixture.join(model)).expect("tokenizer");
        let tokens = encode_all(&tok, &lines);
        eprintln!(
            "{model}: {} lines, {bytes} bytes, {tokens} tokens",
            lines.len()
        );
        for (unit, throughput) in [
            ("tokens", Throughput::Elements(tokens as u64)),
            ("bytes", Throughput::Bytes(bytes as u64)),
        ] {
            let mut group = c.benchmark_group(format!("encode_{unit}"));
            group
                .throughput(throughput)
                .sample_size(10)
                .measurement_time(Duration::from_secs(8));
            for threads in [1, rayon::current_num_threads()] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("pool");
                group.bench_with_input(
                    BenchmarkId::new(model, format!("{threads}-threads")),
                    &threads,
                    |b, _| b.iter(|| pool.install(|| encode_all(&tok, &lines))),
                );
            }
            group.finish();
        }
    }
}

fn training(c: &mut Criterion) {
    let lines = pretrain_lines(10 << 20);
    let dir = std::env::temp_dir().join(format!("albert-bench-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, lines.join("\n")).expect("write corpus");
    let config = TrainerConfig {
        vocab_size: 30000,
        ..TrainerConfig::default()
    };
    let mut group = c.benchmark_group("train");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    group.bench_function("unigram_30k_on_10MB", |b| {
        b.iter(|| train(std::slice::from_ref(&corpus), &config).expect("train"))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, encode, training);
criterion_main!(benches);
