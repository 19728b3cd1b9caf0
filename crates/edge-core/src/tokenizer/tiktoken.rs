//! Loading tiktoken vocabularies: rank files and their split pattern.
//!
//! Two spellings of the same ranks are read. The `.tiktoken` file that
//! tiktoken (Python, Rust) downloads has one `base64 rank` per line. The rank
//! data inside the `tiktoken` and `js-tiktoken` npm packages (their
//! `bpe_ranks` string) has lines `! first-rank base64 base64 ...`, one rank
//! per token counting up from `first-rank`.

use super::vocab::TokenMap;
use super::json::{self, Json};
use super::model::{Initial, Normalizer, Tokenizer};
use super::pretokenize::Pattern;
use super::TokenizerError;

/// Builds a tokenizer from tiktoken ranks, a split pattern (its regex text, as
/// tiktoken publishes it) and the special tokens (text, id).
pub fn from_tiktoken(ranks: &[u8], pattern: &str, specials: &[(String, u32)]) -> Result<Tokenizer, TokenizerError> {
    let pattern = Pattern::from_regex(pattern).ok_or_else(|| TokenizerError::UnsupportedModel(format!("split pattern {pattern:?}")))?;
    let mut ids = parse_ranks(ranks)?;
    let mut byte_ids = Box::new([0u32; 256]);
    for b in 0..=255u8 {
        byte_ids[b as usize] = ids.get(&[b]).ok_or_else(|| invalid(format!("byte {b:#04x} has no rank")))?;
    }
    for (text, id) in specials {
        ids.set_special(*id, text.as_bytes())?;
    }
    Ok(Tokenizer {
        ids,
        decoded: None,
        pairs: None,
        initial: Initial::Bytes(byte_ids),
        pattern: Some(pattern),
        whole_piece_lookup: true,
        merges_to_itself: Vec::new(),
        normalizer: Normalizer::default(),
        specials: specials.to_vec(),
        strip_leading_space: false,
    })
}

/// Builds a tokenizer from an encoder file of the `tiktoken` npm package
/// (`encoders/<name>.json`: `pat_str`, `special_tokens`, `bpe_ranks`), given
/// whole: the ranks are read where they lie in the file, never copied into a
/// string (on the host's side nor here).
pub fn from_tiktoken_json(file: &[u8]) -> Result<Tokenizer, TokenizerError> {
    let doc = json::parse(file).map_err(invalid)?;
    let field = |key: &str| doc.get(key).ok_or_else(|| invalid(format!("encoder file has no `{key}`")));
    let string = |key: &str| field(key)?.as_str().ok_or_else(|| invalid(format!("`{key}` is not a string")));
    let Json::Object(members) = field("special_tokens")? else {
        return Err(invalid("`special_tokens` is not an object".into()));
    };
    let specials = members
        .iter()
        .map(|(text, id)| id.as_u32().map(|id| (text.clone(), id)).ok_or_else(|| invalid(format!("special token {text:?} has no integer id"))))
        .collect::<Result<Vec<_>, _>>()?;
    from_tiktoken(string("bpe_ranks")?.as_bytes(), string("pat_str")?, &specials)
}

fn invalid(what: String) -> TokenizerError {
    TokenizerError::InvalidVocabulary(what)
}

/// Reads either rank-file spelling into bytes -> rank (and its rank -> bytes).
fn parse_ranks(text: &[u8]) -> Result<TokenMap, TokenizerError> {
    // Every token follows a space in both spellings, so the spaces bound the
    // tokens, and base64 decodes to at most 3 bytes per 4: the tables are sized
    // once, never regrown (a rehash, a 1.4 MB copy) halfway through. A token
    // takes at least 5 bytes (4 of base64, a space): a file of spaces does
    // not reserve more than that allows.
    let tokens = text.iter().filter(|&&b| b == b' ').count().min(text.len() / 5);
    // The special tokens' ids follow the ranks (cl100k_base up to 20 after):
    // room for them keeps their `set` from doubling the id table (+0.8 MB).
    let mut ids = TokenMap::with_capacity(tokens, tokens + 1024, text.len() * 3 / 4 + 16 * 1024);
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let bad = |what: &str| invalid(format!("rank file line {}: {what}", n + 1));
        let mut fields = line.split(|&b| b == b' ');
        let first = fields.next().unwrap_or_default();
        if first == b"!" {
            let start = number(fields.next().unwrap_or_default()).ok_or_else(|| bad("bad first rank"))?;
            for (k, token) in fields.enumerate() {
                let rank = start.checked_add(k as u32).ok_or_else(|| bad("rank overflows"))?;
                insert(&mut ids, token, rank).map_err(&bad)?;
            }
        } else {
            let rank = fields.next().and_then(number).ok_or_else(|| bad("expected `base64 rank`"))?;
            insert(&mut ids, first, rank).map_err(bad)?;
        }
    }
    if ids.is_empty() {
        return Err(invalid("rank file holds no tokens".into()));
    }
    Ok(ids)
}

/// One token: decoded straight into the map's decode table (no staging copy,
/// no allocation per token), then entered in the map from there.
fn insert(ids: &mut TokenMap, token: &[u8], rank: u32) -> Result<(), &'static str> {
    let fill = |out: &mut Vec<u8>| {
        let start = out.len();
        base64_decode_into(token, out)?;
        (out.len() > start).then_some(())
    };
    let before = ids.insert_with(rank, fill).map_err(|_| "rank above the limit")?.ok_or("bad base64 or empty token")?;
    if before.is_some() {
        return Err("token listed twice");
    }
    Ok(())
}

fn number(text: &[u8]) -> Option<u32> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Standard base64 with optional `=` padding.
#[cfg(test)]
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    base64_decode_into(text, &mut out).map(|()| out)
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

/// Standard base64 with optional `=` padding, appended to `out`.
fn base64_decode_into(text: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let text = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let v = BASE64[c as usize];
        if v == NOT_BASE64 {
            return None;
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits >= 6 {
        return None;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode(b"SGVsbG8="), Some(b"Hello".to_vec()));
        assert_eq!(base64_decode(b"IQ=="), Some(b"!".to_vec()));
        assert_eq!(base64_decode(b"YWJj"), Some(b"abc".to_vec()));
        assert_eq!(base64_decode(b"a$=="), None);
        assert_eq!(base64_decode(b"Q"), None);
    }

    #[test]
    fn reads_both_rank_file_spellings() {
        let plain = parse_ranks(b"YQ== 0\nYg== 1\nYWI= 2\n").unwrap();
        let packed = parse_ranks(b"! 0 YQ== Yg==\n! 2 YWI=\n").unwrap();
        assert!(plain == packed);
        assert_eq!(plain.get(b"ab"), Some(2));
        for decoded in [plain.by_id(), packed.by_id()] {
            assert_eq!((decoded.get(0), decoded.get(2), decoded.len()), (Some(&b"a"[..]), Some(&b"ab"[..]), 3));
        }
    }

    #[test]
    fn an_absurd_special_token_id_is_refused_not_allocated() {
        let ranks: String = (0..=255u8).map(|b| format!("! {b} {}\n", encode_b64(&[b]))).collect();
        let err = from_tiktoken(ranks.as_bytes(), r"\s+", &[]).err();
        assert!(matches!(err, Some(TokenizerError::UnsupportedModel(_))), "pattern is checked first");
        let cl = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        assert!(from_tiktoken(ranks.as_bytes(), cl, &[("<x>".into(), 300)]).is_ok());
        let err = from_tiktoken(ranks.as_bytes(), cl, &[("<x>".into(), u32::MAX)]).err();
        assert!(matches!(err, Some(TokenizerError::InvalidVocabulary(m)) if m.contains("above the limit")));
    }

    fn encode_b64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
            for i in 0..4 {
                out.push(if i <= chunk.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
            }
        }
        out
    }

    #[test]
    fn reads_the_npm_encoder_file_whole() {
        let ranks: String = (0..=255u8).map(|b| format!("! {b} {}\\n", encode_b64(&[b]))).collect();
        let cl = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        let file = format!(r#"{{"pat_str":"{cl}","special_tokens":{{"<|a|>":300,"<|b|>":256}},"bpe_ranks":"{ranks}"}}"#);
        let tok = from_tiktoken_json(file.as_bytes()).unwrap();
        assert_eq!(tok.special_tokens(), [("<|a|>".to_string(), 300), ("<|b|>".to_string(), 256)]);
        assert_eq!((tok.vocab_size(), tok.count("ab", false).unwrap(), tok.count("<|b|>", true).unwrap()), (301, 2, 1));
        for bad in [&b"{"[..], b"{}", br#"{"pat_str":"\\s+","special_tokens":[],"bpe_ranks":""}"#, br#"{"pat_str":1,"special_tokens":{},"bpe_ranks":""}"#] {
            assert!(matches!(from_tiktoken_json(bad), Err(TokenizerError::InvalidVocabulary(_))), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn malformed_rank_files_are_typed_errors() {
        for bad in [&b"YQ==\n"[..], b"Y$== 1", b"! x YQ==", b"YQ== 0\nYQ== 1", b""] {
            assert!(matches!(parse_ranks(bad), Err(TokenizerError::InvalidVocabulary(_))), "{bad:?}");
        }
    }
}
