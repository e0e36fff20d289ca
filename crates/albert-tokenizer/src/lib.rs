//! # albert-tokenizer
//!
//! ALBERT's SentencePiece unigram tokenizer (30k vocabulary, ALBERT's normalisation). This
//! crate has no burn dependency. It is being filled by the tokenizer issue: loading
//! `spiece.model` and `tokenizer.json`, encoding pairs with ALBERT's special tokens, training.

/// The special tokens every ALBERT vocabulary starts with, in id order.
pub const SPECIAL_TOKENS: [&str; 5] = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"];
