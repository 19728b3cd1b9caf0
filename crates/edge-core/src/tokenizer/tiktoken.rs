//! Loading tiktoken vocabularies: rank files (read in ranks.rs) and their
//! split pattern.

use super::json::{self, Json};
use super::model::{Initial, Normalizer, Tokenizer};
use super::pretokenize::Pattern;
use super::ranks::parse_ranks;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
