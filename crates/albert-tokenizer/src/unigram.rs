//! SentencePiece unigram segmentation (`unigram_model.cc`, the optimised Viterbi of
//! `EncodeOptimized`): every vocabulary piece matching at a position is a candidate, scored by
//! its log-probability; user-defined symbols score `bytes · max_score − 0.1` so they always
//! win; a character no piece covers becomes `<unk>` with score `min_score − 10`; ties keep the
//! earliest start. Consecutive unknown characters are merged into one `<unk>`, as
//! `SentencePieceProcessor` does.

use std::collections::HashMap;

use crate::proto::{Piece, PieceType};

/// A trie node: sorted `(byte, child)` edges and the piece id ending here.
type TrieNode = (Vec<(u8, u32)>, Option<u32>);

/// A byte trie over the vocabulary pieces that segmentation can produce.
#[derive(Debug, Clone, Default)]
struct Trie {
    nodes: Vec<TrieNode>,
}

impl Trie {
    fn insert(&mut self, key: &[u8], id: u32) {
        if self.nodes.is_empty() {
            self.nodes.push((Vec::new(), None));
        }
        let mut node = 0usize;
        for &b in key {
            let next = match self.nodes[node].0.binary_search_by_key(&b, |e| e.0) {
                Ok(i) => self.nodes[node].0[i].1 as usize,
                Err(i) => {
                    let child = self.nodes.len();
                    self.nodes.push((Vec::new(), None));
                    self.nodes[node].0.insert(i, (b, child as u32));
                    child
                }
            };
            node = next;
        }
        self.nodes[node].1 = Some(id);
    }

    /// Calls `f(end, id)` for every piece that is a prefix of `key` (`end` = its byte length).
    fn prefixes(&self, key: &[u8], mut f: impl FnMut(usize, u32)) {
        let mut node = 0usize;
        if self.nodes.is_empty() {
            return;
        }
        for (i, &b) in key.iter().enumerate() {
            let edges = &self.nodes[node].0;
            match edges.binary_search_by_key(&b, |e| e.0) {
                Ok(j) => node = edges[j].1 as usize,
                Err(_) => return,
            }
            if let Some(id) = self.nodes[node].1 {
                f(i + 1, id);
            }
        }
    }
}

/// A piece of a segmentation: the byte range in the normalised text and the vocabulary id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Start byte in the normalised text.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// Vocabulary id (`unk_id` for unknown text).
    pub id: u32,
}

/// The segmentation model.
#[derive(Debug, Clone)]
pub struct Unigram {
    trie: Trie,
    scores: Vec<f32>,
    kinds: Vec<PieceType>,
    unk_id: u32,
    min_score: f32,
    max_score: f32,
    by_piece: HashMap<String, u32>,
}

impl Unigram {
    /// Builds the model from the vocabulary. Needs exactly one `<unk>` piece.
    pub fn new(pieces: &[Piece]) -> Result<Self, String> {
        let unk: Vec<usize> = pieces
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == PieceType::Unknown)
            .map(|(i, _)| i)
            .collect();
        let unk_id = match unk.as_slice() {
            [i] => *i as u32,
            [] => return Err("the vocabulary has no unknown piece".into()),
            _ => return Err("the vocabulary has several unknown pieces".into()),
        };
        let mut trie = Trie::default();
        let mut by_piece = HashMap::with_capacity(pieces.len());
        // As SentencePiece: the max starts at FLT_MIN (a tiny positive number), so with the
        // usual all-negative scores user-defined symbols score about -0.1.
        let (mut min_score, mut max_score) = (f32::MAX, f32::MIN_POSITIVE);
        for (id, p) in pieces.iter().enumerate() {
            if p.piece.is_empty() {
                return Err(format!("piece {id} is empty"));
            }
            if by_piece.insert(p.piece.clone(), id as u32).is_some() {
                return Err(format!("piece {:?} appears twice", p.piece));
            }
            match p.kind {
                PieceType::Normal
                | PieceType::UserDefined
                | PieceType::Unused
                | PieceType::Byte => trie.insert(p.piece.as_bytes(), id as u32),
                PieceType::Unknown | PieceType::Control => {}
            }
            if p.kind == PieceType::Normal {
                min_score = min_score.min(p.score);
                max_score = max_score.max(p.score);
            }
        }
        Ok(Self {
            trie,
            scores: pieces.iter().map(|p| p.score).collect(),
            kinds: pieces.iter().map(|p| p.kind).collect(),
            unk_id,
            min_score,
            max_score,
            by_piece,
        })
    }

    /// The id of `<unk>`.
    pub fn unk_id(&self) -> u32 {
        self.unk_id
    }

    /// The id of a piece string, or `<unk>`'s (SentencePiece `PieceToId`).
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        self.by_piece.get(piece).copied().unwrap_or(self.unk_id)
    }

    /// The best segmentation of normalised text.
    pub fn encode(&self, text: &str) -> Vec<Segment> {
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            score: f32,
            start: Option<usize>,
        }
        let bytes = text.as_bytes();
        let size = bytes.len();
        if size == 0 {
            return Vec::new();
        }
        let unk_score = self.min_score - 10.0;
        let mut best = vec![
            Best {
                id: 0,
                score: 0.0,
                start: None
            };
            size + 1
        ];
        best[0].start = Some(0);
        let mut start = 0;
        while start < size {
            let char_len = text[start..].chars().next().map_or(1, char::len_utf8);
            let base = best[start].score;
            let mut has_single = false;
            self.trie.prefixes(&bytes[start..], |len, id| {
                let kind = self.kinds[id as usize];
                if kind == PieceType::Unused {
                    return;
                }
                let score = if kind == PieceType::UserDefined {
                    len as f32 * self.max_score - 0.1
                } else {
                    self.scores[id as usize]
                };
                let candidate = score + base;
                let target = &mut best[start + len];
                if target.start.is_none() || candidate > target.score {
                    *target = Best {
                        id,
                        score: candidate,
                        start: Some(start),
                    };
                }
                if len == char_len {
                    has_single = true;
                }
            });
            if !has_single {
                let candidate = unk_score + base;
                let target = &mut best[start + char_len];
                if target.start.is_none() || candidate > target.score {
                    *target = Best {
                        id: self.unk_id,
                        score: candidate,
                        start: Some(start),
                    };
                }
            }
            start += char_len;
        }
        let mut segments = Vec::new();
        let mut end = size;
        while end > 0 {
            let node = best[end];
            let start = node.start.unwrap_or(0);
            segments.push(Segment {
                start,
                end,
                id: node.id,
            });
            end = start;
        }
        segments.reverse();
        // Merge runs of unknown characters into one unknown piece.
        let mut merged: Vec<Segment> = Vec::with_capacity(segments.len());
        for s in segments {
            match merged.last_mut() {
                Some(prev)
                    if prev.id == self.unk_id && s.id == self.unk_id && prev.end == s.start =>
                {
                    prev.end = s.end
                }
                _ => merged.push(s),
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(p: &str, score: f32, kind: PieceType) -> Piece {
        Piece {
            piece: p.into(),
            score,
            kind,
        }
    }

    #[test]
    fn viterbi_prefers_the_best_total_and_merges_unknowns() {
        let model = Unigram::new(&[
            piece("<unk>", 0.0, PieceType::Unknown),
            piece("▁ab", -3.0, PieceType::Normal),
            piece("▁a", -1.0, PieceType::Normal),
            piece("b", -1.0, PieceType::Normal),
            piece("▁", -2.0, PieceType::Normal),
            piece("-", 0.0, PieceType::UserDefined),
        ])
        .expect("model");
        // "▁ab": "▁a" + "b" = -2 beats "▁ab" = -3.
        let segs = model.encode("▁ab");
        assert_eq!(segs.iter().map(|s| s.id).collect::<Vec<_>>(), vec![2, 3]);
        // Unknown "xy" (each -13) merges into one <unk>; the user-defined '-' stays whole.
        let segs = model.encode("▁xy-b");
        assert_eq!(
            segs,
            vec![
                Segment {
                    start: 0,
                    end: 3,
                    id: 4
                },
                Segment {
                    start: 3,
                    end: 5,
                    id: 0
                },
                Segment {
                    start: 5,
                    end: 6,
                    id: 5
                },
                Segment {
                    start: 6,
                    end: 7,
                    id: 3
                }
            ]
        );
        assert_eq!(model.piece_to_id("b"), 3);
        assert_eq!(model.piece_to_id("zz"), 0);
        assert!(Unigram::new(&[piece("a", 0.0, PieceType::Normal)]).is_err());
    }
}
