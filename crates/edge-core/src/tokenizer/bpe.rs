//! Byte-pair merging over one piece.
//!
//! Short pieces (nearly all of them) merge in a small vector, rescanning the
//! pair ranks after each merge as tiktoken does: fastest for a dozen symbols.
//! Long pieces (whitespace runs, minified blobs, whole texts for models with no
//! pre-tokenizer) merge through a binary heap over a linked list: O(n log n),
//! never quadratic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::hash::FastMap;
use super::vocab::TokenMap;

/// One symbol of a piece being merged: a token id over a byte range of the piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sym {
    pub start: u32,
    pub end: u32,
    pub id: u32,
}

/// How two adjacent symbols merge: the rank that orders merges and the id of
/// the merged token.
pub(super) trait MergeRule {
    fn merge(&self, piece: &[u8], left: Sym, right: Sym) -> Option<(u32, u32)>;
}

/// tiktoken: two parts merge when their bytes together are a token; the token's
/// rank is its id and orders the merges.
pub struct ByRank<'a>(pub &'a TokenMap);

impl MergeRule for ByRank<'_> {
    #[inline]
    fn merge(&self, piece: &[u8], left: Sym, right: Sym) -> Option<(u32, u32)> {
        let id = self.0.get(&piece[left.start as usize..right.end as usize])?;
        Some((id, id))
    }
}

/// Hugging Face: only the listed pairs merge, in the order of the merges list.
pub struct ByPair<'a>(pub &'a FastMap<u64, (u32, u32)>);

/// Key of a pair of ids in [`ByPair`]'s table.
#[inline]
pub fn pair_key(left: u32, right: u32) -> u64 {
    ((left as u64) << 32) | right as u64
}

impl MergeRule for ByPair<'_> {
    #[inline]
    fn merge(&self, _piece: &[u8], left: Sym, right: Sym) -> Option<(u32, u32)> {
        self.0.get(&pair_key(left.id, right.id)).copied()
    }
}

/// Above this many symbols the heap beats rescanning.
const SMALL: usize = 48;

/// Merges `syms` in place until no adjacent pair merges.
pub fn merge(piece: &[u8], syms: &mut Vec<Sym>, rule: &impl MergeRule) {
    if syms.len() <= SMALL {
        merge_small(piece, syms, rule);
    } else {
        merge_heap(piece, syms, rule);
    }
}

const NONE: u32 = u32::MAX;

fn merge_small(piece: &[u8], syms: &mut Vec<Sym>, rule: &impl MergeRule) {
    // ranks[i]: how syms[i] and syms[i + 1] merge, if they do. On the stack:
    // this runs once per piece that is not itself a token.
    let mut storage = [(NONE, 0u32); SMALL];
    let mut spill = Vec::new();
    let mut len = syms.len();
    let ranks: &mut [(u32, u32)] = if len <= SMALL {
        &mut storage[..len]
    } else {
        spill.resize(len, (NONE, 0));
        &mut spill
    };
    let pair = |syms: &[Sym], i: usize| match syms.get(i + 1) {
        Some(&r) => rule.merge(piece, syms[i], r).unwrap_or((NONE, 0)),
        None => (NONE, 0),
    };
    for (i, rank) in ranks.iter_mut().enumerate() {
        *rank = pair(syms, i);
    }
    loop {
        let mut best = (NONE, usize::MAX);
        for (i, &(rank, _)) in ranks[..len].iter().enumerate() {
            if rank < best.0 {
                best = (rank, i);
            }
        }
        if best.0 == NONE {
            return;
        }
        let i = best.1;
        let id = ranks[i].1;
        syms[i] = Sym { start: syms[i].start, end: syms[i + 1].end, id };
        syms.remove(i + 1);
        ranks.copy_within(i + 2..len, i + 1);
        len -= 1;
        ranks[i] = pair(syms, i);
        if i > 0 {
            ranks[i - 1] = pair(syms, i - 1);
        }
    }
}

fn merge_heap(piece: &[u8], syms: &mut Vec<Sym>, rule: &impl MergeRule) {
    let n = syms.len();
    let mut next: Vec<u32> = (1..=n as u32).collect();
    next[n - 1] = NONE;
    let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
    prev[0] = NONE;
    // Entries are (rank, position of the left symbol); ties go to the leftmost,
    // as in tiktoken's and Hugging Face's loops. Stale entries are skipped.
    let mut heap: BinaryHeap<Reverse<u64>> = BinaryHeap::with_capacity(n);
    let push = |heap: &mut BinaryHeap<Reverse<u64>>, syms: &[Sym], i: u32, j: u32| {
        if let Some((rank, _)) = rule.merge(piece, syms[i as usize], syms[j as usize]) {
            heap.push(Reverse(((rank as u64) << 32) | i as u64));
        }
    };
    for i in 0..n - 1 {
        push(&mut heap, syms, i as u32, i as u32 + 1);
    }
    let mut alive = vec![true; n];
    while let Some(Reverse(entry)) = heap.pop() {
        let (rank, i) = ((entry >> 32) as u32, entry as u32);
        let j = next[i as usize];
        if !alive[i as usize] || j == NONE {
            continue;
        }
        let Some((r, id)) = rule.merge(piece, syms[i as usize], syms[j as usize]) else { continue };
        if r != rank {
            continue;
        }
        syms[i as usize] = Sym { start: syms[i as usize].start, end: syms[j as usize].end, id };
        alive[j as usize] = false;
        let k = next[j as usize];
        next[i as usize] = k;
        if k != NONE {
            prev[k as usize] = i;
            push(&mut heap, syms, i, k);
        }
        let p = prev[i as usize];
        if p != NONE {
            push(&mut heap, syms, p, i);
        }
    }
    let mut w = 0;
    for r in 0..n {
        if alive[r] {
            syms[w] = syms[r];
            w += 1;
        }
    }
    syms.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(tokens: &[&str]) -> TokenMap {
        let mut m = TokenMap::default();
        for (i, t) in tokens.iter().enumerate() {
            m.insert(t.as_bytes(), i as u32).unwrap();
        }
        m
    }

    fn bytes_syms(piece: &[u8], v: &TokenMap) -> Vec<Sym> {
        (0..piece.len() as u32).map(|i| Sym { start: i, end: i + 1, id: v.get(&piece[i as usize..=i as usize]).unwrap() }).collect()
    }

    #[test]
    fn small_and_heap_merges_agree() {
        let v = vocab(&["a", "b", " ", "ab", "  ", "aa", "    ", "aab", "ba", "abab", "   "]);
        let mut x = 7u32;
        for len in [1usize, 2, 5, 47, 48, 49, 200, 1000] {
            let piece: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1103515245).wrapping_add(12345);
                    [b'a', b'b', b' '][(x >> 16) as usize % 3]
                })
                .collect();
            let mut small = bytes_syms(&piece, &v);
            let mut heap = small.clone();
            merge_small(&piece, &mut small, &ByRank(&v));
            merge_heap(&piece, &mut heap, &ByRank(&v));
            assert_eq!(small, heap, "len {len}");
            let joined: Vec<u8> = small.iter().flat_map(|s| piece[s.start as usize..s.end as usize].to_vec()).collect();
            assert_eq!(joined, piece);
        }
    }

    #[test]
    fn lowest_rank_merges_first_and_ties_go_left() {
        let v = vocab(&["a", "aa", "aaa"]);
        let piece = b"aaa";
        let mut syms = bytes_syms(piece, &v);
        merge(piece, &mut syms, &ByRank(&v));
        // "aa" (rank 1) merges leftmost first, then "aa"+"a" makes "aaa" (rank 2).
        assert_eq!(syms.iter().map(|s| s.id).collect::<Vec<_>>(), [2]);
    }
}
