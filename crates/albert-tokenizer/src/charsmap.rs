//! SentencePiece's precompiled normalisation rules (`NormalizerSpec.precompiled_charsmap`):
//! a Darts-clone double-array trie over UTF-8 byte sequences whose leaf values index a blob of
//! NUL-terminated replacement strings. Layout: `u32` trie size in bytes (little-endian), the
//! trie's `u32` units, then the replacement strings.
//!
//! Lookups are bounds-checked, so a corrupt blob yields "no rule" rather than a panic, and
//! [`CharsMap::parse`] rejects blobs whose sizes are inconsistent.

/// Parsed rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CharsMap {
    units: Vec<u32>,
    normalized: Vec<u8>,
}

fn has_leaf(unit: u32) -> bool {
    (unit >> 8) & 1 == 1
}

fn value(unit: u32) -> u32 {
    unit & ((1 << 31) - 1)
}

fn label(unit: u32) -> u32 {
    unit & ((1 << 31) | 0xff)
}

fn offset(unit: u32) -> usize {
    ((unit >> 10) << ((unit & (1 << 9)) >> 6)) as usize
}

impl CharsMap {
    /// Parses a blob. An empty blob means "no rules" (identity).
    pub fn parse(blob: &[u8]) -> Result<Self, String> {
        if blob.is_empty() {
            return Ok(Self::default());
        }
        let size = blob
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or("charsmap shorter than its header")?;
        if size % 4 != 0 || 4 + size > blob.len() {
            return Err(format!(
                "charsmap trie size {size} does not fit a {}-byte blob",
                blob.len()
            ));
        }
        let units = blob[4..4 + size]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Self {
            units,
            normalized: blob[4 + size..].to_vec(),
        })
    }

    /// The replacement strings' bytes (after the trie).
    pub(crate) fn replacements(&self) -> &[u8] {
        &self.normalized
    }

    /// The longest rule matching a prefix of `input`: `(bytes matched, replacement)`.
    pub fn longest_match(&self, input: &[u8]) -> Option<(usize, &str)> {
        let mut pos = offset(*self.units.first()?);
        let mut best = None;
        for (i, &byte) in input.iter().enumerate() {
            pos ^= byte as usize;
            let unit = *self.units.get(pos)?;
            if label(unit) != byte as u32 {
                break;
            }
            pos ^= offset(unit);
            if has_leaf(unit) {
                let v = value(*self.units.get(pos)?) as usize;
                best = Some((i + 1, v));
            }
        }
        let (len, start) = best?;
        let tail = self.normalized.get(start..)?;
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        let replacement = std::str::from_utf8(&tail[..end]).ok()?;
        Some((len, replacement))
    }
}
