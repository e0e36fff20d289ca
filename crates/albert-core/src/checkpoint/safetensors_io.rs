//! Reading and writing `.safetensors` files, with errors that name the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::error::{AlbertError, Result};
use crate::io::{read, write_atomic};

/// A tensor read from a checkpoint, floats widened to `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTensor {
    /// The file it came from.
    pub file: PathBuf,
    /// Its name in the file.
    pub name: String,
    /// Its shape in the file.
    pub shape: Vec<usize>,
    /// Its values.
    pub values: TensorValues,
}

/// Values of a [`FileTensor`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorValues {
    /// Any float dtype (F64, F32, F16, BF16), as `f32`.
    F32(Vec<f32>),
    /// Any integer dtype, as `i64`.
    I64(Vec<i64>),
    /// A dtype that no ALBERT parameter can take (bool, fp8, ...), by its safetensors name.
    Unsupported(String),
}

impl TensorValues {
    /// A short name of the kind of values held.
    pub fn kind(&self) -> &str {
        match self {
            TensorValues::F32(_) => "float",
            TensorValues::I64(_) => "int",
            TensorValues::Unsupported(d) => d,
        }
    }
}

/// Reads every tensor of a safetensors file. A truncated or otherwise malformed file is an
/// [`AlbertError::CorruptCheckpoint`] naming it.
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Vec<FileTensor>> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let corrupt = |message: String| AlbertError::CorruptCheckpoint {
        path: path.to_path_buf(),
        message,
    };
    let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.iter() {
        let values = decode(&view).map_err(|m| corrupt(format!("tensor {name}: {m}")))?;
        out.push(FileTensor {
            file: path.to_path_buf(),
            name: name.to_string(),
            shape: view.shape().to_vec(),
            values,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// An element type of the checkpoint formats we read (all little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elem {
    F32,
    F64,
    F16,
    Bf16,
    I64,
    I32,
    I16,
    I8,
    U8,
}

impl Elem {
    /// Bytes per element.
    pub(super) fn size(self) -> usize {
        match self {
            Elem::F64 | Elem::I64 => 8,
            Elem::F32 | Elem::I32 => 4,
            Elem::F16 | Elem::Bf16 | Elem::I16 => 2,
            Elem::I8 | Elem::U8 => 1,
        }
    }
}

fn chunks<const N: usize>(data: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    data.chunks_exact(N).map(|c| {
        let mut a = [0u8; N];
        a.copy_from_slice(c);
        a
    })
}

/// Little-endian `bytes` of `elem` values: floats widened to f32, integers to i64 (a trailing
/// partial element is ignored; callers check the count against the shape).
pub(super) fn decode_le(elem: Elem, d: &[u8]) -> TensorValues {
    match elem {
        Elem::F32 => TensorValues::F32(chunks::<4>(d).map(f32::from_le_bytes).collect()),
        Elem::F64 => TensorValues::F32(
            chunks::<8>(d)
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect(),
        ),
        Elem::F16 => TensorValues::F32(
            chunks::<2>(d)
                .map(|b| half::f16::from_le_bytes(b).to_f32())
                .collect(),
        ),
        Elem::Bf16 => TensorValues::F32(
            chunks::<2>(d)
                .map(|b| half::bf16::from_le_bytes(b).to_f32())
                .collect(),
        ),
        Elem::I64 => TensorValues::I64(chunks::<8>(d).map(i64::from_le_bytes).collect()),
        Elem::I32 => TensorValues::I64(
            chunks::<4>(d)
                .map(|b| i64::from(i32::from_le_bytes(b)))
                .collect(),
        ),
        Elem::I16 => TensorValues::I64(
            chunks::<2>(d)
                .map(|b| i64::from(i16::from_le_bytes(b)))
                .collect(),
        ),
        Elem::I8 => TensorValues::I64(d.iter().map(|&b| i64::from(b as i8)).collect()),
        Elem::U8 => TensorValues::I64(d.iter().map(|&b| i64::from(b)).collect()),
    }
}

/// How many values `values` holds (`n`, the shape's count, for an unsupported dtype).
pub(super) fn value_count(values: &TensorValues, n: usize) -> usize {
    match values {
        TensorValues::F32(v) => v.len(),
        TensorValues::I64(v) => v.len(),
        TensorValues::Unsupported(_) => n,
    }
}

fn decode(view: &TensorView<'_>) -> std::result::Result<TensorValues, String> {
    let elem = match view.dtype() {
        Dtype::F32 => Some(Elem::F32),
        Dtype::F64 => Some(Elem::F64),
        Dtype::F16 => Some(Elem::F16),
        Dtype::BF16 => Some(Elem::Bf16),
        Dtype::I64 => Some(Elem::I64),
        Dtype::I32 => Some(Elem::I32),
        Dtype::I16 => Some(Elem::I16),
        Dtype::I8 => Some(Elem::I8),
        Dtype::U8 => Some(Elem::U8),
        _ => None,
    };
    let values = match elem {
        Some(e) => decode_le(e, view.data()),
        None => TensorValues::Unsupported(format!("{:?}", view.dtype())),
    };
    let n: usize = view.shape().iter().product();
    let len = value_count(&values, n);
    if len != n {
        return Err(format!("{len} values for shape {:?}", view.shape()));
    }
    Ok(values)
}

/// A tensor to write: name, shape, `f32` values.
#[derive(Debug, Clone, PartialEq)]
pub struct OutTensor {
    /// Name in the file.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub values: Vec<f32>,
}

/// The float type a checkpoint's tensors are stored in: float32 (the default, exact), or
/// bfloat16 / IEEE half (half the size; every value rounded to the nearest, ties to even —
/// loading widens them back to f32 exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreDtype {
    /// 4 bytes per value.
    #[default]
    F32,
    /// 2 bytes per value, float32's range, 8 significant bits.
    Bf16,
    /// 2 bytes per value, range ±65504, 11 significant bits (larger values become infinite).
    F16,
}

impl StoreDtype {
    /// Every dtype, as the CLI lists them.
    pub const ALL: [StoreDtype; 3] = [StoreDtype::F32, StoreDtype::Bf16, StoreDtype::F16];

    /// The CLI's name: `fp32`, `bf16`, `fp16`.
    pub fn name(self) -> &'static str {
        match self {
            StoreDtype::F32 => "fp32",
            StoreDtype::Bf16 => "bf16",
            StoreDtype::F16 => "fp16",
        }
    }

    /// `v`'s little-endian bytes in this dtype.
    fn push_bytes(self, v: f32, out: &mut Vec<u8>) {
        match self {
            StoreDtype::F32 => out.extend(v.to_le_bytes()),
            StoreDtype::Bf16 => out.extend(half::bf16::from_f32(v).to_le_bytes()),
            StoreDtype::F16 => out.extend(half::f16::from_f32(v).to_le_bytes()),
        }
    }

    /// The safetensors dtype.
    fn safetensors(self) -> Dtype {
        match self {
            StoreDtype::F32 => Dtype::F32,
            StoreDtype::Bf16 => Dtype::BF16,
            StoreDtype::F16 => Dtype::F16,
        }
    }
}

impl std::str::FromStr for StoreDtype {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown dtype {s:?} (expected fp32, bf16 or fp16)"))
    }
}

/// Writes float32 tensors to a safetensors file atomically, with `metadata` in its header
/// (`transformers` needs `{"format": "pt"}` to load a file).
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &[OutTensor],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    write_safetensors_as(path, tensors, metadata, StoreDtype::F32)
}

/// [`write_safetensors`] storing the values as `dtype`. An fp16 file refuses values beyond
/// half precision's range (they would become infinite), naming the tensor.
pub fn write_safetensors_as(
    path: impl AsRef<Path>,
    tensors: &[OutTensor],
    metadata: Option<HashMap<String, String>>,
    dtype: StoreDtype,
) -> Result<()> {
    let path = path.as_ref();
    if dtype == StoreDtype::F16
        && let Some(t) = tensors
            .iter()
            .find(|t| t.values.iter().any(|v| v.is_finite() && v.abs() > 65504.0))
    {
        return Err(AlbertError::Export(format!(
            "{}: tensor {} has values beyond fp16's range (±65504); store it as bf16 or fp32",
            path.display(),
            t.name
        )));
    }
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| {
            let mut b = Vec::with_capacity(t.values.len() * 4);
            for &v in &t.values {
                dtype.push_bytes(v, &mut b);
            }
            b
        })
        .collect();
    let mut views = Vec::with_capacity(tensors.len());
    for (t, b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(dtype.safetensors(), t.shape.clone(), b)
            .map_err(|e| AlbertError::Export(format!("tensor {}: {e}", t.name)))?;
        views.push((t.name.as_str(), view));
    }
    let buffer = safetensors::serialize(views, metadata)
        .map_err(|e| AlbertError::Export(format!("{}: {e}", path.display())))?;
    write_atomic(path, &buffer)
}

/// Names and shapes of a safetensors file's tensors, from its header alone (the data is not
/// read).
pub fn tensor_shapes(
    path: impl AsRef<Path>,
) -> Result<std::collections::BTreeMap<String, Vec<usize>>> {
    use std::io::Read;
    let path = path.as_ref();
    let corrupt = |message: String| AlbertError::CorruptCheckpoint {
        path: path.to_path_buf(),
        message,
    };
    let mut file = std::fs::File::open(path).map_err(|e| AlbertError::io(path, e))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| corrupt("shorter than the 8-byte header length".into()))?;
    let len = u64::from_le_bytes(len);
    if len > 100_000_000 {
        return Err(corrupt(format!("header length {len} is implausible")));
    }
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header)
        .map_err(|_| corrupt(format!("truncated inside its {len}-byte header")))?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| corrupt(format!("header is not JSON: {e}")))?;
    let entries = header
        .as_object()
        .ok_or_else(|| corrupt("header is not a JSON object".into()))?;
    let mut shapes = std::collections::BTreeMap::new();
    for (name, info) in entries {
        if name == "__metadata__" {
            continue;
        }
        let shape = info
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|dims| {
                dims.iter()
                    .map(|d| d.as_u64().map(|d| d as usize))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| corrupt(format!("tensor {name} has no valid shape")))?;
        shapes.insert(name.clone(), shape);
    }
    Ok(shapes)
}

#[cfg(test)]
mod store_dtype_tests {
    use super::*;

    /// A file written as bf16 / fp16 holds that dtype (its header says so), two bytes a value,
    /// and reads back as each value's nearest bfloat16 / half (ties to even); fp16 refuses a
    /// value beyond its range, naming the tensor and the file.
    #[test]
    fn half_dtypes_round_trip_and_fp16_refuses_its_overflow() {
        let tmp = tempfile::tempdir().expect("tmp");
        let values = vec![1.0, 1.0 + 1.0 / 256.0, -3.3, 1e-3, 0.0, 1.0e4, 7.0e-8];
        let t = OutTensor {
            name: "w".into(),
            shape: vec![values.len()],
            values: values.clone(),
        };
        for (dtype, st, round) in [
            (
                StoreDtype::Bf16,
                Dtype::BF16,
                crate::precision::round_bf16 as fn(f32) -> f32,
            ),
            (StoreDtype::F16, Dtype::F16, crate::precision::round_f16),
        ] {
            let path = tmp.path().join(format!("{}.safetensors", dtype.name()));
            write_safetensors_as(&path, std::slice::from_ref(&t), None, dtype).expect("write");
            let bytes = std::fs::read(&path).expect("read");
            let file = SafeTensors::deserialize(&bytes).expect("parse");
            let view = file.tensor("w").expect("w");
            assert_eq!(view.dtype(), st);
            assert_eq!(view.data().len(), 2 * values.len());
            let back = read_safetensors(&path).expect("read back");
            let want: Vec<f32> = values.iter().map(|&v| round(v)).collect();
            assert_eq!(back[0].values, TensorValues::F32(want));
        }
        let big = OutTensor {
            name: "big".into(),
            shape: vec![1],
            values: vec![1.0e5],
        };
        let path = tmp.path().join("big.safetensors");
        let e = write_safetensors_as(&path, &[big], None, StoreDtype::F16).expect_err("refused");
        let msg = e.to_string();
        assert!(msg.contains("big") && msg.contains("fp16"), "{msg}");
        assert!(!path.exists(), "nothing written");
        assert_eq!("bf16".parse::<StoreDtype>(), Ok(StoreDtype::Bf16));
        assert!("int8".parse::<StoreDtype>().is_err());
    }
}
