//! SQuAD windows and answer decoding on the real v2.0 fixture file with the fixture
//! tokenizer: labelled token spans cut the gold answer back out of the context; windows cover
//! every context token within the length limit; decoding logits that point at the labels
//! gives back the gold answers (scored with the official metric), and `[CLS]` logits give "".

use std::collections::HashMap;

use albert_heads::features::qa::{QaDecodeConfig, QaWindowConfig, qa_answers, qa_features};
use albert_heads::metrics::squad::{Question, evaluate, normalize_answer};
use albert_heads::tasks::squad::read_squad;
use albert_testdata::shared_path;
use albert_tokenizer::AlbertTokenizer;

#[test]
fn windows_labels_and_decoding_round_trip() {
    let (Some(data), Some(spm)) = (
        shared_path("data/squad-style/fixtures/fixtures-v2.0.json"),
        shared_path("fixtures/tokenizer/spiece.model"),
    ) else {
        return;
    };
    let tokenizer = AlbertTokenizer::from_path(&spm).expect("tokenizer");
    let examples = read_squad(&data).expect("fixtures");
    let config = QaWindowConfig {
        max_seq_length: 128,
        doc_stride: 32,
        max_query_length: 24,
    };
    let features = qa_features(&tokenizer, &examples, &config).expect("features");
    assert!(
        features.len() > examples.len(),
        "long contexts make several windows"
    );

    // Shape and coverage: every context token is in some window of its example.
    for (e, ex) in examples.iter().enumerate() {
        let n_context = tokenizer.tokenize(&ex.context).expect("tok").len();
        let mine: Vec<_> = features.iter().filter(|f| f.example == e).collect();
        let mut covered = std::collections::HashSet::new();
        for f in &mine {
            assert!(f.input_ids.len() <= 128);
            assert_eq!(f.input_ids.len(), f.token_type_ids.len());
            assert_eq!(f.input_ids.len(), f.context_spans.len());
            covered.extend(f.context_spans.iter().flatten().copied());
        }
        assert_eq!(covered.len(), n_context, "example {}", ex.id);
    }

    // Labels: the labelled span, cut out of the context, is the gold answer.
    let (mut labelled, mut exact) = (0, 0);
    for f in features.iter().filter(|f| f.start_position > 0) {
        let ex = &examples[f.example];
        let (a, _) = f.context_spans[f.start_position].expect("start in context");
        let (_, b) = f.context_spans[f.end_position].expect("end in context");
        let cut = normalize_answer(&ex.context[a..b]);
        let gold = normalize_answer(&ex.answers[0].text);
        assert!(cut.contains(&gold), "{}: {cut:?} vs {gold:?}", ex.id);
        labelled += 1;
        exact += usize::from(cut == gold);
    }
    assert!(labelled >= 40, "{labelled} labelled windows");
    // Only answers that end inside a word (the fixture's "Father Julius Nieuwl") may differ.
    assert!(exact + 2 >= labelled, "{exact} of {labelled} exact");

    // Decoding: logits 10 at each window's labels (at [CLS] when it has none).
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    for f in &features {
        let mut s = vec![0.0f32; f.input_ids.len()];
        let mut t = s.clone();
        s[f.start_position] = 10.0;
        t[f.end_position] = 10.0;
        starts.push(s);
        ends.push(t);
    }
    // Two QuAC answers are whole sentences of 30+ tokens: allow them here (the default 30
    // would turn them into "no answer", as the reference does).
    let decode = QaDecodeConfig {
        version_2: true,
        max_answer_length: 100,
        ..QaDecodeConfig::default()
    };
    let answers = qa_answers(&examples, &features, &starts, &ends, &decode);
    let predictions: HashMap<String, String> = answers
        .iter()
        .map(|a| (examples[a.example].id.clone(), a.text.clone()))
        .collect();
    let questions: Vec<Question> = examples
        .iter()
        .map(|e| Question {
            id: e.id.clone(),
            answers: e.answers.iter().map(|a| a.text.clone()).collect(),
        })
        .collect();
    let report = evaluate(&questions, &predictions, None);
    assert_eq!(report["NoAns_exact"], 100.0, "{report:?}");
    assert!(report["HasAns_f1"] > 97.0, "{report:?}");
    for a in &answers {
        if examples[a.example].is_impossible {
            assert_eq!(a.text, "");
        }
    }
}
