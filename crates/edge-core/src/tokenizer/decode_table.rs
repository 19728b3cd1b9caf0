//! Id -> the bytes it decodes to, in one flat buffer. A vocabulary holds
//! 50k-200k tokens; a boxed slice per token meant as many allocations at
//! load, a good share of the time a first `count_tokens` waits for.

use super::TokenizerError;

/// Largest token id accepted. Ids index the decode table, so an absurd id in
/// a vocabulary file would otherwise ask for gigabytes; real vocabularies stay
/// far below (o200k_base: 200k, the largest open models: about 1M).
pub const MAX_TOKEN_ID: u32 = (1 << 24) - 1;

/// Marks an id that decodes to nothing known.
const ABSENT: u32 = u32::MAX;

#[derive(Default)]
pub struct DecodeTable {
    bytes: Vec<u8>,
    /// Per id: where its bytes start in `bytes` and how many (`ABSENT` if none).
    spans: Vec<(u32, u32)>,
}

impl DecodeTable {
    /// A table expecting about `ids` ids decoding to `bytes` bytes in all.
    pub fn with_capacity(ids: usize, bytes: usize) -> Self {
        Self { bytes: Vec::with_capacity(bytes), spans: Vec::with_capacity(ids) }
    }

    /// Sets what `id` decodes to (a later call for the same id wins).
    pub fn set(&mut self, id: u32, bytes: &[u8]) -> Result<(), TokenizerError> {
        let index = Self::index(id)?;
        if index >= self.spans.len() {
            self.spans.resize(index + 1, (0, ABSENT));
        }
        self.spans[index] = (self.bytes.len() as u32, bytes.len() as u32);
        self.bytes.extend_from_slice(bytes);
        Ok(())
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
        if index >= self.spans.len() {
            self.spans.resize(index + 1, (0, ABSENT));
        }
        self.spans[index] = (start as u32, (self.bytes.len() - start) as u32);
        Ok(Some(&self.bytes[start..]))
    }

    fn index(id: u32) -> Result<usize, TokenizerError> {
        if id > MAX_TOKEN_ID {
            return Err(TokenizerError::InvalidVocabulary(format!("token id {id} is above the limit {MAX_TOKEN_ID}")));
        }
        Ok(id as usize)
    }

    pub fn get(&self, id: u32) -> Option<&[u8]> {
        let &(start, len) = self.spans.get(id as usize)?;
        if len == ABSENT {
            return None;
        }
        self.bytes.get(start as usize..start as usize + len as usize)
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
    fn an_absurd_id_is_refused_not_allocated() {
        let mut t = DecodeTable::default();
        assert!(matches!(t.set(MAX_TOKEN_ID + 1, b"a"), Err(TokenizerError::InvalidVocabulary(m)) if m.contains("above the limit")));
        assert_eq!(t.len(), 0);
    }
}
