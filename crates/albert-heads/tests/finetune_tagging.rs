//! The tagging fine-tuning loop on real data: a tiny model trained on 400 Brown sentences
//! (universal POS tags) beats the majority-tag baseline on held-out sentences by a wide margin,
//! and writes its model, log and predictions; unknown tags are named with file and line.

use albert_core::AlbertConfig;
use albert_core::HfConfig;
use albert_core::init::ParamInit;
use albert_heads::AlbertForTokenClassification;
use albert_heads::finetune::tagging::{Tagging, encode, tag_set};
use albert_heads::finetune::{FinetuneConfig, RunFiles, finetune};
use albert_heads::tasks::conll::read_conll;
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;
use burn::tensor::Device;

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

    let albert = AlbertConfig::new()
        .with_vocab_size(tokenizer.vocab_size())
        .with_embedding_size(32)
        .with_hidden_size(64)
        .with_num_hidden_layers(2)
        .with_num_attention_heads(2)
        .with_intermediate_size(128)
        .with_max_position_embeddings(64)
        .with_classifier_dropout_prob(0.0)
        .with_labels(Some(tags.clone()));
    let hf = HfConfig::new(albert.clone());
    let device = Device::flex();
    let model = AlbertForTokenClassification::new(
        &albert,
        tags.len(),
        &mut ParamInit::new(3, 0.02),
        &device,
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let config = FinetuneConfig {
        max_seq_length: 64,
        batch_size: 16,
        epochs: 5,
        learning_rate: 3e-3,
        warmup_ratio: 0.1,
        classifier_dropout: 0.0,
        ..FinetuneConfig::default()
    };
    let files = RunFiles {
        out: tmp.path(),
        tokenizer_files: std::slice::from_ref(&spm),
        progress: false,
    };
    let summary = finetune::<Tagging>(
        model,
        &hf,
        &train_data,
        &dev_data,
        0,
        &config,
        "accuracy",
        &files,
        &device,
    )
    .expect("finetune");
    let best = summary.best.1["accuracy"];
    eprintln!("majority {majority:.3}; per epoch {:?}", summary.epochs);
    assert!(
        best > majority + 0.25,
        "token accuracy {best} vs majority {majority}"
    );
    assert!(
        !summary.best.1.contains_key("f1"),
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
