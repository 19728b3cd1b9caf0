//! Reading tiktoken rank files into a [`TokenMap`], in one pass.
//!
//! Two spellings of the same ranks are read. The `.tiktoken` file that
//! tiktoken (Python, Rust) downloads has one `base64 rank` per line. The rank
//! data inside the `tiktoken` and `js-tiktoken` npm packages (their
//! `bpe_ranks` string) has lines `! first-rank base64 base64 ...`, one rank
//! per token counting up from `first-rank`.
//!
//! A vocabulary is loaded by the first call that names it, and that first
//! load runs in the wasm engine's baseline code (V8 tiers a function up only
//! for its later calls): every pass over the 1-2 MB of ranks costs it. So the
//! base64 decoder itself finds where a token ends (no split into lines and
//! fields first), and the token count that sizes the tables is taken 8 bytes
//! at a time.

use super::TokenizerError;
use super::json::zero_bytes;
use super::vocab::TokenMap;

/// Reads either rank-file spelling into bytes -> rank (and its rank -> bytes).
pub(super) fn parse_ranks(text: &[u8]) -> Result<TokenMap, TokenizerError> {
    // Every token follows a space in both spellings, so the spaces bound the
    // tokens, and base64 decodes to at most 3 bytes per 4: the tables are sized
    // once, never regrown (a rehash, a 1.4 MB copy) halfway through. A token
    // takes at least 5 bytes (4 of base64, a space): a file of spaces does
    // not reserve more than that allows.
    let tokens = count_byte(text, b' ').min(text.len() / 5);
    // The special tokens' ids follow the ranks (cl100k_base up to 20 after):
    // room for them keeps their `set` from doubling the id table (+0.8 MB).
    let mut ids = TokenMap::with_capacity(tokens, tokens + 1024, text.len() * 3 / 4 + 16 * 1024);
    let mut reader = Reader { text, at: 0, line: 1 };
    while reader.at < text.len() {
        reader.line(&mut ids)?;
    }
    if ids.is_empty() {
        return Err(invalid("rank file holds no tokens".into()));
    }
    Ok(ids)
}

fn invalid(what: String) -> TokenizerError {
    TokenizerError::InvalidVocabulary(what)
}

/// A cursor over the rank file; `line` counts lines for error messages.
struct Reader<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl Reader<'_> {
    fn bad(&self, what: &str) -> TokenizerError {
        invalid(format!("rank file line {}: {what}", self.line))
    }

    /// Whether the cursor is at the end of a line: `\n`, `\r\n`, a final `\r`, or the end.
    fn at_line_end(&self) -> bool {
        self.line_end_at(self.at)
    }

    fn line_end_at(&self, at: usize) -> bool {
        match self.text.get(at) {
            None | Some(b'\n') => true,
            Some(b'\r') => matches!(self.text.get(at + 1), None | Some(b'\n')),
            _ => false,
        }
    }

    /// Whether a field ends at `at`: a space or a line end follows it.
    fn field_ends_at(&self, at: usize) -> bool {
        self.text.get(at) == Some(&b' ') || self.line_end_at(at)
    }

    /// Moves past the rest of this line and its line break.
    fn next_line(&mut self) {
        self.at = self.text[self.at..].iter().position(|&b| b == b'\n').map_or(self.text.len(), |n| self.at + n + 1);
        self.line += 1;
    }

    /// The bytes up to the next space or line end; the cursor stops there.
    fn field(&mut self) -> &[u8] {
        let start = self.at;
        while !self.field_ends_at(self.at) {
            self.at += 1;
        }
        &self.text[start..self.at]
    }

    /// One line: empty, `! first-rank base64...`, or `base64 rank`.
    fn line(&mut self, ids: &mut TokenMap) -> Result<(), TokenizerError> {
        if self.text.get(self.at) == Some(&b'!') && self.field_ends_at(self.at + 1) {
            self.at += 1;
            self.packed_line(ids)?;
        } else if !self.at_line_end() {
            self.plain_line(ids)?;
        }
        self.next_line();
        Ok(())
    }

    /// After the `!`: ` first-rank`, then ` base64` per rank up to the line end.
    fn packed_line(&mut self, ids: &mut TokenMap) -> Result<(), TokenizerError> {
        self.at += usize::from(self.text.get(self.at) == Some(&b' '));
        let start = number(self.field()).ok_or_else(|| self.bad("bad first rank"))?;
        let mut rank = Some(start);
        while self.text.get(self.at) == Some(&b' ') {
            self.at += 1;
            let r = rank.ok_or_else(|| self.bad("rank overflows"))?;
            self.token(ids, r)?;
            rank = r.checked_add(1);
        }
        Ok(())
    }

    /// `base64 rank`; anything after the rank on the line is not read.
    fn plain_line(&mut self, ids: &mut TokenMap) -> Result<(), TokenizerError> {
        let start = self.at;
        self.field();
        if self.text.get(self.at) != Some(&b' ') {
            return Err(self.bad("expected `base64 rank`"));
        }
        self.at += 1;
        let rank = number(self.field()).ok_or_else(|| self.bad("expected `base64 rank`"))?;
        // The token ends at the space found above: `token` stops at it.
        self.at = start;
        self.token(ids, rank)
    }

    /// The base64 token at the cursor, decoded straight into the map's decode
    /// table (no staging copy, no allocation per token); the cursor moves past
    /// it and must then be at a space or a line end.
    fn token(&mut self, ids: &mut TokenMap, rank: u32) -> Result<(), TokenizerError> {
        let (text, start) = (self.text, self.at);
        let mut end = start;
        let fill = |out: &mut Vec<u8>| {
            let before = out.len();
            end = start + base64_decode_into(&text[start..], out)?;
            (out.len() > before).then_some(())
        };
        let before = ids.insert_with(rank, fill).map_err(|_| self.bad("rank above the limit"))?;
        match before {
            None => return Err(self.bad("bad base64 or empty token")),
            Some(Some(_)) => return Err(self.bad("token listed twice")),
            Some(None) => {}
        }
        self.at = end;
        if !self.field_ends_at(self.at) {
            return Err(self.bad("bad base64 or empty token"));
        }
        Ok(())
    }
}

fn number(text: &[u8]) -> Option<u32> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// How many times `byte` occurs in `text`, 8 bytes per step.
fn count_byte(text: &[u8], byte: u8) -> usize {
    let pattern = u64::from_ne_bytes([byte; 8]);
    let mut chunks = text.chunks_exact(8);
    let mut n = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        n += zero_bytes(word ^ pattern).count_ones() as usize;
    }
    n + chunks.remainder().iter().filter(|&&b| b == byte).count()
}

/// Each byte's base64 value, or `NOT_BASE64`: one load per char instead of
/// five range tests (a rank file is 1-2 MB of base64).
const BASE64: [u8; 256] = {
    let mut t = [NOT_BASE64; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const NOT_BASE64: u8 = 0xff;

/// Decodes the standard base64 (with optional `=` padding) at the start of
/// `text`, up to the first byte that is neither, into `out`; returns how many
/// bytes of `text` it read. Whole groups of 4 chars go 3 bytes at a time.
fn base64_decode_into(text: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut i = 0;
    while let Some(&[a, b, c, d]) = text.get(i..i + 4) {
        let v = [BASE64[a as usize], BASE64[b as usize], BASE64[c as usize], BASE64[d as usize]];
        if (v[0] | v[1] | v[2] | v[3]) & 0xc0 != 0 {
            break;
        }
        let n = u32::from(v[0]) << 18 | u32::from(v[1]) << 12 | u32::from(v[2]) << 6 | u32::from(v[3]);
        out.extend_from_slice(&n.to_be_bytes()[1..]);
        i += 4;
    }
    // The last 2 or 3 chars of a token whose length is not a multiple of 4.
    let (mut acc, mut bits) = (0u32, 0u32);
    while let Some(&c) = text.get(i) {
        let v = BASE64[c as usize];
        if v == NOT_BASE64 {
            break;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        i += 1;
    }
    if bits >= 6 {
        return None;
    }
    let padding = text[i..].iter().take(2).take_while(|&&c| c == b'=').count();
    Some(i + padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        base64_decode_into(text, &mut out).filter(|&n| n == text.len()).map(|_| out)
    }

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode(b"SGVsbG8="), Some(b"Hello".to_vec()));
        assert_eq!(base64_decode(b"IQ=="), Some(b"!".to_vec()));
        assert_eq!(base64_decode(b"YWJj"), Some(b"abc".to_vec()));
        assert_eq!(base64_decode(b"YWJjZA=="), Some(b"abcd".to_vec()));
        assert_eq!(base64_decode(b"a$=="), None);
        assert_eq!(base64_decode(b"Q"), None);
        assert_eq!(base64_decode(b"YQ==="), None);
    }

    #[test]
    fn counts_a_byte_in_words_and_the_tail() {
        let text = b"a b  c\x20\xa0 d e f g h i j ";
        assert_eq!(count_byte(text, b' '), text.iter().filter(|&&b| b == b' ').count());
        assert_eq!(count_byte(b"", b' '), 0);
        assert_eq!(count_byte(&[0x20 | 0x80; 17], b' '), 0);
    }

    #[test]
    fn reads_both_rank_file_spellings() {
        let plain = parse_ranks(b"YQ== 0\nYg== 1\r\nYWI= 2\n").unwrap();
        let packed = parse_ranks(b"! 0 YQ== Yg==\r\n\n! 2 YWI=").unwrap();
        assert!(plain == packed);
        assert_eq!(plain.get(b"ab"), Some(2));
        for decoded in [plain.by_id(), packed.by_id()] {
            assert_eq!((decoded.get(0), decoded.get(2), decoded.len()), (Some(&b"a"[..]), Some(&b"ab"[..]), 3));
        }
    }

    #[test]
    fn malformed_rank_files_are_typed_errors() {
        let bad: [&[u8]; 12] = [
            b"YQ==\n", b"Y$== 1", b"! x YQ==", b"YQ== 0\nYQ== 1", b"", b"! 0 YQ== ", b"! 0 YQ==  Yg==", b"! 0 YQ==Yg==",
            b"! 0 YQ\r= ", b"!", b"YQ==x 0", b"! 4294967295 YQ== Yg==",
        ];
        for bad in bad {
            assert!(matches!(parse_ranks(bad), Err(TokenizerError::InvalidVocabulary(_))), "{:?}", String::from_utf8_lossy(bad));
        }
        let Err(TokenizerError::InvalidVocabulary(what)) = parse_ranks(b"YQ== 0\n\nYg== x\n") else { panic!("line 3") };
        assert!(what.contains("line 3"), "{what}");
    }
}
