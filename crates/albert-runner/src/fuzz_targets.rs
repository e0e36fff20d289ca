//! The bodies of the fuzz targets (`fuzz/`, cargo-fuzz): one function per parser of untrusted
//! input, each taking arbitrary bytes. It must return — a panic (or an abort, a hang, running out
//! of memory) is the failure the fuzzer looks for. The same functions replay the committed
//! corpus of interesting inputs (`fuzz/regressions/<target>/`) in `cargo test`, so what the fuzzer
//! found stays found. docs/reliability.md has the figures.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use albert_tokenizer::{
    AlbertTokenizer, Backend, EncodeOptions, FastTokenizer, SentencePieceModel, TruncationStrategy,
};

use crate::pipeline::Task;
use crate::serve::request::{RequestLimits, decode};

/// A target's body: arbitrary bytes in, returns (a panic is a failure).
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` calls it.
pub const TARGETS: &[(&str, Target)] = &[
    ("serve_request", serve_request),
    ("config_json", config_json),
    ("pretrain_toml", pretrain_toml),
    ("task_files", task_files),
    ("tokenize_text", tokenize_text),
    ("safetensors", safetensors),
    ("pytorch_bin", pytorch_bin),
    ("tf_checkpoint", tf_checkpoint),
    ("spiece_model", spiece_model),
    ("tokenizer_json", tokenizer_json),
];

/// Writes `data` to `name` in this process's scratch directory (for the parsers that read
/// files) and returns its path.
fn scratch(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "albert-fuzz-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("scratch file");
    path
}

/// `albert serve`'s request bodies on every route (first byte): decoded or refused, and what
/// decodes respects the limits.
pub fn serve_request(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let tasks = [
        Task::Classify,
        Task::FillMask,
        Task::Answer,
        Task::Embed,
        Task::Tag,
    ];
    let task = tasks[usize::from(which) % tasks.len()];
    let limits = RequestLimits {
        max_inputs: 8,
        max_top_k: 10,
    };
    if let Ok(work) = decode(task, body, limits) {
        assert!((1..=8).contains(&work.size()), "{work:?}");
        assert_eq!(work.task(), task);
    }
}

/// `config.json` (HF) and `albert_config.json` (the original code's).
pub fn config_json(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = albert_core::HfConfig::from_json_str(text, None);
    }
}

/// The pretraining TOML config.
pub fn pretrain_toml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = albert_pretrain::train::PretrainConfig::from_toml(
            text,
            Path::new("/fuzz/pretrain.toml"),
        );
    }
}

/// The labelled task files (first byte picks the reader): GLUE-style TSV, SQuAD JSON,
/// RACE-style JSON, CoNLL, CSV, JSON lines.
pub fn task_files(data: &[u8]) {
    use albert_heads::tasks::{conll, race, squad, table, tsv};
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => drop(tsv::read_tsv(&scratch("task.tsv", rest))),
        1 => drop(squad::read_squad(&scratch("squad.json", rest))),
        2 => drop(race::read_race(&scratch("race.json", rest))),
        3 => drop(conll::read_conll(&scratch("tags.conll", rest))),
        4 => drop(table::read_csv(&scratch("task.csv", rest))),
        _ => drop(table::read_json_lines(&scratch("task.jsonl", rest))),
    }
}

static SHIPPED_TOKENIZER: LazyLock<AlbertTokenizer> = LazyLock::new(|| {
    AlbertTokenizer::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/albert-mini-mixed/spiece.model"
    ))
    .expect("the shipped vocabulary")
});

/// Arbitrary bytes (lossy UTF-8; a NUL splits a pair) through the shipped model's tokenizer:
/// every id in range, truncation respected, our own ids decode.
pub fn tokenize_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (a, b) = match text.split_once('\0') {
        Some((a, b)) => (a, Some(b)),
        None => (&*text, None),
    };
    let tok = &*SHIPPED_TOKENIZER;
    let e = tok
        .encode(a, b, &EncodeOptions::default())
        .expect("encoding text never fails");
    assert!(e.ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
    assert_eq!(e.ids.len(), e.type_ids.len());
    tok.decode(&e.ids, false).expect("decoding our own ids");
    let options = EncodeOptions {
        truncation: Some((16, TruncationStrategy::LongestFirst)),
        padding: None,
    };
    let t = tok.encode(a, b, &options).expect("truncated encoding");
    assert!(t.ids.len() <= 16, "{} ids", t.ids.len());
}

/// A `.safetensors` file.
pub fn safetensors(data: &[u8]) {
    let _ = albert_core::checkpoint::read_checkpoint(scratch("model.safetensors", data));
}

/// `pytorch_model.bin` (zip + pickle, read without executing pickle code).
pub fn pytorch_bin(data: &[u8]) {
    let _ = albert_core::checkpoint::read_checkpoint(scratch("pytorch_model.bin", data));
}

/// A TF1 checkpoint: the first two bytes give the `.index` table's length, the rest is the
/// data shard.
pub fn tf_checkpoint(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let n = (usize::from(data[0]) << 8 | usize::from(data[1])).min(data.len() - 2);
    let (index, shard) = data[2..].split_at(n);
    let prefix = scratch("model.ckpt-1.index", index).with_extension("");
    scratch("model.ckpt-1.data-00000-of-00001", shard);
    let _ = albert_core::checkpoint::read_tf_checkpoint(&prefix);
}

/// `spiece.model`: parse; if it parses, build ALBERT's tokenizer on it and encode.
pub fn spiece_model(data: &[u8]) {
    if let Ok(model) = SentencePieceModel::from_bytes(data, Path::new("fuzz.model"))
        && let Ok(tok) = AlbertTokenizer::from_spm(model)
        && let Ok(e) = tok.encode(
            "Hello, world! [MASK] naïve café",
            None,
            &EncodeOptions::default(),
        )
    {
        assert!(e.ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
        let _ = tok.decode(&e.ids, true);
    }
}

/// `tokenizer.json`: parse; if it parses, build ALBERT's tokenizer on it and encode a pair.
pub fn tokenizer_json(data: &[u8]) {
    if let Ok(fast) = FastTokenizer::from_bytes(data, Path::new("fuzz.json"))
        && let Ok(tok) = AlbertTokenizer::from_backend(Backend::TokenizerJson(fast))
    {
        let _ = tok.encode(
            "Hello, world! [MASK]",
            Some("a pair"),
            &EncodeOptions::default(),
        );
    }
}
