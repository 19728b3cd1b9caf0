//! The loaded tokenizer and its encode / count / decode loops.

use super::bpe::{self, ByPair, ByRank, Sym};
use super::hash::FastMap;
use super::decode_table::DecodeTable;
use super::vocab::TokenMap;
use super::pretokenize::Pattern;
use super::TokenizerError;
use std::cell::Cell;

/// How a piece becomes its first symbols, before any merge.
pub(super) enum Initial {
    /// One symbol per byte (tiktoken, Hugging Face `ByteLevel`): the id of each byte.
    Bytes(Box<[u32; 256]>),
    /// One symbol per char (SentencePiece-style BPE). A char missing from the
    /// vocabulary becomes its UTF-8 bytes' `<0xXX>` tokens, or the unknown token.
    Chars { byte_fallback: Option<Box<[u32; 256]>>, unk: Option<u32>, fuse_unk: bool },
}

/// Text changes applied before splitting (Hugging Face normalizers).
#[derive(Default)]
pub(super) struct Normalizer {
    /// Unicode NFC is required; the host applies it (see `Tokenizer::needs_nfc`).
    pub nfc: bool,
    /// Prepended to every non-empty segment (SentencePiece's `▁`).
    pub prepend: Option<String>,
    /// Every space becomes this (SentencePiece's `▁`).
    pub space: Option<String>,
}

/// An exact byte-level or SentencePiece-style BPE tokenizer.
pub struct Tokenizer {
    /// Ordinary tokens: bytes -> id.
    pub(super) ids: TokenMap,
    /// Bytes each id decodes to (ordinary and special) when they differ from
    /// the tokens' own; `None`: `ids.by_id()` (tiktoken, byte-level BPE).
    pub(super) decoded: Option<DecodeTable>,
    /// `None`: merge by the rank of the joined bytes (tiktoken).
    pub(super) pairs: Option<FastMap<u64, (u32, u32)>>,
    pub(super) initial: Initial,
    /// `None`: the whole (normalized) segment is one piece.
    pub(super) pattern: Option<Pattern>,
    /// A piece that is itself a token encodes to it without merging.
    pub(super) whole_piece_lookup: bool,
    /// Merge-list BPE: whether a token's own bytes merge back into it, by id,
    /// learnt the first time a piece equal to the token is merged (`WHOLE_*`).
    /// Most pieces of real text are whole tokens, so later ones skip the merge
    /// loop (a 4 KB prompt in SmolLM2's vocabulary: 0.14 ms to about 0.05 ms),
    /// and the count stays exactly what merging gives: the flag is its result.
    pub(super) merges_to_itself: Vec<Cell<u8>>,
    pub(super) normalizer: Normalizer,
    /// Special (added) tokens recognised in text when allowed: (text, id).
    pub(super) specials: Vec<(String, u32)>,
    /// Strip one leading space after decoding (SentencePiece's prepended `▁`).
    pub(super) strip_leading_space: bool,
}

pub(super) const WHOLE_UNKNOWN: u8 = 0;
const WHOLE_YES: u8 = 1;
const WHOLE_NO: u8 = 2;

/// Longest piece merged in one go; a longer one is refused so that memory
/// stays bounded (about 40 bytes per byte of piece while merging).
pub const MAX_PIECE_BYTES: usize = 8 << 20;

impl Tokenizer {
    /// Number of ids, ordinary and special: one more than the largest id.
    pub fn vocab_size(&self) -> u32 {
        self.decoded().len() as u32
    }

    fn decoded(&self) -> &DecodeTable {
        self.decoded.as_ref().unwrap_or(self.ids.by_id())
    }

    /// Whether the model expects NFC-normalized text. The core carries no
    /// normalization tables: the host normalizes first (`String.prototype.normalize`).
    pub fn needs_nfc(&self) -> bool {
        self.normalizer.nfc
    }

    /// The special tokens: (text, id).
    pub fn special_tokens(&self) -> &[(String, u32)] {
        &self.specials
    }

    /// Token ids of `text`. With `allow_special`, special-token text becomes
    /// the special token; otherwise it is encoded as ordinary text.
    pub fn encode(&self, text: &str, allow_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        self.each_token(text, allow_special, &mut |id| {
            out.push(id);
            true
        })?;
        Ok(out)
    }

    /// How many tokens `encode` would return, without building the list.
    pub fn count(&self, text: &str, allow_special: bool) -> Result<u64, TokenizerError> {
        let mut n = 0u64;
        self.each_token(text, allow_special, &mut |_| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// Bytes that `ids` stand for. Byte-level tokens may split a UTF-8
    /// sequence, so a slice of ids can decode to bytes that are not UTF-8.
    pub fn decode(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        let mut out = self.decode_raw(ids)?;
        if self.strip_leading_space && out.first() == Some(&b' ') {
            out.remove(0);
        }
        Ok(out)
    }

    pub(super) fn decode_raw(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::new();
        for &id in ids {
            match self.decoded().get(id) {
                Some(bytes) => out.extend_from_slice(bytes),
                None => return Err(TokenizerError::UnknownTokenId(id)),
            }
        }
        Ok(out)
    }

    /// Calls `sink` with each token id in order; `sink` returns false to stop.
    pub(super) fn each_token(
        &self,
        text: &str,
        allow_special: bool,
        sink: &mut impl FnMut(u32) -> bool,
    ) -> Result<(), TokenizerError> {
        let mut scratch = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let found = if allow_special { self.next_special(rest) } else { None };
            let (segment, special) = match found {
                Some((at, len, id)) => (&rest[..at], Some((at + len, id))),
                None => (rest, None),
            };
            if !self.segment(segment, &mut scratch, sink)? {
                return Ok(());
            }
            match special {
                Some((after, id)) => {
                    if !sink(id) {
                        return Ok(());
                    }
                    rest = &rest[after..];
                }
                None => break,
            }
        }
        Ok(())
    }

    /// The first special token in `text`: (byte offset, byte length, id). At
    /// one offset the first listed wins, as in js-tiktoken's alternation.
    fn next_special(&self, text: &str) -> Option<(usize, usize, u32)> {
        let firsts: Vec<u8> = self.specials.iter().filter_map(|(s, _)| s.as_bytes().first().copied()).collect();
        let bytes = text.as_bytes();
        for (at, b) in bytes.iter().enumerate() {
            if !firsts.contains(b) {
                continue;
            }
            for (s, id) in &self.specials {
                if !s.is_empty() && bytes[at..].starts_with(s.as_bytes()) {
                    return Some((at, s.len(), *id));
                }
            }
        }
        None
    }

    /// Encodes one stretch of text that holds no special token.
    fn segment(
        &self,
        text: &str,
        scratch: &mut Vec<Sym>,
        sink: &mut impl FnMut(u32) -> bool,
    ) -> Result<bool, TokenizerError> {
        if text.is_empty() {
            return Ok(true);
        }
        let normalized = self.normalize(text);
        let text: &str = &normalized;
        match self.pattern {
            Some(p) => {
                for piece in p.pieces(text) {
                    if !self.piece(piece.as_bytes(), scratch, sink)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            None => self.piece(text.as_bytes(), scratch, sink),
        }
    }

    fn normalize<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let n = &self.normalizer;
        if n.prepend.is_none() && n.space.is_none() {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 8);
        if let Some(p) = &n.prepend {
            out.push_str(p);
        }
        match &n.space {
            Some(space) => {
                for part in text.split(' ').enumerate() {
                    if part.0 > 0 {
                        out.push_str(space);
                    }
                    out.push_str(part.1);
                }
            }
            None => out.push_str(text),
        }
        std::borrow::Cow::Owned(out)
    }

    /// Encodes one piece: a whole-token lookup, else initial symbols and merges.
    fn piece(&self, piece: &[u8], syms: &mut Vec<Sym>, sink: &mut impl FnMut(u32) -> bool) -> Result<bool, TokenizerError> {
        if piece.len() > MAX_PIECE_BYTES {
            return Err(TokenizerError::PieceTooLong(piece.len() as u64));
        }
        let whole = self.ids.get(piece);
        if let Some(id) = whole {
            let known = self.merges_to_itself.get(id as usize).map(Cell::get);
            if self.whole_piece_lookup || known == Some(WHOLE_YES) {
                return Ok(sink(id));
            }
        }
        syms.clear();
        self.initial_symbols(piece, syms);
        if syms.len() > 1 {
            match &self.pairs {
                Some(pairs) => bpe::merge(piece, syms, &ByPair(pairs)),
                None => bpe::merge(piece, syms, &ByRank(&self.ids)),
            }
        }
        if let Some(flag) = whole.and_then(|id| self.merges_to_itself.get(id as usize)) {
            flag.set(if syms.len() == 1 && Some(syms[0].id) == whole { WHOLE_YES } else { WHOLE_NO });
        }
        for s in syms.iter() {
            if !sink(s.id) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn initial_symbols(&self, piece: &[u8], syms: &mut Vec<Sym>) {
        match &self.initial {
            Initial::Bytes(byte_ids) => {
                syms.extend(piece.iter().enumerate().map(|(i, &b)| {
                    Sym { start: i as u32, end: i as u32 + 1, id: byte_ids[b as usize] }
                }));
            }
            Initial::Chars { byte_fallback, unk, fuse_unk } => {
                // Pieces are slices of a &str, so they are UTF-8.
                let text = std::str::from_utf8(piece).unwrap_or_default();
                for (i, c) in text.char_indices() {
                    let (start, end) = (i as u32, (i + c.len_utf8()) as u32);
                    if let Some(id) = self.ids.get(&piece[i..end as usize]) {
                        syms.push(Sym { start, end, id });
                    } else if let Some(fallback) = byte_fallback {
                        syms.extend((start..end).map(|b| Sym { start: b, end: b + 1, id: fallback[piece[b as usize] as usize] }));
                    } else if let Some(unk) = *unk {
                        match syms.last_mut() {
                            Some(last) if *fuse_unk && last.id == unk => last.end = end,
                            _ => syms.push(Sym { start, end, id: unk }),
                        }
                    }
                }
            }
        }
    }
}
