//! Adapter: the WIT `tokenizer` resource over `edge_core::tokenizer`.

use crate::Component;
use crate::bindings::exports::mcp_edge::core::tokenizer::{
    Guest, GuestTokenizer, Keep, SpecialToken, Tokenizer as TokenizerHandle, TokenizerError, Truncation,
};
use edge_core::tokenizer as core_tok;

impl Guest for Component {
    type Tokenizer = Tokenizer;
}

/// The resource's representation: the core tokenizer, owned.
pub struct Tokenizer(core_tok::Tokenizer);

impl GuestTokenizer for Tokenizer {
    fn from_tiktoken(ranks: Vec<u8>, pattern: String, special_tokens: Vec<SpecialToken>) -> Result<TokenizerHandle, TokenizerError> {
        let specials: Vec<(String, u32)> = special_tokens.into_iter().map(|s| (s.text, s.id)).collect();
        let tok = core_tok::from_tiktoken(&ranks, &pattern, &specials)?;
        Ok(TokenizerHandle::new(Tokenizer(tok)))
    }

    fn from_tiktoken_json(file: Vec<u8>) -> Result<TokenizerHandle, TokenizerError> {
        Ok(TokenizerHandle::new(Tokenizer(core_tok::from_tiktoken_json(&file)?)))
    }

    fn from_tokenizer_json(json: Vec<u8>) -> Result<TokenizerHandle, TokenizerError> {
        Ok(TokenizerHandle::new(Tokenizer(core_tok::from_tokenizer_json(&json)?)))
    }

    fn encode(&self, text: String, allow_special: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(self.0.encode(&text, allow_special)?)
    }

    fn encode_bytes(&self, bytes: Vec<u8>, allow_special: bool) -> Result<Vec<u32>, TokenizerError> {
        Ok(self.0.encode_bytes(&bytes, allow_special)?)
    }

    fn count(&self, text: String, allow_special: bool) -> Result<u64, TokenizerError> {
        Ok(self.0.count(&text, allow_special)?)
    }

    fn count_many(&self, texts: Vec<String>, allow_special: bool) -> Result<Vec<u64>, TokenizerError> {
        texts.iter().map(|t| self.0.count(t, allow_special).map_err(Into::into)).collect()
    }

    fn decode(&self, ids: Vec<u32>) -> Result<Vec<u8>, TokenizerError> {
        Ok(self.0.decode(&ids)?)
    }

    fn truncate(&self, text: String, max_tokens: u64, keep: Keep, allow_special: bool) -> Result<Truncation, TokenizerError> {
        let keep = match keep {
            Keep::First => core_tok::Keep::First,
            Keep::Last => core_tok::Keep::Last,
        };
        let t = self.0.truncate(&text, max_tokens, keep, allow_special)?;
        Ok(Truncation { text: t.text, tokens: t.tokens, truncated: t.truncated })
    }

    fn vocab_size(&self) -> u32 {
        self.0.vocab_size()
    }

    fn needs_nfc(&self) -> bool {
        self.0.needs_nfc()
    }

    fn special_tokens(&self) -> Vec<SpecialToken> {
        self.0.special_tokens().iter().map(|(text, id)| SpecialToken { text: text.clone(), id: *id }).collect()
    }
}

impl From<core_tok::TokenizerError> for TokenizerError {
    fn from(err: core_tok::TokenizerError) -> Self {
        use core_tok::TokenizerError as E;
        match err {
            E::InvalidVocabulary(what) => Self::InvalidVocabulary(what),
            E::UnsupportedModel(what) => Self::UnsupportedModel(what),
            E::UnknownTokenId(id) => Self::UnknownTokenId(id),
            E::InvalidUtf8(at) => Self::InvalidUtf8(at),
            E::PieceTooLong(n) => Self::PieceTooLong(n),
        }
    }
}
