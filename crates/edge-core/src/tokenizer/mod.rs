//! Exact byte-level BPE tokenization: tiktoken vocabularies (cl100k_base,
//! o200k_base, ...) and Hugging Face `tokenizer.json` BPE models, so that
//! token counts match the cloud model and ids feed the local one.
//!
//! Vocabularies are data: the host reads them from files and hands the bytes
//! over; nothing is embedded. Text arrives as `&str` (valid UTF-8 by type);
//! raw bytes go through [`Tokenizer::encode_bytes`], which refuses invalid
//! UTF-8 with its offset rather than guessing.

mod bpe;
mod decode_table;
mod hash;
mod hf;
mod json;
mod model;
mod pretokenize;
mod ranks;
mod tiktoken;
mod truncate;
mod unicode;
mod unicode_tables;
mod vocab;

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod tests;

pub use hf::from_tokenizer_json;
pub use model::{MAX_PIECE_BYTES, Tokenizer};
pub use pretokenize::Pattern;
pub use tiktoken::{from_tiktoken, from_tiktoken_json};
pub use truncate::{Keep, Truncation};

/// Why a vocabulary could not be loaded or a text not encoded. Stable cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerError {
    /// The rank file or `tokenizer.json` is malformed; says where.
    InvalidVocabulary(String),
    /// The vocabulary uses a feature this core does not implement; names it.
    UnsupportedModel(String),
    /// `decode` met an id the vocabulary does not have.
    UnknownTokenId(u32),
    /// Bytes given as text are not UTF-8; the offset of the first bad byte.
    InvalidUtf8(u64),
    /// One piece is longer than [`MAX_PIECE_BYTES`]; its length.
    PieceTooLong(u64),
}

impl std::fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidVocabulary(what) => write!(f, "invalid vocabulary: {what}"),
            Self::UnsupportedModel(what) => write!(f, "unsupported tokenizer feature: {what}"),
            Self::UnknownTokenId(id) => write!(f, "token id {id} is not in the vocabulary"),
            Self::InvalidUtf8(at) => write!(f, "input is not UTF-8 (byte {at}); pass text or valid UTF-8"),
            Self::PieceTooLong(n) => write!(f, "a {n}-byte run without a split point exceeds {MAX_PIECE_BYTES} bytes"),
        }
    }
}

impl std::error::Error for TokenizerError {}

impl Tokenizer {
    /// [`Tokenizer::encode`] for bytes that should be UTF-8 text.
    pub fn encode_bytes(&self, bytes: &[u8], allow_special: bool) -> Result<Vec<u32>, TokenizerError> {
        self.encode(utf8(bytes)?, allow_special)
    }

    /// [`Tokenizer::count`] for bytes that should be UTF-8 text.
    pub fn count_bytes(&self, bytes: &[u8], allow_special: bool) -> Result<u64, TokenizerError> {
        self.count(utf8(bytes)?, allow_special)
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, TokenizerError> {
    std::str::from_utf8(bytes).map_err(|e| TokenizerError::InvalidUtf8(e.valid_up_to() as u64))
}
