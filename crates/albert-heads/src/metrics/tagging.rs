//! Token-tagging metrics: token accuracy, and entity-level precision/recall/F1 over chunks read
//! from IOB1 / IOB2 / IOBES tags with `conlleval`'s rules (what `seqeval`'s default mode does).

/// Share of tokens tagged right over all sentences; `None` when there is no token or a
/// sentence's lengths differ.
pub fn token_accuracy(gold: &[Vec<String>], pred: &[Vec<String>]) -> Option<f64> {
    if gold.len() != pred.len() || gold.iter().zip(pred).any(|(g, p)| g.len() != p.len()) {
        return None;
    }
    let total: usize = gold.iter().map(Vec::len).sum();
    if total == 0 {
        return None;
    }
    let right = gold
        .iter()
        .zip(pred)
        .flat_map(|(g, p)| g.iter().zip(p))
        .filter(|(a, b)| a == b)
        .count();
    Some(right as f64 / total as f64)
}

/// A chunk: `(type, first token, last token)`.
pub type Chunk = (String, usize, usize);

/// Splits a tag into its prefix (`B`, `I`, `E`, `S`, `O`) and type (`PER`; `_` when none).
fn split_tag(tag: &str) -> (char, String) {
    if tag == "O" || tag.is_empty() {
        return ('O', "_".into());
    }
    let prefix = tag.chars().next().unwrap_or('O');
    let rest = &tag[prefix.len_utf8()..];
    let kind = rest.split_once('-').map_or(rest, |(_, t)| t);
    (
        prefix,
        if kind.is_empty() {
            "_".into()
        } else {
            kind.into()
        },
    )
}

fn end_of_chunk(prev: char, tag: char, prev_kind: &str, kind: &str) -> bool {
    matches!(prev, 'E' | 'S')
        || (matches!(prev, 'B' | 'I') && matches!(tag, 'B' | 'S' | 'O'))
        || (prev != 'O' && prev != '.' && prev_kind != kind)
}

fn start_of_chunk(prev: char, tag: char, prev_kind: &str, kind: &str) -> bool {
    matches!(tag, 'B' | 'S')
        || (matches!(prev, 'E' | 'S' | 'O') && matches!(tag, 'E' | 'I'))
        || (tag != 'O' && tag != '.' && prev_kind != kind)
}

/// The chunks of one tag sequence (`seqeval.metrics.sequence_labeling.get_entities`).
pub fn chunks(tags: &[String]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let (mut prev, mut prev_kind) = ('O', String::new());
    let mut begin = 0;
    for (i, tag) in tags.iter().map(String::as_str).chain(["O"]).enumerate() {
        let (t, kind) = split_tag(tag);
        if end_of_chunk(prev, t, &prev_kind, &kind) {
            out.push((prev_kind.clone(), begin, i - 1));
        }
        if start_of_chunk(prev, t, &prev_kind, &kind) {
            begin = i;
        }
        prev = t;
        prev_kind = kind;
    }
    out
}

/// Entity-level scores, micro-averaged over all chunk types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntityScores {
    /// Correct predicted chunks / predicted chunks.
    pub precision: f64,
    /// Correct predicted chunks / gold chunks.
    pub recall: f64,
    /// Harmonic mean (0 when both are 0).
    pub f1: f64,
}

/// Entity-level precision, recall and F1 (a predicted chunk counts when its type and span are
/// exactly a gold chunk's). Sentences are scored separately (a chunk never crosses them).
pub fn entity_scores(gold: &[Vec<String>], pred: &[Vec<String>]) -> EntityScores {
    let (mut correct, mut n_gold, mut n_pred) = (0usize, 0usize, 0usize);
    for (g, p) in gold.iter().zip(pred) {
        let (gc, pc) = (chunks(g), chunks(p));
        n_gold += gc.len();
        n_pred += pc.len();
        correct += pc.iter().filter(|c| gc.contains(c)).count();
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(correct, n_pred), ratio(correct, n_gold));
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    EntityScores {
        precision,
        recall,
        f1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn chunks_follow_conlleval() {
        // Checked with seqeval 1.2: get_entities(['B-PER','I-PER','O','B-LOC']) = [('PER',0,1), ('LOC',3,3)].
        assert_eq!(
            chunks(&tags("B-PER I-PER O B-LOC")),
            vec![("PER".into(), 0, 1), ("LOC".into(), 3, 3)]
        );
        // IOB1: I- after O starts a chunk; a type change ends one.
        assert_eq!(
            chunks(&tags("I-MISC I-MISC I-PER O")),
            vec![("MISC".into(), 0, 1), ("PER".into(), 2, 2)]
        );
        // B after B: two chunks. IOBES: S is a one-token chunk, E closes.
        assert_eq!(
            chunks(&tags("B-X B-X S-Y B-Z E-Z")),
            vec![
                ("X".into(), 0, 0),
                ("X".into(), 1, 1),
                ("Y".into(), 2, 2),
                ("Z".into(), 3, 4)
            ]
        );
        assert!(chunks(&tags("O O")).is_empty());
    }

    #[test]
    fn entity_f1_hand_values() {
        let gold = vec![tags("B-PER I-PER O B-LOC"), tags("B-ORG O")];
        // PER exact, LOC missed (tagged as ORG), ORG right: 2 correct of 3 predicted, 3 gold.
        let pred = vec![tags("B-PER I-PER O B-ORG"), tags("B-ORG O")];
        let s = entity_scores(&gold, &pred);
        assert!((s.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.f1 - 2.0 / 3.0).abs() < 1e-12);
        // A truncated span is wrong: precision 0 of 1, recall 0 of 1.
        let s = entity_scores(&[tags("B-PER I-PER")], &[tags("B-PER O")]);
        assert_eq!(s.f1, 0.0);
        // 5 of 6 tokens right.
        let acc = token_accuracy(&gold, &pred).unwrap();
        assert!((acc - 5.0 / 6.0).abs() < 1e-12);
        assert_eq!(token_accuracy(&[tags("O")], &[tags("O O")]), None);
    }
}
