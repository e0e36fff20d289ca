//! The tagging fine-tuning loop on real data: a tiny model trained on 400 Brown sentences
//! (universal POS tags) beats the majority-tag baseline on held-out sentences by a wide margin,
//! and writes its model, log and predictions; unknown tags are named with file and line.

use crate::common;

use albert_core::init::ParamInit;
use albert_heads::AlbertForTokenClassification;
use albert_heads::finetune::tagging::{Tagging, encode, tag_set};
use albert_heads::tasks::conll::read_conll;
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;

#[test]
fn tagging_loop_beats_the_majority_baseline() {
    let (Some(conll), Some(spm)) = (
        shared_path("data/token-tagging/brown_pos/train.conll"),
        shared_path("fixtures/tokenizer/spiece.model"),
    ) else {
        return;
    };
    let tokenizer = AlbertTokenizer::from_path(&spm).expect("tokenizer");
    let sentences = read_conll(&conll).expect("conll");
    let (train, dev) = (&sentences[..400], &sentences[400..500]);
    let (tags, most) = tag_set(train);
    assert!(
        tags.contains(&"NOUN".to_string()) && tags.len() >= 10,
        "{tags:?}"
    );
    let train_data = encode(&tokenizer, train, &tags, &most, 64, &conll).expect("train");
    let dev_data = encode(&tokenizer, dev, &tags, &most, 64, &conll).expect("dev");
    let majority = dev
        .iter()
        .flat_map(|s| &s.tags)
        .filter(|t| **t == most)
        .count() as f64
        / dev.iter().map(|s| s.tags.len()).sum::<usize>() as f64;

    let albert = common::tiny_albert(tokenizer.vocab_size(), 64).with_labels(Some(tags.clone()));
    let device = crate::common::cpu();
    let model = AlbertForTokenClassification::new(
        &albert,
        tags.len(),
        &mut ParamInit::new(3, 0.02),
        &device,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let config = common::quick(64, 5);
    let summary = common::train::<Tagging>(
        model,
        &albert,
        &train_data,
        &dev_data,
        &config,
        &spm,
        tmp.path(),
    );
    let best = summary.best.metrics["accuracy"];
    eprintln!(
        "majority {majority:.3}; per epoch {:?}",
        summary.evaluations
    );
    assert!(
        best > majority + 0.25,
        "token accuracy {best} vs majority {majority}"
    );
    assert!(
        !summary.best.metrics.contains_key("f1"),
        "POS tags are not chunks"
    );
    assert!(summary.model_dir.join("model.safetensors").is_file());
    let preds = std::fs::read_to_string(tmp.path().join("dev_predictions.jsonl")).expect("preds");
    assert_eq!(preds.lines().count(), 100);

    // A tag the model does not know: file and line.
    let bad = tmp.path().join("bad.conll");
    std::fs::write(&bad, "The\tDET\ncat\tFELINE\n").expect("write");
    let bad_sentences = read_conll(&bad).expect("read");
    let e = encode(&tokenizer, &bad_sentences, &tags, &most, 64, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.conll:2") && e.contains("FELINE"), "{e}");
}
