//! Reading original google-research/albert TF1 checkpoints natively (no TensorFlow): a
//! checkpoint given by its prefix `model.ckpt-N` is `model.ckpt-N.index`, a LevelDB-format table
//! mapping each variable name to a `BundleEntryProto` (dtype, shape, shard, offset, size,
//! crc32c), and `model.ckpt-N.data-SSSSS-of-NNNNN` shards holding the raw little-endian bytes.
//! Variables get their Hugging Face names on the way in ([`hf_name_of_tf`]; dense kernels,
//! stored `[in, out]`, are transposed to HF's `[out, in]`), so the rest of the loader sees the
//! same tensors as from `model.safetensors`. Optimiser slots and `global_step` keep their TF
//! names and show up as unused.

use std::path::{Path, PathBuf};

use super::safetensors_io::{Elem, FileTensor, TensorValues, decode_le, value_count};
use crate::error::{AlbertError, Result};

/// LevelDB's table magic number (the footer's last 8 bytes, little-endian).
const TABLE_MAGIC: u64 = 0xdb47_7524_8b80_fb57;

/// The `.index` file of a checkpoint given as its prefix (`model.ckpt-0`) or as the index
/// itself.
pub fn tf_index_path(path: &Path) -> Option<PathBuf> {
    if path.extension().is_some_and(|e| e == "index") && path.is_file() {
        return Some(path.to_path_buf());
    }
    let mut index = path.as_os_str().to_owned();
    index.push(".index");
    let index = PathBuf::from(index);
    index.is_file().then_some(index)
}

fn varint(b: &[u8], pos: &mut usize) -> std::result::Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or("a varint runs past its block")?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a varint longer than 10 bytes".into())
}

/// The (offset, size) of a block handle at `pos`.
fn handle(b: &[u8], pos: &mut usize) -> std::result::Result<(usize, usize), String> {
    Ok((varint(b, pos)? as usize, varint(b, pos)? as usize))
}

/// The key/value entries of the block at `(offset, size)` of `file` (uncompressed blocks only:
/// TF writes the bundle index that way).
/// A table's key/value pairs, in key order.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn block_entries(
    file: &[u8],
    (offset, size): (usize, usize),
) -> std::result::Result<Entries, String> {
    let end = offset
        .checked_add(size)
        .ok_or("a block lies past the end of the file")?;
    let block = file
        .get(offset..end)
        .ok_or("a block lies past the end of the file")?;
    let kind = file.get(end).ok_or("a block without its trailer")?;
    if *kind != 0 {
        return Err(format!(
            "block compression type {kind} (only uncompressed tables are read)"
        ));
    }
    if block.len() < 4 {
        return Err("a block shorter than its restart count".into());
    }
    let restarts = u32::from_le_bytes([
        block[block.len() - 4],
        block[block.len() - 3],
        block[block.len() - 2],
        block[block.len() - 1],
    ]) as usize;
    let end = block
        .len()
        .checked_sub(4 + 4 * restarts)
        .ok_or("a block with more restarts than bytes")?;
    let mut entries = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let mut pos = 0;
    while pos < end {
        let shared = varint(block, &mut pos)? as usize;
        let unshared = varint(block, &mut pos)? as usize;
        let value_len = varint(block, &mut pos)? as usize;
        if shared > key.len() {
            return Err("a key sharing more bytes than the previous key has".into());
        }
        key.truncate(shared);
        let rest = block
            .get(pos..pos + unshared + value_len)
            .filter(|_| pos + unshared + value_len <= end)
            .ok_or("an entry runs past its block")?;
        key.extend_from_slice(&rest[..unshared]);
        entries.push((key.clone(), rest[unshared..].to_vec()));
        pos += unshared + value_len;
    }
    Ok(entries)
}

/// A protobuf field: number, and its varint value or its length-delimited bytes.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn fields(b: &[u8]) -> std::result::Result<Vec<(u64, Field<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let tag = varint(b, &mut pos)?;
        let field = match tag & 7 {
            0 => Field::Varint(varint(b, &mut pos)?),
            2 => {
                let n = varint(b, &mut pos)? as usize;
                let bytes = b
                    .get(pos..pos + n)
                    .ok_or("a protobuf field runs past its message")?;
                pos += n;
                Field::Bytes(bytes)
            }
            5 => {
                pos += 4;
                Field::Fixed
            }
            1 => {
                pos += 8;
                Field::Fixed
            }
            w => return Err(format!("protobuf wire type {w}")),
        };
        out.push((tag >> 3, field));
    }
    if pos > b.len() {
        return Err("a protobuf field runs past its message".into());
    }
    Ok(out)
}

/// One variable's `BundleEntryProto`.
#[derive(Debug, Default)]
struct Entry {
    dtype: u64,
    shape: Vec<usize>,
    shard: u64,
    offset: usize,
    size: usize,
    sliced: bool,
}

fn entry(b: &[u8]) -> std::result::Result<Entry, String> {
    let mut e = Entry::default();
    for (number, field) in fields(b)? {
        match (number, field) {
            (1, Field::Varint(v)) => e.dtype = v,
            (2, Field::Bytes(shape)) => {
                for (n, dim) in fields(shape)? {
                    if let (2, Field::Bytes(dim)) = (n, dim) {
                        let size = fields(dim)?
                            .into_iter()
                            .find_map(|(n, f)| match (n, f) {
                                (1, Field::Varint(v)) => Some(v as usize),
                                _ => None,
                            })
                            .unwrap_or(0);
                        e.shape.push(size);
                    }
                }
            }
            (3, Field::Varint(v)) => e.shard = v,
            (4, Field::Varint(v)) => e.offset = v as usize,
            (5, Field::Varint(v)) => e.size = v as usize,
            (7, Field::Bytes(_)) => e.sliced = true,
            _ => {}
        }
    }
    Ok(e)
}

/// The HF name of an original ALBERT variable, and whether its values must be transposed
/// (dense `kernel`s are `[in, out]`, HF's `weight`s `[out, in]`). `None` for variables no model
/// parameter comes from (optimiser slots, `global_step`).
pub fn hf_name_of_tf(tf: &str) -> Option<(String, bool)> {
    let leaf = |rest: &str, base: &str| -> Option<(String, bool)> {
        Some(match rest {
            "kernel" => (format!("{base}.weight"), true),
            "bias" => (format!("{base}.bias"), false),
            "gamma" => (format!("{base}.weight"), false),
            "beta" => (format!("{base}.bias"), false),
            _ => return None,
        })
    };
    if let Some(rest) = tf.strip_prefix("bert/embeddings/") {
        return match rest {
            "word_embeddings" | "position_embeddings" | "token_type_embeddings" => {
                Some((format!("albert.embeddings.{rest}.weight"), false))
            }
            _ => leaf(
                rest.strip_prefix("LayerNorm/")?,
                "albert.embeddings.LayerNorm",
            ),
        };
    }
    if let Some(rest) = tf.strip_prefix("bert/encoder/embedding_hidden_mapping_in/") {
        return leaf(rest, "albert.encoder.embedding_hidden_mapping_in");
    }
    if let Some(rest) = tf.strip_prefix("bert/encoder/transformer/group_") {
        let (g, rest) = rest.split_once("/inner_group_")?;
        let (j, rest) = rest.split_once('/')?;
        g.parse::<usize>().ok()?;
        j.parse::<usize>().ok()?;
        let layer = format!("albert.encoder.albert_layer_groups.{g}.albert_layers.{j}");
        let (module, last) = rest.rsplit_once('/')?;
        let base = match module {
            "attention_1/self/query" => format!("{layer}.attention.query"),
            "attention_1/self/key" => format!("{layer}.attention.key"),
            "attention_1/self/value" => format!("{layer}.attention.value"),
            "attention_1/output/dense" => format!("{layer}.attention.dense"),
            "LayerNorm" => format!("{layer}.attention.LayerNorm"),
            "ffn_1/intermediate/dense" => format!("{layer}.ffn"),
            "ffn_1/intermediate/output/dense" => format!("{layer}.ffn_output"),
            "LayerNorm_1" => format!("{layer}.full_layer_layer_norm"),
            _ => return None,
        };
        return leaf(last, &base);
    }
    if let Some(rest) = tf.strip_prefix("bert/pooler/dense/") {
        return leaf(rest, "albert.pooler");
    }
    if let Some(rest) = tf.strip_prefix("cls/predictions/transform/dense/") {
        return leaf(rest, "predictions.dense");
    }
    if let Some(rest) = tf.strip_prefix("cls/predictions/transform/LayerNorm/") {
        return leaf(rest, "predictions.LayerNorm");
    }
    match tf {
        "cls/predictions/output_bias" => Some(("predictions.bias".into(), false)),
        // Stored [2, H] already (`output_weights`, multiplied transposed in the original code).
        "cls/seq_relationship/output_weights" => {
            Some(("sop_classifier.classifier.weight".into(), false))
        }
        "cls/seq_relationship/output_bias" => {
            Some(("sop_classifier.classifier.bias".into(), false))
        }
        _ => None,
    }
}

/// Every variable of an original TF1 checkpoint (`path`: its prefix `model.ckpt-N`, or the
/// `.index` file), model variables under their HF names (kernels transposed), floats as f32.
/// A malformed index or a shard too short for its entries is an
/// [`AlbertError::CorruptCheckpoint`] naming the file.
pub fn read_tf_checkpoint(path: impl AsRef<Path>) -> Result<Vec<FileTensor>> {
    let path = path.as_ref();
    let index_path = tf_index_path(path).ok_or_else(|| AlbertError::CorruptCheckpoint {
        path: path.to_path_buf(),
        message: "no TF checkpoint here (expected PREFIX.index and PREFIX.data-*)".into(),
    })?;
    let corrupt = |p: &Path, message: String| AlbertError::CorruptCheckpoint {
        path: p.to_path_buf(),
        message,
    };
    let index = crate::io::read(&index_path)?;
    if index.len() < 48 {
        return Err(corrupt(&index_path, "shorter than a table footer".into()));
    }
    let footer = &index[index.len() - 48..];
    let magic = u64::from_le_bytes(
        footer[40..48]
            .try_into()
            .map_err(|_| corrupt(&index_path, "footer".into()))?,
    );
    if magic != TABLE_MAGIC {
        return Err(corrupt(
            &index_path,
            "not a TF checkpoint index (wrong table magic)".into(),
        ));
    }
    let entries = (|| -> std::result::Result<Entries, String> {
        let mut pos = 0;
        let _meta = handle(footer, &mut pos)?;
        let index_block = handle(footer, &mut pos)?;
        let mut all = Vec::new();
        for (_, value) in block_entries(&index, index_block)? {
            let mut p = 0;
            all.extend(block_entries(&index, handle(&value, &mut p)?)?);
        }
        Ok(all)
    })()
    .map_err(|m| corrupt(&index_path, m))?;

    let prefix = index_path.with_extension("");
    let mut num_shards = 1u64;
    let mut variables = Vec::new();
    for (key, value) in entries {
        if key.is_empty() {
            // BundleHeaderProto: field 1 is the shard count.
            for (n, f) in fields(&value).map_err(|m| corrupt(&index_path, m))? {
                if let (1, Field::Varint(v)) = (n, f) {
                    num_shards = v.max(1);
                }
            }
            continue;
        }
        let name = String::from_utf8_lossy(&key).into_owned();
        let e = entry(&value).map_err(|m| corrupt(&index_path, format!("{name}: {m}")))?;
        variables.push((name, e));
    }
    // Shards are read when a variable needs them (the header's count is not trusted for an
    // allocation: a corrupt one found by fuzzing asked for 12 GB).
    let mut shards: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
    let mut out = Vec::with_capacity(variables.len());
    for (name, e) in variables {
        if e.sliced {
            return Err(corrupt(
                &index_path,
                format!("{name}: partitioned variables are not supported"),
            ));
        }
        let shard = Some(e.shard).filter(|&s| s < num_shards).ok_or_else(|| {
            corrupt(
                &index_path,
                format!("{name}: shard {} of {num_shards}", e.shard),
            )
        })?;
        let shard_path = {
            let mut p = prefix.as_os_str().to_owned();
            p.push(format!(".data-{shard:05}-of-{num_shards:05}"));
            PathBuf::from(p)
        };
        let data = match shards.entry(shard) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(crate::io::read(&shard_path)?)
            }
        };
        let data = data.as_slice();
        let bytes = e
            .offset
            .checked_add(e.size)
            .and_then(|end| data.get(e.offset..end))
            .ok_or_else(|| {
                corrupt(
                    &shard_path,
                    format!(
                        "{name}: bytes {}..{} lie past its {} bytes",
                        e.offset,
                        e.offset.saturating_add(e.size),
                        data.len()
                    ),
                )
            })?;
        let n: usize = e
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| {
                corrupt(
                    &index_path,
                    format!("{name}: shape {:?} overflows", e.shape),
                )
            })?;
        // TF's DataType enum: DT_FLOAT 1, DT_DOUBLE 2, DT_INT32 3, DT_INT64 9, DT_BFLOAT16 14,
        // DT_HALF 19.
        let elem = match e.dtype {
            1 => Some(Elem::F32),
            2 => Some(Elem::F64),
            3 => Some(Elem::I32),
            9 => Some(Elem::I64),
            14 => Some(Elem::Bf16),
            19 => Some(Elem::F16),
            _ => None,
        };
        let values = match elem {
            Some(elem) => decode_le(elem, bytes),
            None => TensorValues::Unsupported(format!("TF dtype {}", e.dtype)),
        };
        let count = value_count(&values, n);
        if count != n {
            return Err(corrupt(
                &shard_path,
                format!("{name}: {count} values for shape {:?}", e.shape),
            ));
        }
        let (name, shape, values) = match (hf_name_of_tf(&name), values) {
            (Some((hf, true)), TensorValues::F32(v)) if e.shape.len() == 2 => {
                let (rows, cols) = (e.shape[0], e.shape[1]);
                let t: Vec<f32> = (0..cols)
                    .flat_map(|c| {
                        v[c..]
                            .iter()
                            .step_by(cols)
                            .take(rows)
                            .copied()
                            .collect::<Vec<_>>()
                    })
                    .collect();
                (hf, vec![cols, rows], TensorValues::F32(t))
            }
            (Some((hf, _)), values) => (hf, e.shape, values),
            (None, values) => (name, e.shape, values),
        };
        out.push(FileTensor {
            file: index_path.clone(),
            name,
            shape,
            values,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_names_map_to_hf_names() {
        let cases = [
            (
                "bert/embeddings/word_embeddings",
                "albert.embeddings.word_embeddings.weight",
                false,
            ),
            (
                "bert/embeddings/LayerNorm/gamma",
                "albert.embeddings.LayerNorm.weight",
                false,
            ),
            (
                "bert/encoder/embedding_hidden_mapping_in/kernel",
                "albert.encoder.embedding_hidden_mapping_in.weight",
                true,
            ),
            (
                "bert/encoder/transformer/group_1/inner_group_0/attention_1/self/key/bias",
                "albert.encoder.albert_layer_groups.1.albert_layers.0.attention.key.bias",
                false,
            ),
            (
                "bert/encoder/transformer/group_0/inner_group_1/ffn_1/intermediate/output/dense/kernel",
                "albert.encoder.albert_layer_groups.0.albert_layers.1.ffn_output.weight",
                true,
            ),
            (
                "bert/encoder/transformer/group_0/inner_group_0/LayerNorm_1/beta",
                "albert.encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.bias",
                false,
            ),
            ("cls/predictions/output_bias", "predictions.bias", false),
            (
                "cls/seq_relationship/output_weights",
                "sop_classifier.classifier.weight",
                false,
            ),
        ];
        for (tf, hf, transposed) in cases {
            assert_eq!(
                hf_name_of_tf(tf),
                Some((hf.to_string(), transposed)),
                "{tf}"
            );
        }
        assert_eq!(hf_name_of_tf("global_step"), None);
        assert_eq!(
            hf_name_of_tf("bert/embeddings/word_embeddings/adam_m"),
            None
        );
    }

    #[test]
    fn garbage_indexes_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let prefix = dir.path().join("model.ckpt-1");
        std::fs::write(dir.path().join("model.ckpt-1.index"), [0u8; 60]).expect("write");
        let e = read_tf_checkpoint(&prefix)
            .expect_err("garbage")
            .to_string();
        assert!(
            e.contains("model.ckpt-1.index") && e.contains("magic"),
            "{e}"
        );
        let e = read_tf_checkpoint(dir.path().join("nothing"))
            .expect_err("absent")
            .to_string();
        assert!(e.contains("no TF checkpoint"), "{e}");
    }
}
