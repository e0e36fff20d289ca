//! Multiple choice: padding options are neutral (a batch mixing 2- and 4-option questions has
//! the same loss as the questions one by one), and the loop learns a signal carried by the
//! article (its first word names the right option) on real sentences.

use crate::common;

use albert_core::init::ParamInit;
use albert_heads::AlbertForMultipleChoice;
use albert_heads::finetune::FinetuneTask;
use albert_heads::finetune::choice::{MultipleChoice, encode, option_text};
use albert_heads::tasks::race::ChoiceExample;
use albert_heads::tasks::tsv::read_tsv;
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;

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
    let albert = common::tiny_albert(tokenizer.vocab_size(), 32);
    let device = crate::common::cpu();
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
    let mut config = common::quick(24, 10);
    config.learning_rate = 1e-3;
    let tmp = tempfile::tempdir().expect("tmp");
    // Finding the signal is a jump (chance to ~0.7 within one epoch) whose epoch depends on
    // the initialisation: with seeds 1-6 and these settings, 1-4 found it within 10 epochs
    // (dev 0.71-0.77) and 5-6 did not (seed 6 did by epoch 6 of 16). Up to three seeds are
    // tried, so a tiny change in the backend's rounding cannot flip the test.
    let mut tried = Vec::new();
    for seed in 1..=3 {
        let model = AlbertForMultipleChoice::new(&albert, &mut ParamInit::new(seed, 0.02), &device);
        let summary = common::train::<MultipleChoice>(
            model,
            &albert,
            &train_data,
            &dev_data,
            &config,
            &spm,
            tmp.path(),
        );
        let best = summary.best.metrics["accuracy"];
        eprintln!("seed {seed}: per epoch {:?}", summary.evaluations);
        tried.push(best);
        if best >= 0.65 {
            break;
        }
    }
    // Chance is (1/2 + 1/4) / 2 = 0.375.
    assert!(
        tried.last().is_some_and(|&b| b >= 0.65),
        "dev accuracy per seed {tried:?}"
    );
    let preds = std::fs::read_to_string(tmp.path().join("dev_predictions.jsonl")).expect("preds");
    assert_eq!(preds.lines().count(), 100);
}
