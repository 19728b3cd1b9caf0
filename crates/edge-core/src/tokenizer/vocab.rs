//! Token bytes -> id. Most tokens are at most 7 bytes: those are packed with
//! their length into one u64 key, so a lookup hashes and compares one integer
//! instead of calling memcmp. Longer tokens are kept in one byte arena and
//! found through a table of (start, length, id): a box per long token meant
//! 68k allocations for o200k_base, a good share of its first `count_tokens`.

use super::hash::{FastHasher, FastMap};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::Hasher;

/// A token longer than 7 bytes: its bytes are `arena[start..start + len]`.
#[derive(Clone, Copy, Debug)]
struct Long {
    start: u32,
    len: u32,
    id: u32,
}

#[derive(Default, Debug)]
pub struct TokenMap {
    short: FastMap<u64, u32>,
    long: HashTable<Long>,
    /// The bytes of every long token, back to back.
    arena: Vec<u8>,
}

/// `bytes` (at most 7) and their length in one integer.
#[inline]
fn pack(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > 7 {
        return None;
    }
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[7] = bytes.len() as u8;
    Some(u64::from_le_bytes(buf))
}

#[inline]
fn hash_of(bytes: &[u8]) -> u64 {
    let mut h = FastHasher::default();
    h.write(bytes);
    h.finish()
}

#[inline]
fn bytes_of<'a>(arena: &'a [u8], long: &Long) -> &'a [u8] {
    &arena[long.start as usize..(long.start + long.len) as usize]
}

impl TokenMap {
    /// A map expecting about `n` tokens. Real vocabularies hold about two short
    /// tokens for one long one (cl100k_base 70k / 30k, o200k_base 132k / 68k);
    /// reserving that keeps the tables from growing (a rehash of every entry)
    /// while they load.
    pub fn with_capacity(n: usize) -> Self {
        let mut m = Self::default();
        m.short.reserve(n * 3 / 4);
        m.long.reserve(n / 3, |l| hash_of(bytes_of(&[], l)));
        m.arena.reserve(n * 3);
        m
    }

    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<u32> {
        match pack(bytes) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.find(hash_of(bytes), |l| bytes_of(&self.arena, l) == bytes).map(|l| l.id),
        }
    }

    /// Inserts; returns the id the bytes had before, if any.
    pub fn insert(&mut self, bytes: &[u8], id: u32) -> Option<u32> {
        match pack(bytes) {
            Some(key) => self.short.insert(key, id),
            None => self.insert_long(bytes, id),
        }
    }

    fn insert_long(&mut self, bytes: &[u8], id: u32) -> Option<u32> {
        let arena = &self.arena;
        match self.long.entry(hash_of(bytes), |l| bytes_of(arena, l) == bytes, |l| hash_of(bytes_of(arena, l))) {
            Entry::Occupied(mut known) => Some(std::mem::replace(&mut known.get_mut().id, id)),
            Entry::Vacant(slot) => {
                // Offsets are u32: the arena holds a vocabulary file's tokens, far below 4 GiB.
                let start = u32::try_from(self.arena.len()).expect("token arena under 4 GiB");
                slot.insert(Long { start, len: bytes.len() as u32, id });
                self.arena.extend_from_slice(bytes);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    /// Every (bytes, id), in no particular order. For loading, not hot paths.
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, u32)> + '_ {
        let short = self.short.iter().map(|(&key, &id)| {
            let buf = key.to_le_bytes();
            (buf[..buf[7] as usize].to_vec(), id)
        });
        short.chain(self.long.iter().map(|l| (bytes_of(&self.arena, l).to_vec(), l.id)))
    }

    /// Calls `f` with every (bytes, id), in no particular order, without
    /// allocating per token.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], u32)) {
        for (&key, &id) in &self.short {
            let buf = key.to_le_bytes();
            f(&buf[..buf[7] as usize], id);
        }
        for l in &self.long {
            f(bytes_of(&self.arena, l), l.id);
        }
    }

    /// The largest id, if any.
    pub fn max_id(&self) -> Option<u32> {
        self.short.values().copied().chain(self.long.iter().map(|l| l.id)).max()
    }
}

/// The same tokens with the same ids, whatever the order they were inserted in.
impl PartialEq for TokenMap {
    fn eq(&self, other: &Self) -> bool {
        self.short == other.short
            && self.long.len() == other.long.len()
            && self.long.iter().all(|l| other.get(bytes_of(&self.arena, l)) == Some(l.id))
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
            assert_eq!(m.insert(t, i as u32), None);
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
