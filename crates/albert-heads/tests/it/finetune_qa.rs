//! Span extraction learns: real sentences with a direction word inserted at a random word
//! position, the question asking for it; a tiny model trained on the windows finds the span on
//! held-out sentences (scored with the official SQuAD metric), far above an untrained model.

use crate::common;
use albert_heads::progress::Progress;

use albert_core::init::ParamInit;
use albert_heads::AlbertForQuestionAnswering;
use albert_heads::features::qa::{QaDecodeConfig, QaWindowConfig, qa_features};
use albert_heads::finetune::FinetuneTask;
use albert_heads::finetune::qa::{QaData, SpanQa};
use albert_heads::tasks::squad::{Answer, SquadExample};
use albert_heads::tasks::tsv::read_tsv;
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;

const WORDS: [&str; 4] = ["north", "south", "east", "west"];

#[test]
fn span_extraction_learns_to_find_the_answer() {
    let (Some(tsv), Some(spm)) = (
        shared_path("data/glue-style/sst2_vader_movie/dev.tsv"),
        shared_path("fixtures/tokenizer/spiece.model"),
    ) else {
        return;
    };
    let tokenizer = AlbertTokenizer::from_path(&spm).expect("tokenizer");
    let rows = read_tsv(&tsv).expect("tsv");
    let examples: Vec<SquadExample> = rows
        .iter()
        .take(500)
        .enumerate()
        .map(|(i, r)| {
            let words: Vec<&str> = r.text_a.split_whitespace().take(12).collect();
            let at = (i * 7) % (words.len() + 1);
            let answer = WORDS[i % 4];
            let before = words[..at].join(" ");
            let context = if before.is_empty() {
                format!("{answer} {}", words[at..].join(" "))
            } else {
                format!("{before} {answer} {}", words[at..].join(" "))
            };
            let start_char = if before.is_empty() {
                0
            } else {
                before.chars().count() + 1
            };
            SquadExample {
                id: format!("q{i}"),
                title: String::new(),
                question: "Which direction?".into(),
                context: context.trim_end().to_string(),
                answers: vec![Answer {
                    text: answer.into(),
                    start_char,
                }],
                is_impossible: false,
            }
        })
        .collect();
    let window = QaWindowConfig {
        max_seq_length: 40,
        doc_stride: 16,
        max_query_length: 8,
    };
    let data = |ex: &[SquadExample]| QaData {
        features: qa_features(&tokenizer, ex, &window).expect("features"),
        examples: ex.to_vec(),
        decode: QaDecodeConfig::default(),
    };
    let (train, dev) = (data(&examples[..400]), data(&examples[400..]));
    for e in 0..400 {
        assert!(
            train
                .features
                .iter()
                .any(|f| f.example == e && f.start_position > 0),
            "example {e}: the answer is in some window"
        );
    }

    let albert = common::tiny_albert(tokenizer.vocab_size(), 32);
    let device = crate::common::cpu();
    let model = AlbertForQuestionAnswering::new(&albert, &mut ParamInit::new(9, 0.02), &device);
    let before = SpanQa::score(
        &dev,
        &SpanQa::predict(&model, &albert, &dev, 32, 0, &device, &Progress::disabled())
            .expect("predict"),
        &[],
    );
    let config = common::quick(40, 6);
    let tmp = tempfile::tempdir().expect("tmp");
    let files = albert_heads::finetune::RunFiles {
        out: tmp.path(),
        tokenizer_files: std::slice::from_ref(&spm),
        progress: false,
        resume: false,
    };
    let summary = albert_heads::finetune::finetune::<SpanQa>(
        model,
        &albert_core::HfConfig::new(albert.clone()),
        &train,
        &dev,
        0,
        &config,
        "f1",
        &files,
        &device,
    )
    .expect("finetune");
    eprintln!("untrained {before:?}\nper epoch {:?}", summary.evaluations);
    let best = summary.best.metrics["f1"];
    assert!(best >= 80.0, "dev F1 {best} (untrained {})", before["f1"]);
    assert!(before["f1"] < 30.0, "{before:?}");
}
