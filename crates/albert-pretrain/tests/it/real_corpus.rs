//! Instance creation on a real corpus (`../shared/data/pretrain/sample.txt`, the fixture's
//! SentencePiece vocabulary): every instance well-formed.

use crate::common;

use std::path::{Path, PathBuf};

use albert_pretrain::data::{DataConfig, TokenizedCorpus, epoch_instances};
use albert_tokenizer::AlbertTokenizer;

fn shared() -> Option<PathBuf> {
    common::shared_path("data").and_then(|d| d.parent().map(Path::to_path_buf))
}

#[test]
fn instances_from_sample_txt_are_well_formed() {
    let Some(shared) = shared() else { return };
    let tok = AlbertTokenizer::from_path(shared.join("fixtures/tokenizer/spiece.model"))
        .expect("tokenizer");
    let corpus =
        TokenizedCorpus::from_files(&[shared.join("data/pretrain/sample.txt")], &tok, true)
            .expect("corpus");
    let stats = corpus.stats();
    assert!(
        stats.documents >= 1 && stats.segments > stats.documents,
        "{stats:?}"
    );
    let config = DataConfig {
        max_seq_length: 128,
        ..DataConfig::default()
    };
    let instances = epoch_instances(&corpus, &config, 0);
    assert!(instances.len() > 100, "{} instances", instances.len());
    let s = corpus.specials;
    for inst in &instances {
        let n = inst.input_ids.len();
        assert!((5..=128).contains(&n));
        assert_eq!(inst.input_ids[0], s.cls);
        assert_eq!(inst.input_ids[n - 1], s.sep);
        assert_eq!(
            inst.input_ids.iter().filter(|&&t| t == s.sep).count()
                - usize::from(inst.masked_labels.contains(&s.sep)),
            2
        );
        let first_b = inst
            .segment_ids
            .iter()
            .position(|&x| x == 1)
            .expect("segment B");
        assert_eq!(inst.input_ids[first_b - 1], s.sep);
        assert!(inst.masked_positions.len() <= 20 && !inst.masked_positions.is_empty());
        assert!(
            inst.masked_positions
                .iter()
                .all(|&p| p > 0 && p < n - 1 && p != first_b - 1)
        );
    }
    let swapped =
        instances.iter().filter(|i| i.sentence_label == 1).count() as f64 / instances.len() as f64;
    assert!((0.4..0.7).contains(&swapped), "label-1 share {swapped}");
}
