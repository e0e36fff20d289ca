//! Multiple choice: padding options are neutral (a batch mixing 2- and 4-option questions has
//! the same loss as the questions one by one), and the loop learns a signal carried by the
//! article (its first word names the right option) on real sentences.

use albert_core::init::ParamInit;
use albert_core::{AlbertConfig, HfConfig};
use albert_heads::AlbertForMultipleChoice;
use albert_heads::finetune::choice::{MultipleChoice, encode, option_text};
use albert_heads::finetune::{FinetuneConfig, FinetuneTask, RunFiles, finetune};
use albert_heads::tasks::race::ChoiceExample;
use albert_heads::tasks::tsv::read_tsv;
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;
use burn::tensor::Device;

const WORDS: [&str; 4] = ["north", "south", "east", "west"];

#[test]
fn padding_options_are_neutral_and_the_loop_learns() {
    let (Some(tsv), Some(spm)) = (
        shared_path("data/glue-style/sst2_vader_movie/dev.tsv"),
        shared_path("fixtures/tokenizer/spiece.model"),
    ) else {
        return;
    };
    assert_eq!(option_text("He went _ fast.", "very"), "He went very fast.");
    assert_eq!(option_text("Where?", "home"), "Where? home");
    let tokenizer = AlbertTokenizer::from_path(&spm).expect("tokenizer");
    let rows = read_tsv(&tsv).expect("tsv");
    // 2 options for even questions, 4 for odd ones; the article's first word is the answer.
    let examples: Vec<ChoiceExample> = rows
        .iter()
        .take(600)
        .enumerate()
        .map(|(i, r)| {
            let n = if i % 2 == 0 { 2 } else { 4 };
            let answer = (i / 2) % n;
            ChoiceExample {
                id: format!("q{i}"),
                article: format!("{} {}", WORDS[answer], r.text_a),
                question: "Which direction?".into(),
                options: WORDS[..n].iter().map(|w| w.to_string()).collect(),
                label: Some(answer),
            }
        })
        .collect();
    let path = std::path::Path::new("inline.json");
    let albert = AlbertConfig::new()
        .with_vocab_size(tokenizer.vocab_size())
        .with_embedding_size(16)
        .with_hidden_size(32)
        .with_num_hidden_layers(2)
        .with_num_attention_heads(2)
        .with_intermediate_size(64)
        .with_max_position_embeddings(64)
        .with_classifier_dropout_prob(0.0);
    let device = Device::flex();
    let model = AlbertForMultipleChoice::new(&albert, &mut ParamInit::new(5, 0.02), &device);

    // Neutral padding: batch of questions 0..4 (2, 4, 2, 4 options) vs one at a time.
    let data = encode(&tokenizer, &examples[..4], 24, path).expect("encode");
    let together = MultipleChoice::loss(&model, &albert, &data, &[0, 1, 2, 3], 0, &device)
        .expect("loss")
        .into_scalar::<f32>();
    let alone: f32 = (0..4)
        .map(|i| {
            MultipleChoice::loss(&model, &albert, &data, &[i], 0, &device)
                .expect("loss")
                .into_scalar::<f32>()
        })
        .sum::<f32>()
        / 4.0;
    assert!((together - alone).abs() < 1e-5, "{together} vs {alone}");

    let (train, dev) = examples.split_at(500);
    let train_data = encode(&tokenizer, train, 24, path).expect("train");
    let dev_data = encode(&tokenizer, dev, 24, path).expect("dev");
    let config = FinetuneConfig {
        max_seq_length: 24,
        batch_size: 16,
        epochs: 10,
        learning_rate: 3e-3,
        warmup_ratio: 0.1,
        classifier_dropout: 0.0,
        ..FinetuneConfig::default()
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let files = RunFiles {
        out: tmp.path(),
        tokenizer_files: std::slice::from_ref(&spm),
        progress: false,
    };
    let summary = finetune::<MultipleChoice>(
        model,
        &HfConfig::new(albert.clone()),
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
    eprintln!("per epoch {:?}", summary.epochs);
    // Chance is (1/2 + 1/4) / 2 = 0.375; measured 0.76 (the signal is found around epoch 7).
    assert!(best >= 0.65, "dev accuracy {best}");
    let preds = std::fs::read_to_string(tmp.path().join("dev_predictions.jsonl")).expect("preds");
    assert_eq!(preds.lines().count(), 100);
}
