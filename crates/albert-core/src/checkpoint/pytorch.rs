//! Reading PyTorch's `pytorch_model.bin` (the zip format `torch.save` has written since 1.6:
//! `ARCHIVE/data.pkl`, a pickle of the state dict, and one raw little-endian file per storage,
//! `ARCHIVE/data/KEY`) without executing any pickle code.
//!
//! The pickle is run by a small stack machine that knows only the opcodes `torch.save` emits
//! (protocols 2 to 5) and builds plain values; the only "calls" it understands are
//! `collections.OrderedDict()` and `torch._utils._rebuild_tensor_v2(storage, offset, size,
//! stride, …)`, whose storage is a persistent id `('storage', torch.XStorage, key, location,
//! numel)`. Anything else — another global, a class to instantiate — is kept as an inert value
//! and never run; if it is where a tensor should be, the file is reported as unsupported.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::safetensors_io::{Elem, FileTensor, TensorValues, decode_le};
use crate::error::{AlbertError, Result};

/// A value of the pickle, as far as a state dict needs.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`, never imported.
    Global(String, String),
    /// A persistent id (a storage reference).
    PersId(Box<Value>),
    /// `callable(*args)`, never called (except the two above, interpreted by [`tensor_of`]).
    Call(Box<Value>, Vec<Value>),
    Mark,
}

/// Runs the pickle `data` and returns its top value.
fn unpickle(data: &[u8]) -> std::result::Result<Value, String> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let end = pos
            .checked_add(n)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| format!("pickle ends inside an argument at byte {pos}"))?;
        let s = &data[*pos..end];
        *pos = end;
        Ok(s)
    };
    let le = |b: &[u8]| -> u64 {
        b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    };
    let pop_mark = |stack: &mut Vec<Value>| -> std::result::Result<Vec<Value>, String> {
        let at = stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or("pickle: no mark on the stack")?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Ok(items)
    };
    let pop = |stack: &mut Vec<Value>| {
        stack
            .pop()
            .ok_or_else(|| "pickle: stack underflow".to_string())
    };
    loop {
        let op = *take(&mut pos, 1)?.first().ok_or("pickle: empty")?;
        match op {
            0x80 => {
                take(&mut pos, 1)?; // PROTO n
            }
            0x95 => {
                take(&mut pos, 8)?; // FRAME
            }
            b'.' => return pop(&mut stack), // STOP
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'K' => {
                let v = le(take(&mut pos, 1)?);
                stack.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = le(take(&mut pos, 2)?);
                stack.push(Value::Int(v as i64));
            }
            b'J' => {
                let b = take(&mut pos, 4)?;
                stack.push(Value::Int(i64::from(i32::from_le_bytes([
                    b[0], b[1], b[2], b[3],
                ]))));
            }
            0x8a => {
                // LONG1: n bytes of two's-complement little-endian.
                let n = usize::from(take(&mut pos, 1)?[0]);
                let b = take(&mut pos, n)?;
                if n > 8 {
                    return Err(format!("pickle: a {n}-byte integer"));
                }
                let mut v = le(b) as i64;
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => {
                let b = take(&mut pos, 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                stack.push(Value::Float(f64::from_be_bytes(a)));
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => le(take(&mut pos, 4)?) as usize,
                    0x8c => le(take(&mut pos, 1)?) as usize,
                    _ => le(take(&mut pos, 8)?) as usize,
                };
                let s = std::str::from_utf8(take(&mut pos, n)?)
                    .map_err(|_| "pickle: a string that is not UTF-8".to_string())?;
                stack.push(Value::Str(s.to_string()));
            }
            b'B' | b'C' | 0x8e => {
                let n = match op {
                    b'B' => le(take(&mut pos, 4)?) as usize,
                    b'C' => le(take(&mut pos, 1)?) as usize,
                    _ => le(take(&mut pos, 8)?) as usize,
                };
                stack.push(Value::Bytes(take(&mut pos, n)?.to_vec()));
            }
            b'c' => {
                // GLOBAL: "module\nname\n".
                let mut line = || -> std::result::Result<String, String> {
                    let rest = &data[pos..];
                    let end = rest
                        .iter()
                        .position(|&b| b == b'\n')
                        .ok_or("pickle: unterminated global")?;
                    let s = String::from_utf8_lossy(&rest[..end]).into_owned();
                    pos += end + 1;
                    Ok(s)
                };
                let module = line()?;
                let name = line()?;
                stack.push(Value::Global(module, name));
            }
            0x93 => {
                // STACK_GLOBAL
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => stack.push(Value::Global(m, n)),
                    _ => return Err("pickle: STACK_GLOBAL of non-strings".into()),
                }
            }
            b'q' | b'r' | 0x94 => {
                let key = match op {
                    b'q' => le(take(&mut pos, 1)?) as u32,
                    b'r' => le(take(&mut pos, 4)?) as u32,
                    _ => memo.len() as u32,
                };
                let top = stack
                    .last()
                    .ok_or("pickle: memo of an empty stack")?
                    .clone();
                memo.insert(key, top);
            }
            b'h' | b'j' => {
                let key = if op == b'h' {
                    le(take(&mut pos, 1)?) as u32
                } else {
                    le(take(&mut pos, 4)?) as u32
                };
                let v = memo
                    .get(&key)
                    .ok_or_else(|| format!("pickle: memo {key} unset"))?
                    .clone();
                stack.push(v);
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if stack.len() < n {
                    return Err("pickle: stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'Q' => {
                let id = pop(&mut stack)?;
                stack.push(Value::PersId(Box::new(id)));
            }
            b'R' | 0x81 => {
                // REDUCE / NEWOBJ: recorded, never called.
                let args = pop(&mut stack)?;
                let callable = pop(&mut stack)?;
                let args = match args {
                    Value::Tuple(a) => a,
                    other => vec![other],
                };
                stack.push(Value::Call(Box::new(callable), args));
            }
            b'b' => {
                // BUILD: the state of an object; a state dict's tensors carry none we need.
                pop(&mut stack)?;
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack)?
                };
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err("pickle: append to a non-list".into()),
                }
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = pop(&mut stack)?;
                    let k = pop(&mut stack)?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack)?
                };
                if items.len() % 2 != 0 {
                    return Err("pickle: an odd number of dict items".into());
                }
                let target = stack.last_mut().ok_or("pickle: setitems without a dict")?;
                // `OrderedDict()` is a dict with its items set afterwards.
                if matches!(target, Value::Call(f, _) if **f == Value::Global("collections".into(), "OrderedDict".into()))
                {
                    *target = Value::Dict(Vec::new());
                }
                let Value::Dict(d) = target else {
                    return Err("pickle: setitems on a non-dict".into());
                };
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
            }
            other => {
                return Err(format!(
                    "pickle: unsupported opcode 0x{other:02x} at byte {}",
                    pos - 1
                ));
            }
        }
    }
}

/// The element type of a `torch.XStorage` class name (`None`: bool and other types no ALBERT
/// parameter has).
fn storage_elem(name: &str) -> Option<Elem> {
    Some(match name {
        "FloatStorage" => Elem::F32,
        "DoubleStorage" => Elem::F64,
        "HalfStorage" => Elem::F16,
        "BFloat16Storage" => Elem::Bf16,
        "LongStorage" => Elem::I64,
        "IntStorage" => Elem::I32,
        "ShortStorage" => Elem::I16,
        "CharStorage" => Elem::I8,
        "ByteStorage" => Elem::U8,
        _ => return None,
    })
}

fn int(v: &Value) -> std::result::Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(format!("expected an integer, found {other:?}")),
    }
}

fn ints(v: &Value) -> std::result::Result<Vec<i64>, String> {
    match v {
        Value::Tuple(items) | Value::List(items) => items.iter().map(int).collect(),
        other => Err(format!("expected a tuple of integers, found {other:?}")),
    }
}

/// A `_rebuild_tensor_v2(...)` call as (storage key, storage class, offset, shape, strides).
type TensorRef = (String, String, usize, Vec<usize>, Vec<usize>);

fn tensor_of(v: &Value) -> std::result::Result<TensorRef, String> {
    let Value::Call(f, args) = v else {
        return Err(format!("not a tensor: {v:?}"));
    };
    match &**f {
        Value::Global(m, n) if m == "torch._utils" && n == "_rebuild_tensor_v2" => {}
        Value::Global(m, n) => {
            return Err(format!(
                "{m}.{n}(...) where a tensor was expected (only plain tensors are read)"
            ));
        }
        other => return Err(format!("a call of {other:?} where a tensor was expected")),
    }
    if args.len() < 4 {
        return Err("_rebuild_tensor_v2 with fewer than 4 arguments".into());
    }
    let Value::PersId(id) = &args[0] else {
        return Err("a tensor without a storage reference".into());
    };
    let Value::Tuple(id) = &**id else {
        return Err("a storage reference that is not a tuple".into());
    };
    let (class, key) = match id.as_slice() {
        [
            Value::Str(tag),
            Value::Global(_, class),
            Value::Str(key),
            ..,
        ] if tag == "storage" => (class.clone(), key.clone()),
        _ => return Err(format!("unrecognised storage reference {id:?}")),
    };
    let to_usize = |xs: Vec<i64>| -> std::result::Result<Vec<usize>, String> {
        xs.into_iter()
            .map(|x| usize::try_from(x).map_err(|_| format!("negative size or stride {x}")))
            .collect()
    };
    let offset = usize::try_from(int(&args[1])?).map_err(|_| "negative storage offset")?;
    Ok((
        key,
        class,
        offset,
        to_usize(ints(&args[2])?)?,
        to_usize(ints(&args[3])?)?,
    ))
}

/// Every tensor of a `pytorch_model.bin` (a state dict saved by `torch.save`), floats widened
/// to f32. Non-contiguous tensors are gathered through their strides. A file that is not such
/// a zip archive, or holds something other than a state dict of tensors, is an
/// [`AlbertError::CorruptCheckpoint`] naming it; the legacy (pre-1.6, non-zip) format is
/// reported as unsupported.
pub fn read_pytorch(path: impl AsRef<Path>) -> Result<Vec<FileTensor>> {
    let path = path.as_ref();
    let corrupt = |message: String| AlbertError::CorruptCheckpoint {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| AlbertError::io(path, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| {
        corrupt(format!(
            "not a zip archive as torch.save writes since PyTorch 1.6 ({e}); re-save it with a \
             recent torch or convert it to safetensors"
        ))
    })?;
    let pickle_name = zip
        .file_names()
        .find(|n| n.ends_with("data.pkl"))
        .map(str::to_string)
        .ok_or_else(|| corrupt("no data.pkl in the archive".into()))?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_string();
    let mut read_entry = |name: &str| -> Result<Vec<u8>> {
        let mut entry = zip
            .by_name(name)
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| corrupt(format!("{name}: {e}")))?;
        Ok(bytes)
    };
    let pickle = read_entry(&pickle_name)?;
    let top = unpickle(&pickle).map_err(corrupt)?;
    let Value::Dict(items) = top else {
        return Err(corrupt("the pickle is not a state dict".into()));
    };
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        let Value::Str(name) = k else {
            return Err(corrupt(format!(
                "a state-dict key that is not a string: {k:?}"
            )));
        };
        let (key, class, offset, shape, strides) =
            tensor_of(&v).map_err(|m| corrupt(format!("{name}: {m}")))?;
        let Some(elem) = storage_elem(&class) else {
            out.push(FileTensor {
                file: path.to_path_buf(),
                name,
                shape,
                values: TensorValues::Unsupported(class),
            });
            continue;
        };
        if !storages.contains_key(&key) {
            let bytes = read_entry(&format!("{prefix}data/{key}"))?;
            storages.insert(key.clone(), bytes);
        }
        let bytes = &storages[&key];
        if strides.len() != shape.len() {
            return Err(corrupt(format!(
                "{name}: {} strides for {} dims",
                strides.len(),
                shape.len()
            )));
        }
        let n: usize = shape.iter().product();
        let size = elem.size();
        // The bytes of every tensor element, gathered row-major through the strides.
        let mut index = vec![0usize; shape.len()];
        let mut gathered = Vec::with_capacity(n * size);
        for _ in 0..n {
            let at = offset
                + index
                    .iter()
                    .zip(&strides)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            let start = at * size;
            let b = bytes.get(start..start + size).ok_or_else(|| {
                corrupt(format!(
                    "{name}: storage {key} holds {} bytes, element {at} lies past it",
                    bytes.len()
                ))
            })?;
            gathered.extend_from_slice(b);
            for d in (0..shape.len()).rev() {
                index[d] += 1;
                if index[d] < shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        let values = decode_le(elem, &gathered);
        out.push(FileTensor {
            file: path.to_path_buf(),
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

    /// Opcodes beyond what the fixture uses: LONG1 with a negative value, BININT, memo by
    /// MEMOIZE, a list with APPENDS, and a global that is never called.
    #[test]
    fn unpickles_the_opcodes_torch_save_emits() {
        // {'a': (-2, 70000, [1, 2]), 'b': os.system} as protocol 4 would write parts of it.
        let mut p = vec![0x80, 4, b'}', 0x94, b'('];
        p.extend([0x8c, 1, b'a', 0x94]);
        p.extend([0x8a, 1, 0xfe]); // LONG1 -2
        p.extend([b'J']);
        p.extend(70000i32.to_le_bytes());
        p.extend([b']', 0x94, b'(', b'K', 1, b'K', 2, b'e', 0x87]);
        p.extend([0x8c, 1, b'b', b'c']);
        p.extend(b"os\nsystem\n");
        p.extend([b'u', b'.']);
        let v = unpickle(&p).expect("unpickle");
        assert_eq!(
            v,
            Value::Dict(vec![
                (
                    Value::Str("a".into()),
                    Value::Tuple(vec![
                        Value::Int(-2),
                        Value::Int(70000),
                        Value::List(vec![Value::Int(1), Value::Int(2)]),
                    ])
                ),
                (
                    Value::Str("b".into()),
                    Value::Global("os".into(), "system".into())
                ),
            ])
        );
        // A global where a tensor should be is refused, not called.
        let err = tensor_of(&Value::Call(
            Box::new(Value::Global("os".into(), "system".into())),
            vec![Value::Str("true".into())],
        ))
        .expect_err("refused");
        assert!(err.contains("os.system"), "{err}");
    }

    #[test]
    fn truncated_and_unknown_pickles_are_errors() {
        assert!(unpickle(&[0x80, 2, b'X', 5, 0, 0, 0, b'a']).is_err());
        assert!(unpickle(&[0x80, 2, 0xff]).is_err());
        assert!(unpickle(b"t").is_err());
    }
}
