//! A small JSON reader for `tokenizer.json` and js-tiktoken's rank files.
//!
//! Only what those files need: values into a tree, strings fully unescaped.
//! serde_json would cost more in the component than this does, and the core
//! must read these files itself so `cargo test` and every host agree.

use std::borrow::Cow;

/// A parsed JSON value. Objects keep their order (merges and vocab do not care,
/// but error messages read better).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(f64),
    /// Borrowed from the input when it holds no escape: a rank file's ranks
    /// (1-2 MB in one string) are read where they lie, not copied.
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(String, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match *self {
            Json::Number(n) if n >= 0.0 && n <= u32::MAX as f64 && n.fract() == 0.0 => Some(n as u32),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Json::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

/// Deepest nesting accepted; tokenizer files nest a handful of levels.
const MAX_DEPTH: usize = 64;

/// Parses one JSON document. The error names the byte offset.
pub fn parse(text: &[u8]) -> Result<Json<'_>, String> {
    let mut p = Parser { b: text, i: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("trailing characters"));
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &str) -> String {
        format!("JSON: {what} at byte {}", self.i)
    }

    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        let ok = self.b[self.i..].starts_with(lit);
        if ok {
            self.i += lit.len();
        }
        ok
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.ws();
        match self.b.get(self.i) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') if self.eat(b"true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Json::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json<'a>, String> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.eat(b"}") {
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            if self.b.get(self.i) != Some(&b'"') {
                return Err(self.err("expected a key"));
            }
            let key = self.string()?.into_owned();
            self.ws();
            if !self.eat(b":") {
                return Err(self.err("expected ':'"));
            }
            members.push((key, self.value(depth + 1)?));
            self.ws();
            if self.eat(b"}") {
                return Ok(Json::Object(members));
            }
            if !self.eat(b",") {
                return Err(self.err("expected ',' or '}'"));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b"]") {
                return Ok(Json::Array(items));
            }
            if !self.eat(b",") {
                return Err(self.err("expected ',' or ']'"));
            }
        }
    }

    fn number(&mut self) -> Result<Json<'a>, String> {
        let start = self.i;
        while matches!(self.b.get(self.i), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).map_err(|_| self.err("bad number"))?;
        text.parse::<f64>().map(Json::Number).map_err(|_| self.err("bad number"))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.i += 1;
        let b = self.b;
        let run = plain_run(&b[self.i..]);
        if let Some(run) = run.filter(|&run| b[self.i + run] == b'"') {
            let text = std::str::from_utf8(&b[self.i..self.i + run]).map_err(|_| self.err("string is not UTF-8"))?;
            self.i += run + 1;
            return Ok(Cow::Borrowed(text));
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            let run = plain_run(&self.b[self.i..]);
            let Some(run) = run else { return Err(self.err("unterminated string")) };
            out.extend_from_slice(&self.b[self.i..self.i + run]);
            self.i += run;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map(Cow::Owned).map_err(|_| self.err("string is not UTF-8"));
                }
                b'\\' => self.escape(&mut out)?,
                _ => return Err(self.err("control character in string")),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let c = *self.b.get(self.i + 1).ok_or_else(|| self.err("unterminated escape"))?;
        self.i += 2;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode_escape(out),
            _ => return Err(self.err("unknown escape")),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.b.get(self.i..self.i + 4).ok_or_else(|| self.err("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    /// `\uXXXX`, joining surrogate pairs; a lone surrogate becomes U+FFFD.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let hi = self.hex4()?;
        let mut cp = hi;
        if (0xd800..0xdc00).contains(&hi) && self.b[self.i..].starts_with(b"\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xdc00..0xe000).contains(&lo) {
                cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
            } else {
                self.i = save;
            }
        }
        let c = char::from_u32(cp).unwrap_or('\u{fffd}');
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }
}

/// Where the first `"`, `\\` or control character of `text` is. Taken 8 bytes
/// per step: a rank file's `bpe_ranks` is one 1-2 MB string, scanned by the
/// first load of a vocabulary in the wasm engine's baseline code.
fn plain_run(text: &[u8]) -> Option<usize> {
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const ABOVE_CONTROL: u64 = u64::from_ne_bytes([0xe0; 8]);
    let mut chunks = text.chunks_exact(8);
    for (k, chunk) in (&mut chunks).enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let found = zero_bytes(word ^ QUOTES) | zero_bytes(word ^ BACKSLASHES) | zero_bytes(word & ABOVE_CONTROL);
        if found != 0 {
            return Some(8 * k + found.trailing_zeros() as usize / 8);
        }
    }
    let done = text.len() - chunks.remainder().len();
    chunks.remainder().iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|n| done + n)
}

/// The high bit of each byte of `word` that is zero, and no other bit (no
/// carry crosses a byte, so no false positives).
#[inline]
pub(super) fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & LOW7) + LOW7) | word) & !LOW7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_values_and_escapes() {
        let v = parse(br#"{"a": [1, -2.5e1, true, null], "s": "x\u00e9\ud83e\udd16\n\"", "o": {}}"#).unwrap();
        assert_eq!(v.get("a"), Some(&Json::Array(vec![Json::Number(1.0), Json::Number(-25.0), Json::Bool(true), Json::Null])));
        assert_eq!(v.get("s").and_then(Json::as_str), Some("xé🤖\n\""));
        assert_eq!(v.get("o"), Some(&Json::Object(vec![])));
    }

    #[test]
    fn plain_runs_end_at_the_first_quote_backslash_or_control_char() {
        let find = |text: &[u8]| text.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut text = b"abcdefghijklmnopqrstuvwxyz\xc3\xa9\x7f ".to_vec();
        assert_eq!(plain_run(&text), None);
        for (at, c) in [(0, b'"'), (7, b'\\'), (8, b'\n'), (15, 0), (17, 0x1f), (29, b'"')] {
            let was = std::mem::replace(&mut text[at], c);
            assert_eq!(plain_run(&text), find(&text), "{c:#x} at {at}");
            assert_eq!(plain_run(&text), Some(at));
            text[at] = was;
        }
    }

    #[test]
    fn rejects_malformed_documents_with_an_offset() {
        for bad in [&b"{"[..], b"[1,]", b"{\"a\" 1}", b"\"abc", b"[1] x", b"tru"] {
            assert!(parse(bad).is_err(), "{:?}", std::str::from_utf8(bad));
        }
        let deep = "[".repeat(1000);
        assert!(parse(deep.as_bytes()).unwrap_err().contains("deep"));
    }
}
