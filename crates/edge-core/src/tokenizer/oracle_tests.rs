//! Differential test of the hand-written splitter against fancy-regex (the
//! engine the Rust tiktoken runs these patterns with) on random texts drawn
//! from the characters where the split rules differ.

use super::pretokenize::Pattern;

/// Letters of every class, marks, numbers, spaces of every kind, apostrophes
/// and contraction letters, symbols, emoji. Leaves out U+0085, U+FEFF and `ſ`
/// (see test/corpus/tokenizer/MANIFEST.md: JS and Rust disagree there).
const ALPHABET: &[char] = &[
    'a', 'b', 'Z', 'Q', 'é', 'É', 'ǅ', 'ß', '日', 'ー', 'ʰ', 'א', '\u{301}', '\u{93f}', '1', '7', '٣', 'Ⅻ', '½', ' ', ' ', ' ',
    '\t', '\n', '\r', '\u{a0}', '\u{3000}', '\u{2028}', '\'', 's', 't', 'l', 'r', 'e', 'v', 'd', 'm', 'S', 'L', 'D', '/', '!',
    '{', '"', '.', '-', '_', '🤖', '\u{200d}',
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn text(&mut self) -> String {
        let len = (self.next() % 40) as usize;
        (0..len).map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize]).collect()
    }
}

fn check(regex: &str, pattern: Pattern, seed: u64) {
    let oracle = fancy_regex::Regex::new(regex).unwrap();
    check_with(|text| oracle.find_iter(text).map(|m| m.unwrap().as_str().to_string()).collect(), pattern, seed);
}

fn check_with(oracle: impl Fn(&str) -> Vec<String>, pattern: Pattern, seed: u64) {
    let mut rng = Rng(seed);
    for _ in 0..3000 {
        let text = rng.text();
        let want = oracle(&text);
        let got: Vec<String> = pattern.pieces(&text).map(str::to_string).collect();
        assert_eq!(got, want, "text {text:?}");
    }
}

#[test]
fn cl100k_splits_like_the_regex() {
    let regex = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    assert_eq!(Pattern::from_regex(regex), Some(Pattern::Cl100k { max_digits: 3 }));
    check(regex, Pattern::Cl100k { max_digits: 3 }, 1);
}

#[test]
fn qwen_single_digit_split_like_the_regex() {
    let regex = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    check(regex, Pattern::Cl100k { max_digits: 1 }, 2);
}

#[test]
fn o200k_splits_like_the_regex() {
    let regex = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    assert_eq!(Pattern::from_regex(regex), Some(Pattern::O200k));
    check(regex, Pattern::O200k, 3);
}

#[test]
fn gpt2_splits_like_the_regex() {
    let regex = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    check(regex, Pattern::Gpt2, 4);
}

/// Hugging Face's `Sequence [Digits { individual_digits: true }, ByteLevel]`
/// done as it does it: cut each number char out, then the GPT-2 regex on the rest.
#[test]
fn isolated_digits_split_like_digits_then_the_gpt2_regex() {
    let gpt2 = fancy_regex::Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+").unwrap();
    let digit = fancy_regex::Regex::new(r"\p{N}").unwrap();
    let oracle = |text: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut from = 0;
        let segment = |s: &str, out: &mut Vec<String>| out.extend(gpt2.find_iter(s).map(|m| m.unwrap().as_str().to_string()));
        for m in digit.find_iter(text) {
            let m = m.unwrap();
            segment(&text[from..m.start()], &mut out);
            out.push(m.as_str().to_string());
            from = m.end();
        }
        segment(&text[from..], &mut out);
        out
    };
    check_with(oracle, Pattern::Gpt2IsolatedDigits, 5);
}
