//! The tagging fine-tuning loop on real data: a tiny model trained on 400 Brown sentences
//! (universal POS tags) beats the majority-tag baseline on held-out sentences by a wide margin,
//! and writes its model, log and predictions; unknown tags are named with file and line.

use std::path::PathBuf;

use crate::common;

use albert_core::init::ParamInit;
use albert_heads::AlbertForTokenClassification;
use albert_heads::finetune::tagging::{Tagging, encode, tag_set};
use albert_heads::tasks::conll::{TaggedSentence, read_conll};
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;

/// A Brown POS file of the shared data (`train` or `dev`), its path, the fixture tokenizer and
/// its path; `None` without `../shared`.
fn brown(file: &str) -> Option<(PathBuf, Vec<TaggedSentence>, AlbertTokenizer, PathBuf)> {
    let conll = shared_path(&format!("data/token-tagging/brown_pos/{file}.conll"))?;
    let spm = shared_path("fixtures/tokenizer/spiece.model")?;
    let tokenizer = AlbertTokenizer::from_path(&spm).expect("tokenizer");
    let sentences = read_conll(&conll).expect("conll");
    Some((conll, sentences, tokenizer, spm))
}

#[test]
fn tagging_loop_beats_the_majority_baseline() {
    let Some((conll, sentences, tokenizer, spm)) = brown("train") else {
        return;
    };
    let (train, dev) = (&sentences[..400], &sentences[400..500]);
    let (tags, most) = tag_set(train);
    assert!(
        tags.contains(&"NOUN".to_string()) && tags.len() >= 10,
        "{tags:?}"
    );
    let train_data = encode(&tokenizer, train, &tags, 64, &conll).expect("train");
    let dev_data = encode(&tokenizer, dev, &tags, 64, &conll).expect("dev");
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
    let e = encode(&tokenizer, &bad_sentences, &tags, 64, &bad)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.conll:2") && e.contains("FELINE"), "{e}");
}

/// Long sentences become windows of at most `max_seq_length` tokens that together label every
/// word once, in order, with its own tag on its first piece; the windows after the first start
/// with the words just before theirs as unlabelled context. With room for whole sentences
/// there is one window per sentence and the same labels.
#[test]
fn long_sentences_are_tagged_in_windows() {
    let Some((conll, sentences, tokenizer, _)) = brown("dev") else {
        return;
    };
    let sentences = &sentences[..200];
    let (tags, _) = tag_set(sentences);
    let whole = encode(&tokenizer, sentences, &tags, 512, &conll).expect("whole");
    assert_eq!(whole.inputs.len(), sentences.len());
    let max_len = 16;
    let data = encode(&tokenizer, sentences, &tags, max_len, &conll).expect("windows");
    assert!(
        data.inputs.len() > 2 * sentences.len(),
        "{} windows",
        data.inputs.len()
    );
    let cls = tokenizer.special_ids().cls;
    // Per sentence, the labelled words so far, and the previous window's first predicted word.
    let mut next = vec![0usize; sentences.len()];
    for (w, &(s, first)) in data.windows.iter().enumerate() {
        let (ids, _) = &data.inputs[w];
        assert!(ids.len() <= max_len && ids[0] == cls);
        assert_eq!(first, next[s], "sentence {s}: windows follow each other");
        let labels = &data.labels[w];
        for (j, &p) in data.word_starts[w].iter().enumerate() {
            let gold = &sentences[s].tags[first + j];
            assert_eq!(
                labels[p],
                tags.iter().position(|t| t == gold).unwrap() as i64
            );
        }
        let labelled = labels.iter().filter(|&&l| l >= 0).count();
        assert_eq!(labelled, data.word_starts[w].len());
        if first > 0 {
            // Context: the pieces before the first predicted word, none of them labelled, ending
            // with the word just before, whenever that word fits in half the window beside the
            // first one.
            let p0 = data.word_starts[w][0];
            assert!(labels[..p0].iter().all(|&l| l < 0));
            let pieces = |i: usize| {
                let ids = tokenizer
                    .tokenize(&sentences[s].tokens[i])
                    .expect("tok")
                    .ids;
                ids[..ids.len().min(max_len - 2)].to_vec()
            };
            let (before, own) = (pieces(first - 1), pieces(first).len());
            if before.len() <= ((max_len - 2) / 2).min(max_len - 2 - own) {
                assert_eq!(
                    &ids[p0 - before.len()..p0],
                    before.as_slice(),
                    "sentence {s}"
                );
            } else {
                assert_eq!(p0, 1, "sentence {s}: no room for context");
            }
        }
        next[s] = first + data.word_starts[w].len();
    }
    for (s, sentence) in sentences.iter().enumerate() {
        assert_eq!(
            next[s],
            sentence.tokens.len(),
            "sentence {s} fully labelled"
        );
        let all: Vec<i64> = whole.labels[s]
            .iter()
            .copied()
            .filter(|&l| l >= 0)
            .collect();
        let windowed: Vec<i64> = data
            .windows
            .iter()
            .enumerate()
            .filter(|(_, (si, _))| *si == s)
            .flat_map(|(w, _)| data.labels[w].iter().copied().filter(|&l| l >= 0))
            .collect();
        assert_eq!(all, windowed);
    }
}
