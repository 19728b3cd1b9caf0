//! Character classes for the pre-tokenizer: the few Unicode properties that the
//! tiktoken and Hugging Face split patterns test, looked up without a regex engine.

use super::unicode_tables::{RUN_CLASSES, RUN_STARTS};

/// The class of one code point, as the split patterns see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Class {
    /// Anything else: punctuation, symbols, controls, emoji, unassigned.
    Other = 0,
    /// Unicode `White_Space` (what `\s` matches).
    Space = 1,
    /// `Lu` or `Lt`.
    Upper = 2,
    /// `Ll`.
    Lower = 3,
    /// `Lm` or `Lo` (CJK ideographs, kana, modifier letters).
    OtherLetter = 4,
    /// `M`: combining marks. Not a letter for `\p{L}`.
    Mark = 5,
    /// `N`: digits and other numbers.
    Number = 6,
}

impl Class {
    /// `\p{L}`.
    #[inline]
    pub fn is_letter(self) -> bool {
        matches!(self, Class::Upper | Class::Lower | Class::OtherLetter)
    }

    /// o200k's `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]`.
    #[inline]
    pub fn is_o200k_upper(self) -> bool {
        matches!(self, Class::Upper | Class::OtherLetter | Class::Mark)
    }

    /// o200k's `[\p{Ll}\p{Lm}\p{Lo}\p{M}]`.
    #[inline]
    pub fn is_o200k_lower(self) -> bool {
        matches!(self, Class::Lower | Class::OtherLetter | Class::Mark)
    }

    /// `[^\s\p{L}\p{N}]`: punctuation, symbols, marks, controls.
    #[inline]
    pub fn is_symbol(self) -> bool {
        matches!(self, Class::Other | Class::Mark)
    }
}

const fn ascii_table() -> [Class; 128] {
    let mut t = [Class::Other; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        t[i] = if b.is_ascii_uppercase() {
            Class::Upper
        } else if b.is_ascii_lowercase() {
            Class::Lower
        } else if b.is_ascii_digit() {
            Class::Number
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            Class::Space
        } else {
            Class::Other
        };
        i += 1;
    }
    t
}

static ASCII: [Class; 128] = ascii_table();

/// The class of `c`: a table for ASCII, a binary search over runs otherwise.
#[inline]
pub fn class_of(c: char) -> Class {
    let cp = c as u32;
    if cp < 128 {
        return ASCII[cp as usize];
    }
    let run = RUN_STARTS.partition_point(|&start| start <= cp) - 1;
    match RUN_CLASSES[run] {
        1 => Class::Space,
        2 => Class::Upper,
        3 => Class::Lower,
        4 => Class::OtherLetter,
        5 => Class::Mark,
        6 => Class::Number,
        _ => Class::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_known_characters() {
        assert_eq!(class_of('a'), Class::Lower);
        assert_eq!(class_of('Z'), Class::Upper);
        assert_eq!(class_of('7'), Class::Number);
        assert_eq!(class_of('\u{a0}'), Class::Space);
        assert_eq!(class_of('\u{3000}'), Class::Space);
        assert_eq!(class_of('é'), Class::Lower);
        assert_eq!(class_of('Ǆ'), Class::Upper);
        assert_eq!(class_of('ǅ'), Class::Upper, "Lt counts with Lu");
        assert_eq!(class_of('日'), Class::OtherLetter);
        assert_eq!(class_of('\u{301}'), Class::Mark);
        assert_eq!(class_of('٣'), Class::Number);
        assert_eq!(class_of('🤖'), Class::Other);
        assert_eq!(class_of('\u{10ffff}'), Class::Other);
    }

    #[test]
    fn ascii_table_agrees_with_the_generated_runs() {
        for b in 0u8..128 {
            let run = RUN_STARTS.partition_point(|&s| s <= b as u32) - 1;
            assert_eq!(ASCII[b as usize] as u8, RUN_CLASSES[run], "byte {b:#x}");
        }
    }
}
