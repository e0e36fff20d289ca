//! Training a unigram vocabulary with ALBERT's recipe (the `spm_train` flags of the ALBERT
//! README: unigram, vocab 30000, `<pad>`=0 `<unk>`=1, control symbols `[CLS] [SEP] [MASK]`,
//! user-defined symbols `( ) " - . – £ €`, character coverage 0.99995, `nmt_nfkc`), and writing
//! the result as both `spiece.model` and `tokenizer.json`.
//!
//! The corpus goes through exactly what encoding does — ALBERT's preprocessing, then the
//! SentencePiece normaliser — and is split into `▁`-prefixed words (user-defined symbols split
//! out, as `spm_train` does). Characters outside the coverage set are dropped from the words
//! (they become `<unk>` at encoding time). The EM training itself (seed pieces from a suffix
//! array, E/M steps with the digamma prior, pruning by 0.75) is `tokenizers`' port of
//! SentencePiece's unigram trainer.
//!
//! Reproducibility: the EM runs in a pool of a fixed number of threads
//! ([`TrainerConfig::threads`]), so the machine's core count does not change the result. One
//! source of variation remains inside `tokenizers`: it keeps characters in `ahash` sets seeded
//! randomly per process, so pieces whose scores tie can be ordered, and near-tie pieces pruned,
//! differently between runs. In our measurements an 8,000-piece vocabulary on 2.8 MB came out
//! byte-identical across runs and thread counts; a 600-piece vocabulary on 0.2 MB sometimes did
//! not. Removing this needs a trainer of our own.

use crate::lines::read_lines;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

use crate::error::{Result, TokenizerError};
use crate::normalizer::{Normalizer, SPACE_SYMBOL};
use crate::preprocess::preprocess;
use crate::proto::{
    ModelProto, NormalizerSpec, Piece, PieceType, TrainerSpec, put_bytes, put_varint_field,
};
use crate::spm::SentencePieceModel;

/// SentencePiece's compiled `nmt_nfkc` rules (see `data/README.md` for provenance).
pub const NMT_NFKC_CHARSMAP: &[u8] = include_bytes!("../data/nmt_nfkc.charsmap");

/// Training settings; the defaults are ALBERT's.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainerConfig {
    /// Final vocabulary size, special and user-defined symbols included.
    pub vocab_size: usize,
    /// Share of character occurrences the alphabet must cover.
    pub character_coverage: f64,
    /// Control symbols after `<pad>` and `<unk>` (ids 2, 3, ...).
    pub control_symbols: Vec<String>,
    /// Symbols always segmented alone (ids after the control symbols).
    pub user_defined_symbols: Vec<String>,
    /// Longest piece, in characters.
    pub max_piece_length: usize,
    /// Share of pieces kept by each pruning round.
    pub shrinking_factor: f64,
    /// EM sub-iterations per pruning round.
    pub n_sub_iterations: u32,
    /// Use at most this many (non-empty) lines; more are sampled with `seed`.
    pub max_sentences: usize,
    /// Seed of the line sampling.
    pub seed: u64,
    /// Lower-case the text (ALBERT does).
    pub lower_case: bool,
    /// Print progress on stderr.
    pub show_progress: bool,
    /// Worker threads of the EM training. The E-step sums floats per thread chunk, so the
    /// vocabulary depends on this number; fixing it (rather than using every core) makes a
    /// training run give the same vocabulary on every machine.
    pub threads: usize,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        Self {
            vocab_size: 30000,
            character_coverage: 0.99995,
            control_symbols: ["[CLS]", "[SEP]", "[MASK]"].map(String::from).to_vec(),
            user_defined_symbols: ["(", ")", "\"", "-", ".", "–", "£", "€"]
                .map(String::from)
                .to_vec(),
            max_piece_length: 16,
            shrinking_factor: 0.75,
            n_sub_iterations: 2,
            max_sentences: 10_000_000,
            seed: 0,
            lower_case: true,
            show_progress: false,
            threads: 8,
        }
    }
}

/// The trained vocabulary and the settings that produced it.
#[derive(Debug, Clone)]
pub struct TrainedVocabulary {
    /// All pieces in id order: `<pad>`, `<unk>`, control, user-defined, then by score.
    pub pieces: Vec<Piece>,
    /// The settings used.
    pub config: TrainerConfig,
    /// Lines the vocabulary was trained on.
    pub sentences: usize,
}

fn progress(config: &TrainerConfig, start: Instant, msg: &str) {
    if config.show_progress {
        eprintln!("[{:>7.1}s] {msg}", start.elapsed().as_secs_f64());
    }
}

/// Splits normalised text into `▁`-prefixed words, dropping user-defined symbols.
fn words<'a>(normalized: &'a str, user_defined: &[String], out: &mut Vec<&'a str>) {
    let mut start = 0;
    let mut i = 0;
    while i < normalized.len() {
        let rest = &normalized[i..];
        if let Some(sym) = user_defined
            .iter()
            .filter(|s| rest.starts_with(s.as_str()))
            .max_by_key(|s| s.len())
        {
            if i > start {
                out.push(&normalized[start..i]);
            }
            i += sym.len();
            start = i;
            continue;
        }
        if rest.starts_with(SPACE_SYMBOL) && i > start {
            out.push(&normalized[start..i]);
            start = i;
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    if i > start {
        out.push(&normalized[start..i]);
    }
}

/// Trains a vocabulary on `files`.
pub fn train(files: &[PathBuf], config: &TrainerConfig) -> Result<TrainedVocabulary> {
    let start = Instant::now();
    let specials = 2 + config.control_symbols.len() + config.user_defined_symbols.len();
    if config.vocab_size <= specials {
        return Err(TokenizerError::Invalid(format!(
            "vocab size {} leaves no room after {specials} special and user-defined symbols",
            config.vocab_size
        )));
    }
    if !(0.0..=1.0).contains(&config.character_coverage) || config.character_coverage == 0.0 {
        return Err(TokenizerError::Invalid(
            "character coverage must be in (0, 1]".into(),
        ));
    }
    if files.is_empty() {
        return Err(TokenizerError::Invalid("no input files".into()));
    }
    let mut lines = Vec::new();
    for f in files {
        let before = lines.len();
        lines.extend(read_lines(f)?);
        progress(
            config,
            start,
            &format!("read {} ({} lines)", f.display(), lines.len() - before),
        );
    }
    if lines.is_empty() {
        return Err(TokenizerError::Invalid(format!(
            "the corpus is empty: no non-blank line in {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if lines.len() > config.max_sentences {
        // Deterministic sample: a seeded Fisher-Yates prefix.
        let mut state = config.seed ^ 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..config.max_sentences {
            let j = i + (next() % (lines.len() - i) as u64) as usize;
            lines.swap(i, j);
        }
        lines.truncate(config.max_sentences);
    }
    let sentences = lines.len();

    let spec = NormalizerSpec {
        name: "nmt_nfkc".into(),
        precompiled_charsmap: NMT_NFKC_CHARSMAP.to_vec(),
        ..NormalizerSpec::default()
    };
    let normalizer = Normalizer::new(&spec, false, config.user_defined_symbols.iter().cloned())
        .map_err(TokenizerError::Invalid)?;
    let counts: HashMap<String, u64> = lines
        .par_chunks(4096)
        .map(|chunk| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for line in chunk {
                let pre = preprocess(line, config.lower_case);
                let normalized = normalizer.normalize(&pre.text);
                let mut ws = Vec::new();
                words(&normalized.text, &config.user_defined_symbols, &mut ws);
                for w in &ws {
                    *counts.entry((*w).to_string()).or_default() += 1;
                }
            }
            counts
        })
        .reduce(HashMap::new, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
            a
        });
    drop(lines);
    progress(
        config,
        start,
        &format!(
            "normalised {sentences} lines into {} distinct words",
            counts.len()
        ),
    );

    // Character coverage: the most frequent characters covering the requested share.
    let mut chars: HashMap<char, u64> = HashMap::new();
    for (w, c) in &counts {
        for ch in w.chars() {
            *chars.entry(ch).or_default() += c;
        }
    }
    let total: u64 = chars.values().sum();
    let mut by_freq: Vec<(char, u64)> = chars.into_iter().collect();
    by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut required = std::collections::HashSet::new();
    let mut covered = 0u64;
    for (ch, n) in &by_freq {
        if !required.is_empty() && covered as f64 >= config.character_coverage * total as f64 {
            break;
        }
        required.insert(*ch);
        covered += n;
    }
    required.insert('\u{2581}');
    progress(
        config,
        start,
        &format!(
            "alphabet: {} of {} characters cover {:.5} of the text",
            required.len(),
            by_freq.len(),
            covered as f64 / total.max(1) as f64
        ),
    );
    let mut filtered: HashMap<String, u64> = HashMap::new();
    for (w, c) in counts {
        for part in w
            .split(|ch: char| !required.contains(&ch))
            .filter(|p| !p.is_empty())
        {
            *filtered.entry(part.to_string()).or_default() += c;
        }
    }
    let mut sentences_for_trainer: Vec<(String, u32)> = filtered
        .into_iter()
        .map(|(w, c)| (w, c.min(u64::from(u32::MAX)) as u32))
        .collect();
    sentences_for_trainer.sort();

    let trainer = tokenizers::models::unigram::UnigramTrainer::builder()
        .vocab_size((config.vocab_size - specials) as u32)
        .max_piece_length(config.max_piece_length)
        .shrinking_factor(config.shrinking_factor)
        .n_sub_iterations(config.n_sub_iterations)
        .show_progress(config.show_progress)
        .build()
        .map_err(|e| TokenizerError::Library(e.to_string()))?;
    let mut model = tokenizers::models::unigram::Unigram::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads.max(1))
        .build()
        .map_err(|e| {
            TokenizerError::Invalid(format!("cannot start {} threads: {e}", config.threads))
        })?;
    pool.install(|| trainer.do_train(sentences_for_trainer, &mut model))
        .map_err(|e| TokenizerError::Library(format!("training failed: {e}")))?;
    progress(
        config,
        start,
        &format!("trained {} pieces", model.iter().count()),
    );

    let reserved: std::collections::HashSet<&str> = ["<pad>", "<unk>", "<UNK>"]
        .into_iter()
        .chain(config.control_symbols.iter().map(String::as_str))
        .chain(config.user_defined_symbols.iter().map(String::as_str))
        .collect();
    let mut trained: Vec<(String, f64)> = model
        .iter()
        .filter(|(p, _)| !reserved.contains(p.as_str()))
        .map(|(p, s)| (p.clone(), *s))
        .collect();
    // Highest score first; ties (e.g. the alphabet's fill-in characters) by text, so the
    // result does not depend on hash-set iteration order.
    trained.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    trained.truncate(config.vocab_size - specials);

    let meta = |piece: &str, kind| Piece {
        piece: piece.to_string(),
        score: 0.0,
        kind,
    };
    let mut pieces = vec![
        meta("<pad>", PieceType::Control),
        meta("<unk>", PieceType::Unknown),
    ];
    pieces.extend(
        config
            .control_symbols
            .iter()
            .map(|s| meta(s, PieceType::Control)),
    );
    pieces.extend(
        config
            .user_defined_symbols
            .iter()
            .map(|s| meta(s, PieceType::UserDefined)),
    );
    pieces.extend(trained.into_iter().map(|(p, s)| Piece {
        piece: p,
        score: s as f32,
        kind: PieceType::Normal,
    }));
    Ok(TrainedVocabulary {
        pieces,
        config: config.clone(),
        sentences,
    })
}

impl TrainedVocabulary {
    /// The `spiece.model` proto: pieces, the trainer flags used, `nmt_nfkc` normalisation.
    pub fn to_model_proto(&self) -> ModelProto {
        let c = &self.config;
        let mut t = Vec::new();
        put_varint_field(&mut t, 3, 1); // model_type = UNIGRAM
        put_varint_field(&mut t, 4, self.pieces.len() as u64); // vocab_size
        t.extend(float_field(10, c.character_coverage as f32)); // character_coverage
        put_varint_field(&mut t, 11, c.max_sentences as u64); // input_sentence_size
        put_varint_field(&mut t, 19, 1); // shuffle_input_sentence
        t.extend(float_field(15, c.shrinking_factor as f32));
        put_varint_field(&mut t, 17, u64::from(c.n_sub_iterations));
        put_varint_field(&mut t, 20, c.max_piece_length as u64);
        for s in &c.control_symbols {
            put_bytes(&mut t, 30, s.as_bytes());
        }
        for s in &c.user_defined_symbols {
            put_bytes(&mut t, 31, s.as_bytes());
        }
        put_varint_field(&mut t, 40, 1); // unk_id
        put_varint_field(&mut t, 41, -1i64 as u64); // bos_id
        put_varint_field(&mut t, 42, -1i64 as u64); // eos_id
        put_varint_field(&mut t, 43, 0); // pad_id
        put_bytes(&mut t, 45, b"<unk>");
        put_bytes(&mut t, 48, b"<pad>");
        ModelProto {
            pieces: self.pieces.clone(),
            trainer_spec: TrainerSpec {
                model_type: 1,
                treat_whitespace_as_suffix: false,
                byte_fallback: false,
                raw: t,
            },
            normalizer_spec: NormalizerSpec {
                name: "nmt_nfkc".into(),
                precompiled_charsmap: NMT_NFKC_CHARSMAP.to_vec(),
                ..NormalizerSpec::default()
            },
            unknown: Vec::new(),
        }
    }

    /// The native model.
    pub fn to_sentencepiece(&self) -> Result<SentencePieceModel> {
        SentencePieceModel::from_proto(self.to_model_proto())
    }

    /// `tokenizer.json` text for the `tokenizers` library, mirroring ALBERT's pipeline.
    pub fn to_tokenizer_json(&self) -> Result<String> {
        crate::tokenizer_json::render(&self.pieces, NMT_NFKC_CHARSMAP)
    }

    /// Writes `spiece.model`, `tokenizer.json` and HF's `tokenizer_config.json` (so that
    /// `AutoTokenizer.from_pretrained(dir)` works) into `dir` (created if needed), each
    /// atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| TokenizerError::io(dir, e))?;
        write_atomic(&dir.join("spiece.model"), &self.to_model_proto().encode())?;
        write_atomic(
            &dir.join("tokenizer.json"),
            self.to_tokenizer_json()?.as_bytes(),
        )?;
        write_atomic(
            &dir.join("tokenizer_config.json"),
            tokenizer_config_json(self.config.lower_case).as_bytes(),
        )
    }
}

/// HF's `tokenizer_config.json` for an ALBERT tokenizer.
pub fn tokenizer_config_json(lower_case: bool) -> String {
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "tokenizer_class": "AlbertTokenizer",
        "do_lower_case": lower_case,
        "remove_space": true,
        "keep_accents": false,
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
        "unk_token": "<unk>",
        "sep_token": "[SEP]",
        "pad_token": "<pad>",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "model_max_length": 512
    }))
    .unwrap_or_default();
    text + "\n"
}

fn float_field(number: u64, v: f32) -> Vec<u8> {
    let mut out = Vec::new();
    crate::proto::put_varint(&mut out, (number << 3) | 5);
    out.extend_from_slice(&v.to_bits().to_le_bytes());
    out
}

/// Writes through a temporary sibling and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        TokenizerError::io(path, e)
    })
}
