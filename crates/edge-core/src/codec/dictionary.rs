//! zstd dictionaries for small messages. MCP messages of 0.5-4 KB share most
//! of their bytes (JSON-RPC envelope, method names, schema keys); a dictionary
//! trained on samples lets each message refer to them instead of spelling
//! them out. Training is deterministic: same samples, same dictionary.
//!
//! Dictionaries are standard zstd dictionaries (the same bytes `zstd --train`
//! writes and `zstd -D` / zstd-napi load), and always carry a non-zero id,
//! which frames record so a reader knows which one it needs.

use zstd_safe::{CDict, DDict};

use super::error::CodecError;

/// Bounds on a trained dictionary's size, in bytes.
pub const MIN_DICTIONARY_SIZE: usize = 256;
pub const MAX_DICTIONARY_SIZE: usize = 1 << 20;
/// How many prepared compression dictionaries (one per level) are kept.
const CDICT_CACHE: usize = 2;

/// A loaded zstd dictionary, ready to compress and decompress with.
pub struct Dictionary {
    bytes: Vec<u8>,
    id: u32,
    ddict: DDict<'static>,
    /// Prepared compression dictionaries by level, most recent last.
    cdicts: Vec<(i32, CDict<'static>)>,
}

impl core::fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dictionary").field("id", &self.id).field("len", &self.bytes.len()).finish()
    }
}

impl Dictionary {
    /// Trains a dictionary of at most `max_size` bytes from sample messages.
    pub fn train<S: AsRef<[u8]>>(samples: &[S], max_size: usize) -> Result<Self, CodecError> {
        if !(MIN_DICTIONARY_SIZE..=MAX_DICTIONARY_SIZE).contains(&max_size) {
            return Err(CodecError::Dictionary("max size must be between 256 bytes and 1 MiB"));
        }
        let sizes: Vec<usize> = samples.iter().map(|s| s.as_ref().len()).collect();
        let mut joined = Vec::with_capacity(sizes.iter().sum());
        for sample in samples {
            joined.extend_from_slice(sample.as_ref());
        }
        let mut bytes = Vec::with_capacity(max_size);
        zstd_safe::train_from_buffer(&mut bytes, &joined, &sizes)
            .map_err(|code| CodecError::Dictionary(zstd_safe::get_error_name(code)))?;
        Self::from_bytes(bytes)
    }

    /// Loads a dictionary from its bytes (from [`Dictionary::as_bytes`] or
    /// from `zstd --train`).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CodecError> {
        let id = zstd_safe::get_dict_id(&bytes)
            .ok_or(CodecError::Dictionary("not a zstd dictionary with an id; train one first"))?
            .get();
        let ddict = DDict::try_create(&bytes).ok_or(CodecError::Dictionary("zstd dictionary tables are corrupt"))?;
        Ok(Dictionary { bytes, id, ddict, cdicts: Vec::new() })
    }

    /// The id that frames packed with this dictionary carry.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The dictionary's bytes, to persist or to hand to another zstd engine.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn ddict(&self) -> &DDict<'static> {
        &self.ddict
    }

    /// The prepared compression dictionary for `level`, built on first use.
    pub(crate) fn cdict(&mut self, level: i32) -> Result<&CDict<'static>, CodecError> {
        if let Some(at) = self.cdicts.iter().position(|(l, _)| *l == level) {
            let entry = self.cdicts.remove(at);
            self.cdicts.push(entry);
        } else {
            let cdict = CDict::try_create(&self.bytes, level)
                .ok_or(CodecError::Dictionary("zstd dictionary could not be prepared for compression"))?;
            if self.cdicts.len() == CDICT_CACHE {
                self.cdicts.remove(0);
            }
            self.cdicts.push((level, cdict));
        }
        Ok(&self.cdicts.last().expect("pushed above").1)
    }
}
