//! The task readers on every task file of `../shared/data`, with the counts its README states.

use std::collections::BTreeMap;

use albert_heads::tasks::conll::read_conll;
use albert_heads::tasks::race::read_race;
use albert_heads::tasks::squad::read_squad;
use albert_heads::tasks::tsv::{Label, read_tsv};
use albert_testdata::shared_path;

fn class_counts(rows: &[albert_heads::tasks::tsv::TextExample]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        if let Some(Label::Class(c)) = &r.label {
            *m.entry(c.clone()).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn glue_style_files() {
    let Some(dir) = shared_path("data/glue-style") else {
        return;
    };
    let sst = read_tsv(&dir.join("sst2_vader_movie/dev.tsv")).expect("sst2 dev");
    assert_eq!(sst.len(), 1712);
    assert_eq!(
        class_counts(&sst),
        BTreeMap::from([("0".into(), 881), ("1".into(), 831)])
    );
    assert_eq!(
        read_tsv(&dir.join("sst2_vader_movie/train.tsv"))
            .expect("train")
            .len(),
        6848
    );
    let bbc = read_tsv(&dir.join("bbc_topic/dev.tsv")).expect("bbc dev");
    assert_eq!(bbc.len(), 363);
    assert_eq!(class_counts(&bbc)["sports"], 86);
    assert!(bbc[0].text_a.len() > 100, "the article text, not the label");
    let sts = read_tsv(&dir.join("stsb_lee/dev.tsv")).expect("stsb dev");
    assert_eq!(sts.len(), 55);
    assert!(sts.iter().all(|r| r.text_b.is_some()
        && matches!(r.label, Some(Label::Score(s)) if (0.0..=5.0).contains(&s))));
    assert_eq!(
        read_tsv(&dir.join("stsb_lee/train.tsv"))
            .expect("train")
            .len(),
        378
    );
    assert_eq!(
        read_tsv(&dir.join("extra/uci_amazon_sentiment.tsv"))
            .expect("uci")
            .len(),
        990
    );
}

#[test]
fn squad_style_files() {
    let Some(dir) = shared_path("data/squad-style") else {
        return;
    };
    let v2 = read_squad(&dir.join("fixtures/fixtures-v2.0.json")).expect("v2 fixtures");
    assert_eq!(v2.len(), 80);
    assert_eq!(v2.iter().filter(|e| e.is_impossible).count(), 40);
    for (name, n) in [
        ("squad.json", 5),
        ("quoref-v1.1.json", 4),
        ("quac-v1.1.json", 6),
        ("drop-v1.1.json", 6),
        ("triviaqa-v1.1.json", 19),
    ] {
        assert_eq!(
            read_squad(&dir.join("fixtures").join(name))
                .expect(name)
                .len(),
            n,
            "{name}"
        );
    }
    let dev = read_squad(&dir.join("cloze/dev-v2.0.json")).expect("cloze dev");
    assert_eq!(dev.len(), 600);
    assert_eq!(dev.iter().filter(|e| e.is_impossible).count(), 200);
    let train = read_squad(&dir.join("cloze/train-v2.0.json.gz")).expect("cloze train (gz)");
    assert_eq!(train.len(), 3000);
    assert_eq!(train.iter().filter(|e| e.is_impossible).count(), 1000);
}

#[test]
fn race_style_files() {
    let Some(dir) = shared_path("data/race-style") else {
        return;
    };
    let dev = read_race(&dir.join("nextpara/dev.json")).expect("nextpara dev");
    assert_eq!(dev.len(), 600);
    let mut by_answer = [0usize; 4];
    for e in &dev {
        assert_eq!(e.options.len(), 4);
        by_answer[e.label.expect("answer")] += 1;
    }
    assert_eq!(by_answer, [159, 158, 164, 119]);
    assert_eq!(
        read_race(&dir.join("nextpara/train.json.gz"))
            .expect("train")
            .len(),
        3000
    );
    let quarel = read_race(&dir.join("quarel-2way.json")).expect("quarel");
    assert_eq!(quarel.len(), 3);
    assert!(quarel.iter().all(|e| e.options.len() == 2));
}

#[test]
fn token_tagging_files() {
    let Some(dir) = shared_path("data/token-tagging/brown_pos") else {
        return;
    };
    for (name, sentences, tokens) in [("dev.conll", 1199, 25_979), ("train.conll", 5473, 103_809)] {
        let s = read_conll(&dir.join(name)).expect(name);
        assert_eq!(s.len(), sentences, "{name}");
        assert_eq!(
            s.iter().map(|x| x.tokens.len()).sum::<usize>(),
            tokens,
            "{name}"
        );
        assert!(s.iter().all(|x| x.tokens.len() == x.tags.len()));
    }
}
