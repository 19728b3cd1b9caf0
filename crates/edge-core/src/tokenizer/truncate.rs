//! Truncation to a token budget, cutting only on token boundaries.

use super::TokenizerError;
use super::model::Tokenizer;

const MAX_BACKOFF: usize = 32;

/// Which end of the text to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    First,
    Last,
}

/// A text cut to fit a budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The kept text.
    pub text: String,
    /// Tokens the kept text encodes to (at most the budget).
    pub tokens: u64,
    /// Whether anything was cut.
    pub truncated: bool,
}

impl Tokenizer {
    /// Keeps the first or last `max_tokens` tokens of `text`. The cut falls on a
    /// token boundary that is also a char boundary, so the result is text; and
    /// the result is re-counted, so it never encodes to more than the budget
    /// (a cut inside a piece can tokenize differently on its own).
    pub fn truncate(&self, text: &str, max_tokens: u64, keep: Keep, allow_special: bool) -> Result<Truncation, TokenizerError> {
        let ids = match keep {
            Keep::First => self.first_ids(text, max_tokens.saturating_add(1), allow_special)?,
            Keep::Last => self.encode(text, allow_special)?,
        };
        if ids.len() as u64 <= max_tokens {
            return Ok(Truncation { text: text.to_string(), tokens: ids.len() as u64, truncated: false });
        }
        // Each step drops one token; a char split costs at most three steps and
        // a re-count over budget is rare, so the bound only guards against a
        // pathological vocabulary turning this into quadratic work.
        let mut kept = max_tokens as usize;
        let lowest = kept.saturating_sub(MAX_BACKOFF);
        while kept > lowest {
            let slice = match keep {
                Keep::First => &ids[..kept],
                Keep::Last => &ids[ids.len() - kept..],
            };
            if let Some(cut) = self.text_of(slice, keep)? {
                let tokens = self.count(&cut, allow_special)?;
                if tokens <= max_tokens {
                    return Ok(Truncation { text: cut, tokens, truncated: true });
                }
            }
            kept -= 1;
        }
        Ok(Truncation { text: String::new(), tokens: 0, truncated: true })
    }


    /// At most `limit` ids from the start, without encoding the rest.
    fn first_ids(&self, text: &str, limit: u64, allow_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let mut out = Vec::new();
        self.each_token(text, allow_special, &mut |id| {
            out.push(id);
            (out.len() as u64) < limit
        })?;
        Ok(out)
    }

    /// The text of a run of ids, or `None` when its edge splits a char.
    fn text_of(&self, ids: &[u32], keep: Keep) -> Result<Option<String>, TokenizerError> {
        // A kept tail does not start at the text's start: no prepended space to strip.
        let bytes = match keep {
            Keep::First => self.decode(ids)?,
            Keep::Last => self.decode_raw(ids)?,
        };
        Ok(String::from_utf8(bytes).ok())
    }
}
