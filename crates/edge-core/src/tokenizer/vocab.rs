//! Token bytes -> id, in one hash table of 12-byte slots. A token of at most
//! 7 bytes is its own key: its bytes and length packed into one integer, so a
//! lookup hashes and compares an integer instead of calling memcmp. A longer
//! token's slot says where its bytes lie in the map's own decode table (id ->
//! bytes), which tiktoken vocabularies use as is: every token's bytes are
//! written once. No allocation per token, and a table a third smaller than a
//! map per kind: loading a vocabulary writes fresh memory, and each new page
//! costs a first `count_tokens` its page fault (o200k_base: 200k tokens,
//! 3.4 MB of slots).

use super::decode_table::DecodeTable;
use super::hash::FastHasher;
use super::TokenizerError;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::Hasher;

/// Set in `hi` of a long token's slot; a packed key's `hi` is below 2^27.
const LONG: u32 = 1 << 31;

/// One token. Short: `hi:lo` is the packed key. Long: its bytes are
/// `arena[lo..lo + (hi & !LONG)]`, the arena being the decode table's buffer.
#[derive(Clone, Copy, Debug)]
struct Slot {
    lo: u32,
    hi: u32,
    id: u32,
}

impl Slot {
    #[inline]
    fn key(self) -> u64 {
        (u64::from(self.hi) << 32) | u64::from(self.lo)
    }

    #[inline]
    fn long_bytes(self, arena: &[u8]) -> Option<&[u8]> {
        (self.hi & LONG != 0).then(|| &arena[self.lo as usize..(self.lo + (self.hi & !LONG)) as usize])
    }
}

#[derive(Default)]
pub struct TokenMap {
    table: HashTable<Slot>,
    /// What each id decodes to: every inserted token's bytes (long slots
    /// point into its buffer) and the special tokens' (not looked up here).
    by_id: DecodeTable,
}

/// `bytes` (at most 7) and their length in one integer. Shifted in byte by
/// byte: a variable-length copy into a buffer is a `memory.copy` call in wasm,
/// which cost more than the lookup it keys.
#[inline]
fn pack(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 7 {
        return None;
    }
    let mut key = (bytes.len() as u64) << 56;
    for (i, &b) in bytes.iter().enumerate() {
        key |= u64::from(b) << (8 * i);
    }
    Some(key)
}

#[inline]
fn hash_key(key: u64) -> u64 {
    let mut h = FastHasher::default();
    h.write_u64(key);
    h.finish()
}

#[inline]
fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FastHasher::default();
    h.write(bytes);
    h.finish()
}

#[inline]
fn hash_slot(slot: &Slot, arena: &[u8]) -> u64 {
    slot.long_bytes(arena).map_or_else(|| hash_key(slot.key()), hash_bytes)
}

impl TokenMap {
    /// A map expecting about `tokens` tokens, `ids` ids and `bytes` bytes of
    /// tokens in all: reserved once, so neither the table (a rehash of every
    /// slot) nor the decode table grows while it loads.
    pub fn with_capacity(tokens: usize, ids: usize, bytes: usize) -> Self {
        let mut table = HashTable::default();
        table.reserve(tokens, |s| hash_slot(s, &[]));
        Self { table, by_id: DecodeTable::with_capacity(ids, bytes) }
    }

    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<u32> {
        let arena = self.by_id.buffer();
        let found = match pack(bytes) {
            Some(key) => self.table.find(hash_key(key), |s| s.key() == key),
            None => self.table.find(hash_bytes(bytes), |s| s.long_bytes(arena) == Some(bytes)),
        };
        found.map(|s| s.id)
    }

    /// Inserts; returns the id the bytes had before, if any.
    pub fn insert(&mut self, bytes: &[u8], id: u32) -> Result<Option<u32>, TokenizerError> {
        let fill = |out: &mut Vec<u8>| {
            out.extend_from_slice(bytes);
            Some(())
        };
        Ok(self.insert_with(id, fill)?.flatten())
    }

    /// Inserts the token `fill` writes at the end of the decode table's buffer
    /// (no staging copy): `None` when `fill` refuses, and then nothing is set;
    /// else the id the bytes had before, if any.
    pub fn insert_with(&mut self, id: u32, fill: impl FnOnce(&mut Vec<u8>) -> Option<()>) -> Result<Option<Option<u32>>, TokenizerError> {
        let start = self.by_id.buffer().len();
        let Some(len) = self.by_id.set_with(id, fill)?.map(<[u8]>::len) else { return Ok(None) };
        let arena = self.by_id.buffer();
        let bytes = &arena[start..start + len];
        let rehash = |s: &Slot| hash_slot(s, arena);
        let (entry, slot) = match pack(bytes) {
            Some(key) => {
                let entry = self.table.entry(hash_key(key), |s| s.key() == key, rehash);
                (entry, Slot { lo: key as u32, hi: (key >> 32) as u32, id })
            }
            None => {
                let entry = self.table.entry(hash_bytes(bytes), |s| s.long_bytes(arena) == Some(bytes), rehash);
                // Offsets and lengths are u32: the tokens of a vocabulary file, far below 2 GiB.
                let start = u32::try_from(start).expect("token bytes under 4 GiB");
                let len = u32::try_from(len).ok().filter(|&l| l < LONG).expect("token under 2 GiB");
                (entry, Slot { lo: start, hi: LONG | len, id })
            }
        };
        Ok(Some(match entry {
            Entry::Occupied(mut known) => Some(std::mem::replace(&mut known.get_mut().id, id)),
            Entry::Vacant(vacant) => {
                vacant.insert(slot);
                None
            }
        }))
    }

    /// Sets what a special token's id decodes to; it is not looked up by bytes.
    pub fn set_special(&mut self, id: u32, bytes: &[u8]) -> Result<(), TokenizerError> {
        self.by_id.set(id, bytes)
    }

    /// What each id decodes to: every token inserted and every special token set.
    pub fn by_id(&self) -> &DecodeTable {
        &self.by_id
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Calls `f` with every (bytes, id), in no particular order, without
    /// allocating per token.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], u32)) {
        for s in &self.table {
            match s.long_bytes(self.by_id.buffer()) {
                Some(bytes) => f(bytes, s.id),
                None => {
                    let buf = s.key().to_le_bytes();
                    f(&buf[..buf[7] as usize], s.id);
                }
            }
        }
    }

    /// Every (bytes, id), in no particular order. For loading, not hot paths.
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, u32)> + '_ {
        let mut all = Vec::with_capacity(self.table.len());
        self.for_each(|bytes, id| all.push((bytes.to_vec(), id)));
        all.into_iter()
    }
}

/// The same tokens with the same ids, whatever the order they were inserted in.
impl PartialEq for TokenMap {
    fn eq(&self, other: &Self) -> bool {
        let mut same = self.table.len() == other.table.len();
        self.for_each(|bytes, id| same &= other.get(bytes) == Some(id));
        same
    }
}

impl Eq for TokenMap {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_round_trip() {
        let mut m = TokenMap::default();
        let tokens: [&[u8]; 6] = [b"", b"\0", b"\0\0", b"abcdefg", b"abcdefgh", b"a much longer token"];
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(m.insert(t, i as u32).unwrap(), None);
        }
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(m.get(t), Some(i as u32));
        }
        assert_eq!(m.get(b"\0\0\0"), None);
        let mut all: Vec<_> = m.iter().collect();
        all.sort_by_key(|(_, id)| *id);
        assert_eq!(all.iter().map(|(b, _)| b.as_slice()).collect::<Vec<_>>(), tokens);
    }
}
