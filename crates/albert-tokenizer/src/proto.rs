//! SentencePiece's `ModelProto` (`sentencepiece_model.proto`, proto2) read and written with a
//! small hand-written protobuf wire codec: the pieces and the normaliser settings are decoded
//! into fields; everything else (the trainer spec, unknown fields) is kept as raw bytes so a
//! model read and written back is byte-for-byte the same where we did not change it.

/// The kind of a vocabulary piece (`ModelProto.SentencePiece.Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceType {
    /// An ordinary piece.
    Normal = 1,
    /// `<unk>`.
    Unknown = 2,
    /// A control symbol (`<pad>`, `[CLS]`, `[SEP]`, `[MASK]`): never produced by segmentation.
    Control = 3,
    /// A user-defined symbol: always segmented as one piece.
    UserDefined = 4,
    /// Present in the vocabulary but never produced.
    Unused = 5,
    /// A byte-fallback piece `<0xNN>`.
    Byte = 6,
}

impl PieceType {
    fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            1 => PieceType::Normal,
            2 => PieceType::Unknown,
            3 => PieceType::Control,
            4 => PieceType::UserDefined,
            5 => PieceType::Unused,
            6 => PieceType::Byte,
            _ => return None,
        })
    }
}

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// The piece text (`▁` marks a word start).
    pub piece: String,
    /// Log-probability (unigram) score.
    pub score: f32,
    /// Kind.
    pub kind: PieceType,
}

/// `NormalizerSpec`.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizerSpec {
    /// Rule name (`nmt_nfkc`, `identity`, ...).
    pub name: String,
    /// The compiled normalisation rules (empty = identity).
    pub precompiled_charsmap: Vec<u8>,
    /// Prepend `▁` to the text.
    pub add_dummy_prefix: bool,
    /// Drop leading/trailing whitespace and collapse runs.
    pub remove_extra_whitespaces: bool,
    /// Replace spaces with `▁`.
    pub escape_whitespaces: bool,
    /// Fields we do not interpret, re-emitted as they were.
    pub unknown: Vec<u8>,
}

impl Default for NormalizerSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            precompiled_charsmap: Vec::new(),
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
            unknown: Vec::new(),
        }
    }
}

/// The parts of `TrainerSpec` that change how text is encoded, plus the raw message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainerSpec {
    /// `model_type` (1 = unigram, 2 = BPE, 3 = word, 4 = char).
    pub model_type: i64,
    /// `treat_whitespace_as_suffix`.
    pub treat_whitespace_as_suffix: bool,
    /// `byte_fallback`.
    pub byte_fallback: bool,
    /// The whole message as read (or as built by the trainer).
    pub raw: Vec<u8>,
}

/// A whole `spiece.model`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelProto {
    /// The vocabulary, in id order.
    pub pieces: Vec<Piece>,
    /// Trainer settings.
    pub trainer_spec: TrainerSpec,
    /// Normaliser settings.
    pub normalizer_spec: NormalizerSpec,
    /// Other top-level fields (denormaliser, self-test data), raw.
    pub unknown: Vec<u8>,
}

/// One decoded field: number, value, and the field's raw bytes (key included).
type Field<'a> = (u64, Value<'a>, &'a [u8]);

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A decoded field value.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or("truncated field")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next `(field number, value, raw bytes of the whole field)`.
    fn field(&mut self) -> Result<Option<Field<'a>>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let start = self.pos;
        let key = self.varint()?;
        let (number, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                Value::Bytes(self.take(n)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().map_err(|_| "bad fixed32")?,
            )),
            other => return Err(format!("unsupported wire type {other} for field {number}")),
        };
        Ok(Some((number, value, &self.buf[start..self.pos])))
    }
}

fn as_bytes<'a>(v: &Value<'a>, what: &str) -> Result<&'a [u8], String> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(format!("{what} is not length-delimited")),
    }
}

fn as_varint(v: &Value<'_>, what: &str) -> Result<u64, String> {
    match v {
        Value::Varint(x) => Ok(*x),
        _ => Err(format!("{what} is not a varint")),
    }
}

fn as_string(v: &Value<'_>, what: &str) -> Result<String, String> {
    String::from_utf8(as_bytes(v, what)?.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

fn parse_piece(buf: &[u8]) -> Result<Piece, String> {
    let mut r = Reader::new(buf);
    let mut piece = Piece {
        piece: String::new(),
        score: 0.0,
        kind: PieceType::Normal,
    };
    while let Some((n, v, _)) = r.field()? {
        match n {
            1 => piece.piece = as_string(&v, "piece")?,
            2 => match v {
                Value::Fixed32(bits) => piece.score = f32::from_bits(bits),
                _ => return Err("score is not a float".into()),
            },
            3 => {
                let t = as_varint(&v, "type")? as i64;
                piece.kind =
                    PieceType::from_i64(t).ok_or_else(|| format!("unknown piece type {t}"))?;
            }
            _ => {}
        }
    }
    Ok(piece)
}

fn parse_normalizer(buf: &[u8]) -> Result<NormalizerSpec, String> {
    let mut r = Reader::new(buf);
    let mut spec = NormalizerSpec::default();
    while let Some((n, v, raw)) = r.field()? {
        match n {
            1 => spec.name = as_string(&v, "normalizer name")?,
            2 => spec.precompiled_charsmap = as_bytes(&v, "precompiled_charsmap")?.to_vec(),
            3 => spec.add_dummy_prefix = as_varint(&v, "add_dummy_prefix")? != 0,
            4 => spec.remove_extra_whitespaces = as_varint(&v, "remove_extra_whitespaces")? != 0,
            5 => spec.escape_whitespaces = as_varint(&v, "escape_whitespaces")? != 0,
            _ => spec.unknown.extend_from_slice(raw),
        }
    }
    Ok(spec)
}

fn parse_trainer(buf: &[u8]) -> Result<TrainerSpec, String> {
    let mut r = Reader::new(buf);
    let mut spec = TrainerSpec {
        model_type: 1,
        raw: buf.to_vec(),
        ..TrainerSpec::default()
    };
    while let Some((n, v, _)) = r.field()? {
        match n {
            3 => spec.model_type = as_varint(&v, "model_type")? as i64,
            24 => {
                spec.treat_whitespace_as_suffix = as_varint(&v, "treat_whitespace_as_suffix")? != 0
            }
            35 => spec.byte_fallback = as_varint(&v, "byte_fallback")? != 0,
            _ => {}
        }
    }
    Ok(spec)
}

impl ModelProto {
    /// Decodes a serialised model. Errors describe what is malformed.
    pub fn decode(buf: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(buf);
        let mut model = ModelProto {
            trainer_spec: TrainerSpec {
                model_type: 1,
                ..TrainerSpec::default()
            },
            ..ModelProto::default()
        };
        while let Some((n, v, raw)) = r.field()? {
            match n {
                1 => model.pieces.push(
                    parse_piece(as_bytes(&v, "piece")?)
                        .map_err(|e| format!("piece {}: {e}", model.pieces.len()))?,
                ),
                2 => model.trainer_spec = parse_trainer(as_bytes(&v, "trainer_spec")?)?,
                3 => model.normalizer_spec = parse_normalizer(as_bytes(&v, "normalizer_spec")?)?,
                _ => model.unknown.extend_from_slice(raw),
            }
        }
        Ok(model)
    }

    /// Encodes the model in protobuf wire format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            let mut m = Vec::new();
            put_bytes(&mut m, 1, p.piece.as_bytes());
            put_key(&mut m, 2, 5);
            m.extend_from_slice(&p.score.to_bits().to_le_bytes());
            if p.kind != PieceType::Normal {
                put_varint_field(&mut m, 3, p.kind as u64);
            }
            put_bytes(&mut out, 1, &m);
        }
        put_bytes(&mut out, 2, &self.trainer_spec.raw);
        let n = &self.normalizer_spec;
        let mut m = Vec::new();
        put_bytes(&mut m, 1, n.name.as_bytes());
        if !n.precompiled_charsmap.is_empty() {
            put_bytes(&mut m, 2, &n.precompiled_charsmap);
        }
        put_varint_field(&mut m, 3, u64::from(n.add_dummy_prefix));
        put_varint_field(&mut m, 4, u64::from(n.remove_extra_whitespaces));
        put_varint_field(&mut m, 5, u64::from(n.escape_whitespaces));
        m.extend_from_slice(&n.unknown);
        put_bytes(&mut out, 3, &m);
        out.extend_from_slice(&self.unknown);
        out
    }
}

/// Appends a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, number: u64, wire: u64) {
    put_varint(out, (number << 3) | wire);
}

/// Appends a varint field (int32 fields with negative values use 10-byte two's complement, as
/// protobuf does).
pub(crate) fn put_varint_field(out: &mut Vec<u8>, number: u64, v: u64) {
    put_key(out, number, 0);
    put_varint(out, v);
}

/// Appends a length-delimited field.
pub(crate) fn put_bytes(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let mut trainer = Vec::new();
        put_varint_field(&mut trainer, 3, 1);
        put_varint_field(&mut trainer, 24, 1);
        let model = ModelProto {
            pieces: vec![
                Piece {
                    piece: "<unk>".into(),
                    score: 0.0,
                    kind: PieceType::Unknown,
                },
                Piece {
                    piece: "▁a".into(),
                    score: -1.5,
                    kind: PieceType::Normal,
                },
            ],
            trainer_spec: TrainerSpec {
                model_type: 1,
                treat_whitespace_as_suffix: true,
                byte_fallback: false,
                raw: trainer,
            },
            normalizer_spec: NormalizerSpec {
                name: "identity".into(),
                ..NormalizerSpec::default()
            },
            unknown: Vec::new(),
        };
        let bytes = model.encode();
        assert_eq!(ModelProto::decode(&bytes).expect("decode"), model);
        assert!(ModelProto::decode(&bytes[..bytes.len() - 3]).is_err());
        assert!(ModelProto::decode(b"\xff\xff\xff").is_err());
    }
}
