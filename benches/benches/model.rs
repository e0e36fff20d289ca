//! Inference and training step (forward, MLM + SOP loss, backward, AdamW) per backend compiled
//! in, over a small grid of model size × batch × sequence length.
//!
//! `cargo bench -p albert-benches --bench model` (add `--features wgpu` for the wgpu backend;
//! `ALBERT_BENCH_LARGE=1` adds albert-base/large shapes beyond 8 × 128). For side-by-side
//! ratios against PyTorch use `cargo xtask bench --compare-pytorch`.

use std::time::Duration;

use albert_benches::scenario::{Mode, Scenario, Size, Workload};
use albert_runner::device::{compiled_backends, device};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn grid() -> Vec<(Size, usize, usize)> {
    let mut v = vec![
        (Size::Tiny, 8, 128),
        (Size::Tiny, 32, 64),
        (Size::Tiny, 32, 128),
        (Size::Base, 8, 128),
    ];
    if std::env::var_os("ALBERT_BENCH_LARGE").is_some() {
        v.extend([
            (Size::Base, 8, 256),
            (Size::Base, 16, 128),
            (Size::Large, 8, 128),
        ]);
    }
    v
}

fn model(c: &mut Criterion) {
    for backend in compiled_backends() {
        let Ok(dev) = device(backend) else { continue };
        if albert_runner::device::probe(&dev, backend).is_err() {
            eprintln!("skipping {backend}: no usable adapter");
            continue;
        }
        for mode in [Mode::Infer, Mode::Train] {
            let mut group = c.benchmark_group(format!("{mode}/{backend}"));
            for (size, batch, seq) in grid() {
                let scenario = Scenario {
                    size,
                    mode,
                    batch,
                    seq,
                };
                let slow = size != Size::Tiny;
                group
                    .sample_size(10)
                    .warm_up_time(Duration::from_secs(if slow { 1 } else { 3 }))
                    .measurement_time(Duration::from_secs(if slow { 30 } else { 8 }))
                    .throughput(Throughput::Elements(batch as u64));
                let mut workload = Workload::new(scenario, &dev);
                group.bench_function(
                    BenchmarkId::from_parameter(format!("{size}-{batch}x{seq}")),
                    |b| b.iter(|| workload.step()),
                );
            }
            group.finish();
        }
    }
}

criterion_group!(benches, model);
criterion_main!(benches);
