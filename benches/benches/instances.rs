//! Pretraining-instance creation throughput (SOP pairs, n-gram masking, on every core) over the
//! repository's Austen corpus with the team fixture's vocabulary.
//!
//! `cargo bench -p albert-benches --bench instances`.

use std::time::Duration;

use albert_benches::{repo_dir, shared_dir};
use albert_pretrain::data::{DataConfig, TokenizedCorpus, epoch_instances};
use albert_tokenizer::AlbertTokenizer;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn instances(c: &mut Criterion) {
    let tok = AlbertTokenizer::from_path(shared_dir().join("fixtures/tokenizer/spiece.model"))
        .expect("fixture tokenizer");
    let corpus = TokenizedCorpus::from_files(
        &[repo_dir().join("data/pretrain/austen.txt.gz")],
        &tok,
        true,
    )
    .expect("corpus");
    let mut group = c.benchmark_group("instances");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for seq in [128, 512] {
        let config = DataConfig {
            max_seq_length: seq,
            ..DataConfig::default()
        };
        let n = epoch_instances(&corpus, &config, 0).len();
        group.throughput(Throughput::Elements(n as u64));
        let mut epoch = 0;
        group.bench_with_input(BenchmarkId::from_parameter(seq), &config, |b, config| {
            b.iter(|| {
                epoch += 1;
                epoch_instances(&corpus, config, epoch).len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, instances);
criterion_main!(benches);
