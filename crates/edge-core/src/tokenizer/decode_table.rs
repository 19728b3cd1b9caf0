//! Id -> the bytes it decodes to, in one flat buffer. A vocabulary holds
//! 50k-200k tokens; a boxed slice per token meant as many allocations at
//! load, a good share of the time a first `count_tokens` waits for.

use super::hash::FastMap;
use super::TokenizerError;

/// Largest token id accepted. Ids index the decode table, so an absurd id in
/// a vocabulary file would otherwise ask for gigabytes; real vocabularies stay
/// far below (o200k_base: 200k, the largest open models: about 1M).
pub const MAX_TOKEN_ID: u32 = (1 << 24) - 1;

/// Marks an id that decodes to nothing known.
const ABSENT: u32 = u32::MAX;
/// A span's length field saying "see `far`" (ABSENT has it too: test ABSENT first).
const FAR: u32 = 0xff;
/// Spans that start below this offset and hold fewer than `FAR` bytes are packed.
const NEAR_START: usize = 1 << 24;

#[derive(Default)]
pub struct DecodeTable {
    bytes: Vec<u8>,
    /// Per id, 4 bytes (the first load writes one per id, and every fresh page
    /// costs it a page fault): `start << 8 | len` for a span of `bytes`, or
    /// `ABSENT`, or `FAR` for the rare span that does not pack (a long special
    /// token, a buffer past 16 MiB), kept in `far`. Packed rather than a start
    /// per id with the length from the next id's start, as ids come in any
    /// order (JSON objects, special tokens set after the ranks, gaps).
    spans: Vec<u32>,
    far: FastMap<u32, (u32, u32)>,
}

impl DecodeTable {
    /// A table expecting about `ids` ids decoding to `bytes` bytes in all.
    pub fn with_capacity(ids: usize, bytes: usize) -> Self {
        Self { bytes: Vec::with_capacity(bytes), spans: Vec::with_capacity(ids), far: FastMap::default() }
    }

    /// Sets what `id` decodes to (a later call for the same id wins).
    pub fn set(&mut self, id: u32, bytes: &[u8]) -> Result<(), TokenizerError> {
        self.set_with(id, |out| {
            out.extend_from_slice(bytes);
            Some(())
        })
        .map(drop)
    }

    /// Sets what `id` decodes to, written by `fill` at the end of the buffer
    /// (no copy through a scratch buffer); `None` when `fill` refuses, and
    /// then nothing is set. Returns the bytes written.
    pub fn set_with(&mut self, id: u32, fill: impl FnOnce(&mut Vec<u8>) -> Option<()>) -> Result<Option<&[u8]>, TokenizerError> {
        let index = Self::index(id)?;
        let start = self.bytes.len();
        if fill(&mut self.bytes).is_none() {
            self.bytes.truncate(start);
            return Ok(None);
        }
        let len = self.bytes.len() - start;
        if index >= self.spans.len() {
            self.spans.resize(index + 1, ABSENT);
        }
        self.spans[index] = if start < NEAR_START && len < FAR as usize {
            (start as u32) << 8 | len as u32
        } else {
            // Offsets and lengths are u32: a vocabulary's bytes, far below 4 GiB.
            self.far.insert(id, (start as u32, len as u32));
            FAR
        };
        Ok(Some(&self.bytes[start..]))
    }

    fn index(id: u32) -> Result<usize, TokenizerError> {
        if id > MAX_TOKEN_ID {
            return Err(TokenizerError::InvalidVocabulary(format!("token id {id} is above the limit {MAX_TOKEN_ID}")));
        }
        Ok(id as usize)
    }

    pub fn get(&self, id: u32) -> Option<&[u8]> {
        let (start, len) = match *self.spans.get(id as usize)? {
            ABSENT => return None,
            span if span & FAR == FAR => *self.far.get(&id)?,
            span => (span >> 8, span & FAR),
        };
        self.bytes.get(start as usize..start as usize + len as usize)
    }

    /// Every byte written so far, in order: a span is `buffer()[start..start + len]`.
    pub fn buffer(&self) -> &[u8] {
        &self.bytes
    }

    /// One more than the largest id set.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_set_in_any_order_read_back_and_gaps_are_absent() {
        let mut t = DecodeTable::default();
        t.set(3, b"abc").unwrap();
        t.set(0, b"").unwrap();
        t.set(1, b"x").unwrap();
        t.set(1, b"yz").unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(0), Some(&b""[..]));
        assert_eq!(t.get(1), Some(&b"yz"[..]));
        assert_eq!(t.get(2), None);
        assert_eq!(t.get(3), Some(&b"abc"[..]));
        assert_eq!(t.get(4), None);
    }

    #[test]
    fn set_with_writes_in_place_and_a_refused_fill_leaves_nothing() {
        let mut t = DecodeTable::default();
        assert_eq!(t.set_with(1, |out| { out.extend_from_slice(b"ab"); Some(()) }).unwrap(), Some(&b"ab"[..]));
        assert_eq!(t.set_with(0, |out| { out.push(b'x'); None }).unwrap(), None);
        assert_eq!((t.get(0), t.get(1), t.len()), (None, Some(&b"ab"[..]), 2));
        assert!(t.set_with(MAX_TOKEN_ID + 1, |_| Some(())).is_err());
    }

    #[test]
    fn spans_that_do_not_pack_read_back() {
        let mut t = DecodeTable::default();
        let long = vec![b'x'; 300];
        let edge = vec![b'y'; FAR as usize];
        t.set(2, &long).unwrap();
        t.set(0, &edge).unwrap();
        t.set(1, b"ab").unwrap();
        t.set(2, b"c").unwrap();
        assert_eq!((t.get(0), t.get(1), t.get(2)), (Some(&edge[..]), Some(&b"ab"[..]), Some(&b"c"[..])));
        t.set(1, &long).unwrap();
        assert_eq!(t.get(1), Some(&long[..]));
    }

    #[test]
    fn an_absurd_id_is_refused_not_allocated() {
        let mut t = DecodeTable::default();
        assert!(matches!(t.set(MAX_TOKEN_ID + 1, b"a"), Err(TokenizerError::InvalidVocabulary(m)) if m.contains("above the limit")));
        assert_eq!(t.len(), 0);
    }
}
