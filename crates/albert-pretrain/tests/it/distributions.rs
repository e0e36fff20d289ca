//! The statistics of instance creation against what the original and the paper specify, within
//! sampling tolerance: n-gram lengths 6/11, 3/11, 2/11; replacements 80/10/10; SOP swap and NSP
//! random-next rates 0.5; short targets 10%; and determinism whatever the thread count.

use albert_pretrain::data::{
    DataConfig, Masking, SentenceTask, TokenizedCorpus, derived, epoch_instances,
    instance_from_pair, pairs_from_document,
};
use albert_tokenizer::SpecialIds;
use rand::Rng;

const VOCAB: u32 = 1000;

fn corpus(docs: usize, seed: u64) -> TokenizedCorpus {
    let mut rng = derived(seed, 99, 0);
    let documents = (0..docs)
        .map(|_| {
            (0..rng.random_range(2..12))
                .map(|_| {
                    (0..rng.random_range(5..40))
                        .map(|_| rng.random_range(5..VOCAB))
                        .collect()
                })
                .collect()
        })
        .collect();
    // A third of the pieces continue a word.
    let word_start = (0..VOCAB).map(|id| id < 5 || id % 3 != 0).collect();
    let specials = SpecialIds {
        pad: 0,
        unk: 1,
        cls: 2,
        sep: 3,
        mask: 4,
    };
    TokenizedCorpus::from_documents(documents, word_start, specials)
}

fn within(name: &str, observed: f64, expected: f64, tolerance: f64) {
    assert!(
        (observed - expected).abs() < tolerance,
        "{name}: {observed:.4} vs {expected:.4} ± {tolerance}"
    );
}

#[test]
fn ngram_lengths_follow_one_over_n() {
    let c = corpus(1500, 1);
    let config = DataConfig {
        max_seq_length: 128,
        ..DataConfig::default()
    };
    let mut counts = [0usize; 3];
    for d in 0..c.documents.len() {
        let mut rng = derived(7, 0, d as u64);
        for pair in pairs_from_document(&c.documents, d, &config, &mut rng) {
            let (_, masked) = instance_from_pair(&pair, &c, &config, &mut rng);
            for n in masked.ngram_draws {
                counts[n - 1] += 1;
            }
        }
    }
    let total: usize = counts.iter().sum();
    assert!(total > 5000, "{total} draws");
    for (n, expected) in [(1, 6.0 / 11.0), (2, 3.0 / 11.0), (3, 2.0 / 11.0)] {
        within(
            &format!("p(n={n})"),
            counts[n - 1] as f64 / total as f64,
            expected,
            0.015,
        );
    }
}

#[test]
fn replacements_are_80_10_10_and_targets_are_15_percent() {
    let c = corpus(600, 2);
    let config = DataConfig {
        max_seq_length: 128,
        max_predictions_per_seq: 100,
        ..DataConfig::default()
    };
    let (mut mask, mut kept, mut random, mut targets, mut tokens) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for inst in epoch_instances(&c, &config, 0) {
        tokens += inst.input_ids.len();
        targets += inst.masked_positions.len();
        for (&p, &label) in inst.masked_positions.iter().zip(&inst.masked_labels) {
            match inst.input_ids[p] {
                4 => mask += 1,
                x if x == label => kept += 1,
                _ => random += 1,
            }
        }
    }
    let n = (mask + kept + random) as f64;
    assert!(n > 10_000.0, "{n} targets");
    within("[MASK]", mask as f64 / n, 0.8, 0.012);
    // A random replacement equals the original with probability 1/V.
    within("kept", kept as f64 / n, 0.1 + 0.1 / f64::from(VOCAB), 0.01);
    within(
        "random",
        random as f64 / n,
        0.1 - 0.1 / f64::from(VOCAB),
        0.01,
    );
    // round(0.15 · length) per instance, whole words permitting: close to 15% overall.
    within("masked share", targets as f64 / tokens as f64, 0.15, 0.01);
}

fn label_rate(task: SentenceTask) -> (f64, usize) {
    let c = corpus(3000, 3);
    let config = DataConfig {
        max_seq_length: 96,
        sentence_task: task,
        ..DataConfig::default()
    };
    let (mut ones, mut n) = (0usize, 0usize);
    for d in 0..c.documents.len() {
        let mut rng = derived(11, 0, d as u64);
        for p in pairs_from_document(&c.documents, d, &config, &mut rng) {
            n += 1;
            ones += usize::from(p.label);
        }
    }
    (ones as f64 / n as f64, n)
}

#[test]
fn sop_swaps_and_nsp_replaces_half_of_the_pairs() {
    // Single-segment chunks always get label 1, which pushes the rate above 0.5; the corpus
    // has 2..12 segments per document, so measure with chunks that cannot be single: the rate
    // over all pairs must sit between 0.5 and 0.5 + (single-chunk share).
    for task in [SentenceTask::Sop, SentenceTask::Nsp] {
        let (rate, n) = label_rate(task);
        assert!(n > 5000);
        assert!((0.49..0.6).contains(&rate), "{task:?}: label-1 rate {rate}");
    }
    // With single-segment chunks skipped the SOP rate is exactly a fair coin.
    let c = corpus(3000, 4);
    let config = DataConfig {
        max_seq_length: 96,
        single_chunk: albert_pretrain::data::SingleChunkPolicy::Skip,
        ..DataConfig::default()
    };
    let (mut ones, mut n) = (0usize, 0usize);
    for d in 0..c.documents.len() {
        for p in pairs_from_document(&c.documents, d, &config, &mut derived(5, 0, d as u64)) {
            n += 1;
            ones += usize::from(p.label);
        }
    }
    within("SOP swap rate", ones as f64 / n as f64, 0.5, 0.015);
    let none = DataConfig {
        sentence_task: SentenceTask::None,
        ..config
    };
    let labels: usize = (0..c.documents.len())
        .flat_map(|d| pairs_from_document(&c.documents, d, &none, &mut derived(5, 0, d as u64)))
        .map(|p| usize::from(p.label))
        .sum();
    assert_eq!(labels, 0, "no sentence task: everything in order");
}

#[test]
fn ten_percent_of_documents_get_short_targets() {
    let c = corpus(4000, 5);
    let config = DataConfig {
        max_seq_length: 128,
        ..DataConfig::default()
    };
    let (mut short, mut docs) = (0usize, 0usize);
    for d in 0..c.documents.len() {
        let pairs = pairs_from_document(&c.documents, d, &config, &mut derived(13, 0, d as u64));
        if let Some(p) = pairs.first() {
            docs += 1;
            short += usize::from(p.target_length < 125);
        }
    }
    within(
        "short targets",
        short as f64 / docs as f64,
        0.1 * (1.0 - 1.0 / 124.0),
        0.012,
    );
}

#[test]
fn epochs_are_deterministic_whatever_the_thread_count() {
    let c = corpus(300, 6);
    let config = DataConfig {
        max_seq_length: 64,
        ..DataConfig::default()
    };
    let run = |threads: usize, epoch: u64| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| epoch_instances(&c, &config, epoch))
    };
    let one = run(1, 0);
    assert_eq!(one, run(2, 0));
    assert_eq!(one, run(3, 0));
    assert_ne!(
        one,
        run(1, 1),
        "dynamic masking: a new epoch has new instances"
    );
    // Static masking: epoch k and k + dupe_factor hold the same instances (order reshuffled).
    let stat = DataConfig {
        masking: Masking::Static { dupe_factor: 2 },
        ..config
    };
    let sorted = |mut v: Vec<albert_pretrain::data::Instance>| {
        v.sort_by(|a, b| a.input_ids.cmp(&b.input_ids));
        v
    };
    assert_eq!(
        sorted(epoch_instances(&c, &stat, 0)),
        sorted(epoch_instances(&c, &stat, 2))
    );
    assert_ne!(
        sorted(epoch_instances(&c, &stat, 0)),
        sorted(epoch_instances(&c, &stat, 1))
    );
}
