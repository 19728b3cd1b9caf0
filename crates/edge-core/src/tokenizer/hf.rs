//! Loading Hugging Face `tokenizer.json` BPE models: byte-level ones (GPT-2,
//! Llama 3, Qwen) and SentencePiece-style ones with byte fallback (Llama 2,
//! Mistral, Phi-3). A feature this core does not implement is refused with
//! `UnsupportedModel` naming it, never approximated.

use super::bpe::pair_key;
use super::hash::FastMap;
use super::vocab::TokenMap;
use super::json::{self, Json};
use super::decode_table::DecodeTable;
use super::model::{Initial, Normalizer, Tokenizer, WHOLE_UNKNOWN};
use std::cell::Cell;
use super::pretokenize::Pattern;
use super::TokenizerError;

const METASPACE: &str = "\u{2581}";

fn unsupported(what: impl Into<String>) -> TokenizerError {
    TokenizerError::UnsupportedModel(what.into())
}

fn invalid(what: impl Into<String>) -> TokenizerError {
    TokenizerError::InvalidVocabulary(what.into())
}

/// Builds a tokenizer from the bytes of a `tokenizer.json`.
pub fn from_tokenizer_json(bytes: &[u8]) -> Result<Tokenizer, TokenizerError> {
    let root = json::parse(bytes).map_err(invalid)?;
    let model = root.get("model").ok_or_else(|| invalid("no `model`"))?;
    check_model(model)?;
    let (pattern, byte_level) = pre_tokenizer(root.get("pre_tokenizer"))?;
    let byte_level = byte_level || type_of(root.get("decoder")) == Some("ByteLevel");
    let normalizer = normalizer(root.get("normalizer"))?;
    let mut vocab = read_vocab(model, byte_level)?;
    let pairs = read_merges(model, &vocab, byte_level)?;
    let specials = added_tokens(root.get("added_tokens"))?;
    let initial = if byte_level { byte_initial(&vocab)? } else { char_initial(model, &vocab)? };
    let ignore_merges = model.get("ignore_merges").and_then(Json::as_bool).unwrap_or(false);
    let pattern = pattern.or_else(|| metaspace_words(&normalizer, &vocab, byte_level));
    let decoded = if byte_level {
        // Byte-level tokens decode to their own bytes: the map's table serves.
        for (text, id) in &specials {
            vocab.set_special(*id, text.as_bytes())?;
        }
        None
    } else {
        Some(decode_table(&vocab, &specials)?)
    };
    let ids = decoded.as_ref().unwrap_or(vocab.by_id()).len();
    let merges_to_itself = if ignore_merges { Vec::new() } else { vec![Cell::new(WHOLE_UNKNOWN); ids] };
    Ok(Tokenizer {
        ids: vocab,
        decoded,
        pairs: Some(pairs),
        initial,
        pattern,
        whole_piece_lookup: ignore_merges,
        merges_to_itself,
        strip_leading_space: !byte_level && strips_leading_space(root.get("decoder")),
        normalizer,
        specials,
    })
}

/// Cuts before `▁` runs are exact when no token spans one (see `Pattern::MetaspaceWords`).
fn metaspace_words(normalizer: &Normalizer, vocab: &TokenMap, byte_level: bool) -> Option<Pattern> {
    if byte_level || normalizer.space.as_deref() != Some(METASPACE) {
        return None;
    }
    let spans_a_cut = |token: &[u8]| {
        let text = String::from_utf8_lossy(token);
        let mut prev_other = false;
        text.chars().any(|c| {
            let cut = c == '\u{2581}' && prev_other;
            prev_other = c != '\u{2581}';
            cut
        })
    };
    (!vocab.iter().any(|(t, _)| spans_a_cut(&t))).then_some(Pattern::MetaspaceWords)
}

fn type_of<'j>(v: Option<&'j Json>) -> Option<&'j str> {
    v?.get("type")?.as_str()
}

fn check_model(model: &Json) -> Result<(), TokenizerError> {
    match type_of(Some(model)) {
        Some("BPE") | None => {}
        Some(other) => return Err(unsupported(format!("model type {other}"))),
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
        if model.get(key).and_then(Json::as_str).is_some_and(|s| !s.is_empty()) {
            return Err(unsupported(key));
        }
    }
    if let Some(Json::Number(p)) = model.get("dropout")
        && *p > 0.0 {
            return Err(unsupported("BPE dropout"));
        }
    Ok(())
}

/// The split pattern (if any) and whether the model is byte-level.
fn pre_tokenizer(v: Option<&Json>) -> Result<(Option<Pattern>, bool), TokenizerError> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok((None, false)) };
    let steps: Vec<&Json> = match (type_of(Some(v)), v.get("pretokenizers")) {
        (Some("Sequence"), Some(Json::Array(items))) => items.iter().collect(),
        _ => vec![v],
    };
    let (mut pattern, mut byte_level, mut digits) = (None, false, false);
    for step in steps {
        match type_of(Some(step)) {
            Some("Split") => pattern = Some(split_pattern(step)?),
            Some("Digits") if pattern.is_none() && !byte_level => {
                if step.get("individual_digits").and_then(Json::as_bool) != Some(true) {
                    return Err(unsupported("Digits without individual_digits"));
                }
                digits = true;
            }
            Some("ByteLevel") => {
                byte_level = true;
                if step.get("add_prefix_space").and_then(Json::as_bool) == Some(true) {
                    return Err(unsupported("ByteLevel add_prefix_space"));
                }
                if step.get("use_regex").and_then(Json::as_bool).unwrap_or(true) {
                    if pattern.is_some() {
                        return Err(unsupported("Split followed by ByteLevel use_regex"));
                    }
                    pattern = Some(if digits { Pattern::Gpt2IsolatedDigits } else { Pattern::Gpt2 });
                }
            }
            other => return Err(unsupported(format!("pre-tokenizer {}", other.unwrap_or("?")))),
        }
    }
    if digits && pattern != Some(Pattern::Gpt2IsolatedDigits) {
        return Err(unsupported("Digits not followed by ByteLevel use_regex"));
    }
    Ok((pattern, byte_level))
}

fn split_pattern(step: &Json) -> Result<Pattern, TokenizerError> {
    let regex = step.get("pattern").and_then(|p| p.get("Regex")).and_then(Json::as_str);
    let regex = regex.ok_or_else(|| unsupported("Split on a plain string"))?;
    if step.get("behavior").and_then(Json::as_str) != Some("Isolated") || step.get("invert").and_then(Json::as_bool) == Some(true) {
        return Err(unsupported("Split behaviour other than Isolated"));
    }
    Pattern::from_regex(regex).ok_or_else(|| unsupported(format!("split pattern {regex:?}")))
}

fn normalizer(v: Option<&Json>) -> Result<Normalizer, TokenizerError> {
    let mut out = Normalizer::default();
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(out) };
    let steps: Vec<&Json> = match (type_of(Some(v)), v.get("normalizers")) {
        (Some("Sequence"), Some(Json::Array(items))) => items.iter().collect(),
        _ => vec![v],
    };
    for step in steps {
        match type_of(Some(step)) {
            Some("NFC") => out.nfc = true,
            Some("Prepend") if out.space.is_none() => {
                out.prepend = Some(step.get("prepend").and_then(Json::as_str).unwrap_or_default().to_string());
            }
            Some("Replace") if step.get("pattern").and_then(|p| p.get("String")).and_then(Json::as_str) == Some(" ") => {
                out.space = Some(step.get("content").and_then(Json::as_str).unwrap_or_default().to_string());
            }
            other => return Err(unsupported(format!("normalizer {}", other.unwrap_or("?")))),
        }
    }
    Ok(out)
}

/// GPT-2's map from bytes to printable chars, inverted: char -> byte.
fn byte_level_decoder() -> FastMap<char, u8> {
    let mut map = FastMap::default();
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        let c = if printable {
            b as char
        } else {
            next += 1;
            char::from_u32(next - 1).expect("below 0x200")
        };
        map.insert(c, b);
    }
    map
}

/// A vocabulary string as raw bytes (byte-level models spell bytes as chars).
fn token_bytes(text: &str, byte_level: Option<&FastMap<char, u8>>) -> Option<Box<[u8]>> {
    match byte_level {
        Some(map) => text.chars().map(|c| map.get(&c).copied()).collect(),
        None => Some(text.as_bytes().into()),
    }
}

fn read_vocab(model: &Json, byte_level: bool) -> Result<TokenMap, TokenizerError> {
    let Some(Json::Object(entries)) = model.get("vocab") else { return Err(invalid("no `model.vocab` object")) };
    let map = byte_level.then(byte_level_decoder);
    let mut vocab = TokenMap::with_capacity(entries.len(), entries.len(), 6 * entries.len());
    for (text, id) in entries {
        let id = id.as_u32().ok_or_else(|| invalid(format!("vocab id of {text:?}")))?;
        let bytes = token_bytes(text, map.as_ref()).ok_or_else(|| invalid(format!("{text:?} is not byte-level")))?;
        vocab.insert(&bytes, id)?;
    }
    Ok(vocab)
}

fn read_merges(model: &Json, vocab: &TokenMap, byte_level: bool) -> Result<FastMap<u64, (u32, u32)>, TokenizerError> {
    let Some(Json::Array(merges)) = model.get("merges") else { return Err(invalid("no `model.merges` list")) };
    let map = byte_level.then(byte_level_decoder);
    let mut pairs = FastMap::default();
    pairs.reserve(merges.len());
    for (rank, m) in merges.iter().enumerate() {
        let (a, b) = match m {
            Json::String(s) => s.split_once(' ').ok_or_else(|| invalid(format!("merge {s:?}")))?,
            Json::Array(ab) if ab.len() == 2 => (ab[0].as_str().unwrap_or_default(), ab[1].as_str().unwrap_or_default()),
            _ => return Err(invalid(format!("merge #{rank}"))),
        };
        let id = |t: &str| token_bytes(t, map.as_ref()).and_then(|bytes| vocab.get(&bytes));
        let joined = format!("{a}{b}");
        let (Some(ia), Some(ib), Some(ij)) = (id(a), id(b), id(&joined)) else {
            return Err(invalid(format!("merge {a:?} {b:?} uses a token missing from the vocab")));
        };
        pairs.entry(pair_key(ia, ib)).or_insert((rank as u32, ij));
    }
    Ok(pairs)
}

fn added_tokens(v: Option<&Json>) -> Result<Vec<(String, u32)>, TokenizerError> {
    let Some(Json::Array(items)) = v else { return Ok(Vec::new()) };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let content = item.get("content").and_then(Json::as_str).ok_or_else(|| invalid("added token without content"))?;
        let id = item.get("id").and_then(Json::as_u32).ok_or_else(|| invalid("added token without id"))?;
        out.push((content.to_string(), id));
    }
    // Longest first, so "<|im_start|>" wins over a shorter token at the same offset.
    out.sort_by_key(|t| std::cmp::Reverse(t.0.len()));
    Ok(out)
}

fn byte_initial(vocab: &TokenMap) -> Result<Initial, TokenizerError> {
    let mut ids = Box::new([0u32; 256]);
    for b in 0..=255u8 {
        ids[b as usize] = vocab.get(&[b]).ok_or_else(|| invalid(format!("byte {b:#04x} has no token")))?;
    }
    Ok(Initial::Bytes(ids))
}

fn char_initial(model: &Json, vocab: &TokenMap) -> Result<Initial, TokenizerError> {
    let byte_fallback = if model.get("byte_fallback").and_then(Json::as_bool) == Some(true) {
        let mut ids = Box::new([0u32; 256]);
        for b in 0..=255u8 {
            let name = format!("<0x{b:02X}>");
            ids[b as usize] = vocab.get(name.as_bytes()).ok_or_else(|| invalid(format!("byte fallback token {name} missing")))?;
        }
        Some(ids)
    } else {
        None
    };
    let unk = model.get("unk_token").and_then(Json::as_str).and_then(|u| vocab.get(u.as_bytes()));
    let fuse_unk = model.get("fuse_unk").and_then(Json::as_bool).unwrap_or(false);
    Ok(Initial::Chars { byte_fallback, unk, fuse_unk })
}

/// What each id decodes to, SentencePiece-style: `▁` is a space and `<0xXX>`
/// is that byte.
fn decode_table(vocab: &TokenMap, specials: &[(String, u32)]) -> Result<DecodeTable, TokenizerError> {
    let mut out = DecodeTable::with_capacity(64 * 1024, 6 * 64 * 1024);
    let mut refused = None;
    vocab.for_each(|bytes, id| {
        if let Err(e) = out.set(id, &sentencepiece_bytes(bytes)) {
            refused.get_or_insert(e);
        }
    });
    if let Some(e) = refused {
        return Err(e);
    }
    for (text, id) in specials {
        out.set(*id, text.as_bytes())?;
    }
    Ok(out)
}

fn sentencepiece_bytes(token: &[u8]) -> Box<[u8]> {
    if let [b'<', b'0', b'x', h, l, b'>'] = *token {
        let hex = [h, l];
        if let Some(b) = std::str::from_utf8(&hex).ok().and_then(|s| u8::from_str_radix(s, 16).ok()) {
            return Box::new([b]);
        }
    }
    let text = String::from_utf8_lossy(token).replace(METASPACE, " ");
    text.into_bytes().into_boxed_slice()
}

/// Whether the decoder ends with `Strip` of one leading space.
fn strips_leading_space(decoder: Option<&Json>) -> bool {
    let Some(Json::Array(steps)) = decoder.and_then(|d| d.get("decoders")) else { return false };
    steps.iter().any(|s| type_of(Some(s)) == Some("Strip") && s.get("start").and_then(Json::as_u32) == Some(1))
}
