//! [`SentencePieceModel`]: a `spiece.model` loaded natively — normaliser plus unigram
//! segmentation — encoding text exactly as the `sentencepiece` library does.

use std::path::Path;

use crate::error::{Result, TokenizerError};
use crate::normalizer::Normalizer;
use crate::proto::{ModelProto, Piece, PieceType};
use crate::unigram::Unigram;

/// One piece of an encoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpmPiece {
    /// Vocabulary id.
    pub id: u32,
    /// The piece's text: the vocabulary piece, or for `<unk>` the normalised text it covers
    /// (what `sentencepiece`'s `encode(out_type=str)` returns).
    pub text: String,
    /// Byte range in the input text.
    pub span: (usize, usize),
}

/// A loaded SentencePiece unigram model.
#[derive(Debug, Clone)]
pub struct SentencePieceModel {
    proto: ModelProto,
    normalizer: Normalizer,
    unigram: Unigram,
}

impl SentencePieceModel {
    /// Parses a serialised model; `source` names it in errors.
    pub fn from_bytes(bytes: &[u8], source: &Path) -> Result<Self> {
        let corrupt = |message: String| TokenizerError::Corrupt {
            path: source.to_path_buf(),
            what: "spiece.model",
            message,
        };
        let proto = ModelProto::decode(bytes).map_err(&corrupt)?;
        Self::from_proto(proto).map_err(|e| match e {
            TokenizerError::Invalid(message) => corrupt(message),
            other => other,
        })
    }

    /// Reads a `spiece.model` file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| TokenizerError::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Builds the model from a decoded proto.
    pub fn from_proto(proto: ModelProto) -> Result<Self> {
        if proto.pieces.is_empty() {
            return Err(TokenizerError::Invalid("the model has no pieces".into()));
        }
        if proto.trainer_spec.model_type != 1 {
            return Err(TokenizerError::Invalid(format!(
                "model_type {} is not unigram (ALBERT vocabularies are unigram)",
                proto.trainer_spec.model_type
            )));
        }
        let user_defined = proto
            .pieces
            .iter()
            .filter(|p| p.kind == PieceType::UserDefined)
            .map(|p| p.piece.clone());
        let normalizer = Normalizer::new(
            &proto.normalizer_spec,
            proto.trainer_spec.treat_whitespace_as_suffix,
            user_defined,
        )
        .map_err(TokenizerError::Invalid)?;
        let unigram = Unigram::new(&proto.pieces).map_err(TokenizerError::Invalid)?;
        Ok(Self {
            proto,
            normalizer,
            unigram,
        })
    }

    /// The model as a proto (for writing back).
    pub fn proto(&self) -> &ModelProto {
        &self.proto
    }

    /// The vocabulary.
    pub fn pieces(&self) -> &[Piece] {
        &self.proto.pieces
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.proto.pieces.len()
    }

    /// The id of `<unk>`.
    pub fn unk_id(&self) -> u32 {
        self.unigram.unk_id()
    }

    /// The piece string of an id.
    pub fn id_to_piece(&self, id: u32) -> Option<&str> {
        self.proto.pieces.get(id as usize).map(|p| p.piece.as_str())
    }

    /// The id of a piece string (`<unk>`'s id when it is not in the vocabulary).
    pub fn piece_to_id(&self, piece: &str) -> u32 {
        self.unigram.piece_to_id(piece)
    }

    /// Encodes `text` as `sentencepiece` does (normalise, segment), with byte spans into `text`.
    pub fn encode(&self, text: &str) -> Vec<SpmPiece> {
        let normalized = self.normalizer.normalize(text);
        self.unigram
            .encode(&normalized.text)
            .into_iter()
            .map(|seg| SpmPiece {
                id: seg.id,
                text: if seg.id == self.unigram.unk_id() {
                    normalized.text[seg.start..seg.end].to_string()
                } else {
                    self.proto.pieces[seg.id as usize].piece.clone()
                },
                span: (normalized.to_input[seg.start], normalized.to_input[seg.end]),
            })
            .collect()
    }
}
