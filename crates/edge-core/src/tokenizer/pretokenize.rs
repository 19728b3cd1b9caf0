//! Pre-tokenization: splitting text into the pieces that BPE encodes one by one.
//!
//! The tiktoken and Hugging Face split patterns use lookahead (`\s+(?!\S)`) and
//! Unicode classes. Each supported pattern is written out here as the
//! leftmost-first choice its regex makes, so no regex engine ships in the
//! component and every step is a table lookup; the scan is linear in the text.

use super::unicode::{Class, class_of};

/// The split patterns this core knows, recognised from their regex text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// cl100k_base (and Llama 3, Qwen 2/3): digit groups of at most `max_digits`.
    Cl100k { max_digits: u8 },
    /// o200k_base: case-aware words, digit groups of three, `/` kept after symbols.
    O200k,
    /// GPT-2 / r50k / p50k and Hugging Face `ByteLevel` with `use_regex`.
    Gpt2,
    /// Hugging Face `Digits { individual_digits }` then `ByteLevel` (SmolLM,
    /// StarCoder; llama.cpp's `smollm` pre-tokenizer): each number char alone,
    /// the GPT-2 rules on the text between them. Not one regex: GPT-2's
    /// `\s+(?!\S)` sees the end of the segment, not the digit after it.
    Gpt2IsolatedDigits,
    /// SentencePiece-style models with no pre-tokenizer: a run of `▁` and the
    /// chars up to the next `▁`. Only used when no vocabulary token holds a `▁`
    /// after another char, so no merge can cross these cuts and BPE over the
    /// pieces equals BPE over the whole text (which would be one huge piece).
    MetaspaceWords,
}

const CL100K: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const CL100K_SINGLE_DIGITS: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const O200K: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// SentencePiece's stand-in for a space.
pub const METASPACE: char = '\u{2581}';
/// js-tiktoken spells `(?i:...)` out, since JS regexes lack inline flags.
const JS_CONTRACTIONS: &str = "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)";

impl Pattern {
    /// Recognises a split regex by its text; `None` for a pattern this core lacks.
    pub fn from_regex(regex: &str) -> Option<Pattern> {
        let canonical = regex.replace(JS_CONTRACTIONS, "(?i:'s|'t|'re|'ve|'m|'ll|'d)");
        match canonical.as_str() {
            CL100K => Some(Pattern::Cl100k { max_digits: 3 }),
            CL100K_SINGLE_DIGITS => Some(Pattern::Cl100k { max_digits: 1 }),
            O200K => Some(Pattern::O200k),
            GPT2 => Some(Pattern::Gpt2),
            _ => None,
        }
    }

    /// The pieces of `text`, in order; their concatenation is `text`.
    pub fn pieces<'a>(self, text: &'a str) -> Pieces<'a> {
        Pieces { text, pos: 0, segment_end: 0, pattern: self }
    }
}

/// Iterator over the pieces of a text.
pub struct Pieces<'a> {
    text: &'a str,
    pos: usize,
    /// Gpt2IsolatedDigits: where the current run without numbers ends (kept so
    /// the search for the next number is done once per run, not per piece).
    segment_end: usize,
    pattern: Pattern,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.pos >= self.text.len() {
            return None;
        }
        let s = Scan(self.text);
        let end = match self.pattern {
            Pattern::Cl100k { max_digits } => s.cl100k(self.pos, max_digits as usize),
            Pattern::O200k => s.o200k(self.pos),
            Pattern::Gpt2 => s.gpt2(self.pos),
            Pattern::Gpt2IsolatedDigits => self.isolated_digits_piece(),
            Pattern::MetaspaceWords => s.metaspace_word(self.pos),
        };
        debug_assert!(end > self.pos);
        let piece = &self.text[self.pos..end];
        self.pos = end;
        Some(piece)
    }
}

impl Pieces<'_> {
    fn isolated_digits_piece(&mut self) -> usize {
        let s = Scan(self.text);
        if self.segment_end <= self.pos {
            self.segment_end = s.run(self.pos, |a| a.class != Class::Number);
        }
        if self.segment_end == self.pos {
            return s.at(self.pos).expect("in bounds").next;
        }
        Scan(&self.text[..self.segment_end]).gpt2(self.pos)
    }
}

/// One char, its class and the byte offset after it.
#[derive(Clone, Copy)]
struct At {
    c: char,
    class: Class,
    next: usize,
}

/// The text being scanned; every method takes a byte offset on a char boundary.
#[derive(Clone, Copy)]
struct Scan<'a>(&'a str);

impl Scan<'_> {
    #[inline]
    fn at(self, i: usize) -> Option<At> {
        let b = *self.0.as_bytes().get(i)?;
        if b < 0x80 {
            let c = b as char;
            return Some(At { c, class: class_of(c), next: i + 1 });
        }
        let c = self.0[i..].chars().next()?;
        Some(At { c, class: class_of(c), next: i + c.len_utf8() })
    }

    #[inline]
    fn run(self, mut i: usize, keep: impl Fn(At) -> bool) -> usize {
        while let Some(a) = self.at(i) {
            if !keep(a) {
                break;
            }
            i = a.next;
        }
        i
    }

    /// Length of `'s|'t|'re|'ve|'m|'ll|'d` at `i`, or 0.
    fn contraction(self, i: usize, any_case: bool) -> usize {
        let b = &self.0.as_bytes()[i..];
        if b.first() != Some(&b'\'') || b.len() < 2 {
            return 0;
        }
        let fold = |x: u8| if any_case { x.to_ascii_lowercase() } else { x };
        let (c1, c2) = (fold(b[1]), b.get(2).map(|&x| fold(x)));
        match (c1, c2) {
            (b's' | b't' | b'm' | b'd', _) => 2,
            (b'r' | b'v', Some(b'e')) | (b'l', Some(b'l')) => 3,
            _ => 0,
        }
    }

    /// `[^\r\n\p{L}\p{N}]`: may stand before a word.
    fn is_word_prefix(a: At) -> bool {
        a.c != '\r' && a.c != '\n' && !a.class.is_letter() && a.class != Class::Number
    }

    fn cl100k(self, i: usize, max_digits: usize) -> usize {
        let a = self.at(i).expect("in bounds");
        let k = self.contraction(i, true);
        if k > 0 {
            return i + k;
        }
        if a.class.is_letter() {
            return self.run(a.next, |x| x.class.is_letter());
        }
        if Self::is_word_prefix(a) && self.at(a.next).is_some_and(|n| n.class.is_letter()) {
            return self.run(a.next, |x| x.class.is_letter());
        }
        if a.class == Class::Number {
            return self.digits(i, max_digits);
        }
        self.symbols(i, a, b"\r\n").unwrap_or_else(|| self.whitespace(i, true))
    }

    fn o200k(self, i: usize) -> usize {
        let a = self.at(i).expect("in bounds");
        if let Some(end) = self.o200k_word(i, a) {
            let k = self.contraction(end, true);
            return end + k;
        }
        if a.class == Class::Number {
            return self.digits(i, 3);
        }
        self.symbols(i, a, b"\r\n/").unwrap_or_else(|| self.whitespace(i, true))
    }

    fn gpt2(self, i: usize) -> usize {
        let a = self.at(i).expect("in bounds");
        let k = self.contraction(i, false);
        if k > 0 {
            return i + k;
        }
        // ` ?X+`: the optional space binds to a following run of X.
        let (start, head) = match self.at(a.next) {
            Some(n) if a.c == ' ' && n.class != Class::Space => (a.next, n),
            _ => (i, a),
        };
        match head.class {
            c if c.is_letter() => self.run(start, |x| x.class.is_letter()),
            Class::Number => self.run(start, |x| x.class == Class::Number),
            c if c.is_symbol() => self.run(start, |x| x.class.is_symbol()),
            _ => self.whitespace(i, false),
        }
    }

    fn metaspace_word(self, i: usize) -> usize {
        let rest = &self.0[i..];
        let body = rest.trim_start_matches(METASPACE);
        let lead = rest.len() - body.len();
        body.find(METASPACE).map_or(self.0.len(), |k| i + lead + k)
    }

    /// `\p{N}{1,max}`.
    fn digits(self, i: usize, max: usize) -> usize {
        let mut end = i;
        for _ in 0..max {
            match self.at(end) {
                Some(a) if a.class == Class::Number => end = a.next,
                _ => break,
            }
        }
        end
    }

    /// ` ?[^\s\p{L}\p{N}]+[tail]*`, or `None` when it does not match at `i`.
    fn symbols(self, i: usize, a: At, tail: &[u8]) -> Option<usize> {
        let start = if a.class.is_symbol() {
            i
        } else if a.c == ' ' && self.at(a.next).is_some_and(|n| n.class.is_symbol()) {
            a.next
        } else {
            return None;
        };
        let end = self.run(start, |x| x.class.is_symbol());
        let tail_len = self.0.as_bytes()[end..].iter().take_while(|b| tail.contains(b)).count();
        Some(end + tail_len)
    }

    /// `\s*[\r\n]+|\s+(?!\S)|\s+` (without the first choice for GPT-2).
    fn whitespace(self, i: usize, newline_rule: bool) -> usize {
        let (mut end, mut last_start, mut after_newline) = (i, i, None);
        while let Some(a) = self.at(end) {
            if a.class != Class::Space {
                break;
            }
            if a.c == '\r' || a.c == '\n' {
                after_newline = Some(a.next);
            }
            last_start = end;
            end = a.next;
        }
        if let (true, Some(nl)) = (newline_rule, after_newline) {
            return nl;
        }
        if end == self.0.len() || last_start == i {
            return end;
        }
        last_start
    }
}

/// o200k's two word alternatives, tried in the order the regex tries them.
impl Scan<'_> {
    fn o200k_word(self, i: usize, a: At) -> Option<usize> {
        let after_prefix = Self::is_word_prefix(a).then_some(a.next);
        after_prefix
            .and_then(|p| self.upper_star_lower_plus(p))
            .or_else(|| self.upper_star_lower_plus(i))
            .or_else(|| after_prefix.and_then(|p| self.upper_plus_lower_star(p)))
            .or_else(|| self.upper_plus_lower_star(i))
    }

    /// `[U]*[W]+` where U and W share `Lm`, `Lo` and `M`. When the greedy
    /// `[U]*` leaves no W to follow, the regex backtracks to the last shared
    /// char inside the U run, and the match ends right after it.
    fn upper_star_lower_plus(self, start: usize) -> Option<usize> {
        let (mut end, mut after_shared) = (start, None);
        while let Some(a) = self.at(end) {
            if !a.class.is_o200k_upper() {
                break;
            }
            if a.class.is_o200k_lower() {
                after_shared = Some(a.next);
            }
            end = a.next;
        }
        match self.at(end) {
            Some(a) if a.class.is_o200k_lower() => Some(self.run(a.next, |x| x.class.is_o200k_lower())),
            _ => after_shared,
        }
    }

    /// `[U]+[W]*`.
    fn upper_plus_lower_star(self, start: usize) -> Option<usize> {
        let end = self.run(start, |x| x.class.is_o200k_upper());
        (end > start).then(|| self.run(end, |x| x.class.is_o200k_lower()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(p: Pattern, text: &str) -> Vec<&str> {
        p.pieces(text).collect()
    }

    const CL: Pattern = Pattern::Cl100k { max_digits: 3 };

    #[test]
    fn cl100k_words_numbers_and_contractions() {
        assert_eq!(split(CL, "Hello world's 12345!"), ["Hello", " world", "'s", " ", "123", "45", "!"]);
        assert_eq!(split(CL, "I'M here"), ["I", "'M", " here"]);
    }

    #[test]
    fn cl100k_whitespace_rules() {
        assert_eq!(split(CL, "a   b"), ["a", "  ", " b"]);
        assert_eq!(split(CL, "a \n\n  b"), ["a", " \n\n", " ", " b"]);
        assert_eq!(split(CL, "x   "), ["x", "   "]);
        assert_eq!(split(CL, "{\n  \"k\": 1}"), ["{\n", " ", " \"", "k", "\":", " ", "1", "}"]);
    }

    #[test]
    fn o200k_splits_camel_case_and_keeps_slash() {
        assert_eq!(split(Pattern::O200k, "HTTPServer fooBar"), ["HTTPServer", " foo", "Bar"]);
        assert_eq!(split(Pattern::O200k, "a//\nb"), ["a", "//\n", "b"]);
        assert_eq!(split(Pattern::O200k, "DON'T"), ["DON'T"]);
    }

    #[test]
    fn metaspace_words_cut_before_each_space_run() {
        assert_eq!(split(Pattern::MetaspaceWords, "▁Hello▁▁world▁"), ["▁Hello", "▁▁world", "▁"]);
        assert_eq!(split(Pattern::MetaspaceWords, "a▁b"), ["a", "▁b"]);
    }

    #[test]
    fn gpt2_spaces_bind_forward() {
        assert_eq!(split(Pattern::Gpt2, "hi  there 42x"), ["hi", " ", " there", " 42", "x"]);
    }

    #[test]
    fn isolated_digits_split_before_the_gpt2_rules() {
        let p = Pattern::Gpt2IsolatedDigits;
        assert_eq!(split(p, "hi  there 42x"), ["hi", " ", " there", " ", "4", "2", "x"]);
        // GPT-2 alone would give " ", " " here: the segment ends before the 7.
        assert_eq!(split(p, "a  7 b"), ["a", "  ", "7", " b"]);
        assert_eq!(split(p, "٣½x"), ["٣", "½", "x"]);
    }

    #[test]
    fn pieces_cover_the_text() {
        let text = "naïve café 日本語 🤖🤖 \u{301}x\r\n\t\t end ";
        for p in [CL, Pattern::O200k, Pattern::Gpt2, Pattern::Gpt2IsolatedDigits, Pattern::Cl100k { max_digits: 1 }] {
            assert_eq!(split(p, text).concat(), text);
        }
    }

    #[test]
    fn recognises_tiktoken_and_js_tiktoken_spellings() {
        assert_eq!(Pattern::from_regex(CL100K), Some(CL));
        let js = CL100K.replace("(?i:'s|'t|'re|'ve|'m|'ll|'d)", JS_CONTRACTIONS);
        assert_eq!(Pattern::from_regex(&js), Some(CL));
        assert_eq!(Pattern::from_regex("\\w+"), None);
    }
}
