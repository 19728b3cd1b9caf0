//! Token bytes -> id. Most tokens are at most 7 bytes: those are packed with
//! their length into one u64 key, so a lookup hashes and compares one integer
//! instead of calling memcmp; longer tokens use byte-string keys.

use super::hash::FastMap;

#[derive(Default, Debug, PartialEq, Eq)]
pub struct TokenMap {
    short: FastMap<u64, u32>,
    long: FastMap<Box<[u8]>, u32>,
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

impl TokenMap {
    pub fn with_capacity(n: usize) -> Self {
        let mut m = Self::default();
        m.short.reserve(n / 2);
        m.long.reserve(n / 2);
        m
    }

    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<u32> {
        match pack(bytes) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(bytes).copied(),
        }
    }

    /// Inserts; returns the id the bytes had before, if any.
    pub fn insert(&mut self, bytes: &[u8], id: u32) -> Option<u32> {
        match pack(bytes) {
            Some(key) => self.short.insert(key, id),
            None => self.long.insert(bytes.into(), id),
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
        short.chain(self.long.iter().map(|(k, &id)| (k.to_vec(), id)))
    }

    /// Calls `f` with every (bytes, id), in no particular order, without
    /// allocating per token.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], u32)) {
        for (&key, &id) in &self.short {
            let buf = key.to_le_bytes();
            f(&buf[..buf[7] as usize], id);
        }
        for (key, &id) in &self.long {
            f(key, id);
        }
    }

    /// The largest id, if any.
    pub fn max_id(&self) -> Option<u32> {
        self.short.values().chain(self.long.values()).copied().max()
    }
}

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
