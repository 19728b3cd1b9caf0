//! The codec: payloads packed into self-describing frames (see [`frame`]),
//! encoded as stored bytes, zstd (optionally with a trained [`Dictionary`])
//! or lz4. The payload after the header is a standard zstd or lz4 frame, so
//! `zstd -d` and `lz4 -d` read it once the header is stripped, and
//! [`Codec::decode_raw`] reads what those tools write.
//!
//! Unpacking always takes a ceiling on the output size and checks the
//! header's xxh32 checksum (of the payload, before decoding; version 1: of the
//! original, after) and length.

pub mod dictionary;
mod error;
pub mod frame;
mod lz4;
mod zstd;

pub use dictionary::Dictionary;
pub use error::CodecError;
pub use frame::{Algorithm, FrameError, Header};
pub use zstd::{DEFAULT_LEVEL as ZSTD_DEFAULT_LEVEL, LEVELS as ZSTD_LEVELS};

/// How to pack one payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackOptions {
    pub algorithm: Algorithm,
    /// zstd compression level; zstd's default (3) when `None`. lz4 and stored
    /// have a single level and ignore it.
    pub level: Option<i32>,
}

/// Packs and unpacks frames, keeping compression contexts between calls
/// (they are caches: output never depends on what came before).
#[derive(Default)]
pub struct Codec {
    zstd: zstd::ZstdContexts,
}

impl Codec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Packs `data` into a frame with the chosen algorithm.
    pub fn pack(&mut self, data: &[u8], options: PackOptions) -> Result<Vec<u8>, CodecError> {
        // Validate before compressing: a bad level should cost nothing.
        let zstd_level = match options.algorithm {
            Algorithm::Stored => return Ok(frame::store(data)),
            Algorithm::Zstd => Some(zstd::check_level(options.level.unwrap_or(zstd::DEFAULT_LEVEL))?),
            Algorithm::Lz4 => None,
        };
        let mut out = Vec::new();
        let checksum_at = frame::write_header(&header_for(data, options.algorithm, None), &mut out);
        let payload_at = out.len();
        match zstd_level {
            Some(level) => self.zstd.compress_into(data, level, None, &mut out)?,
            None => lz4::compress_into(data, &mut out)?,
        }
        frame::seal(&mut out, checksum_at, payload_at);
        Ok(out)
    }

    /// Packs `data` with zstd and `dictionary`; the frame records the dictionary id.
    pub fn pack_with_dictionary(
        &mut self,
        data: &[u8],
        level: Option<i32>,
        dictionary: &mut Dictionary,
    ) -> Result<Vec<u8>, CodecError> {
        let level = zstd::check_level(level.unwrap_or(zstd::DEFAULT_LEVEL))?;
        let header = header_for(data, Algorithm::Zstd, Some(dictionary.id()));
        let mut out = Vec::new();
        let checksum_at = frame::write_header(&header, &mut out);
        let payload_at = out.len();
        let cdict = dictionary.cdict(level)?;
        self.zstd.compress_into(data, level, Some(cdict), &mut out)?;
        frame::seal(&mut out, checksum_at, payload_at);
        Ok(out)
    }

    /// Unpacks a frame, refusing one that declares more than `max_output`
    /// original bytes. A frame packed with a dictionary needs that dictionary.
    pub fn unpack(
        &mut self,
        bytes: &[u8],
        max_output: u64,
        dictionary: Option<&Dictionary>,
    ) -> Result<Vec<u8>, CodecError> {
        let (header, payload) = frame::read_header(bytes, max_output)?;
        frame::check_payload(&header, payload)?;
        let ddict = match (header.dictionary_id, dictionary) {
            (None, _) => None,
            (Some(_), _) if header.algorithm != Algorithm::Zstd => {
                return Err(CodecError::DictionaryUnsupported(header.algorithm));
            }
            (Some(needed), None) => return Err(CodecError::DictionaryRequired(needed)),
            (Some(needed), Some(d)) if d.id() != needed => {
                return Err(CodecError::DictionaryMismatch { needed, given: d.id() });
            }
            (Some(_), Some(d)) => Some(d.ddict()),
        };
        let decoded = match header.algorithm {
            Algorithm::Stored => payload.to_vec(),
            Algorithm::Zstd => self.zstd.decompress_exact(payload, header.original_len, ddict)?,
            Algorithm::Lz4 => lz4::decompress_exact(payload, header.original_len)?,
        };
        frame::check_decoded(&header, &decoded)?;
        Ok(decoded)
    }

    /// Decodes a bare zstd or lz4 stream with no mcp-edge header (what the
    /// command-line tools and the napi engines write), refusing more than
    /// `max_output` bytes. zstd streams may need `dictionary`.
    pub fn decode_raw(
        &mut self,
        algorithm: Algorithm,
        bytes: &[u8],
        max_output: u64,
        dictionary: Option<&Dictionary>,
    ) -> Result<Vec<u8>, CodecError> {
        match algorithm {
            Algorithm::Stored if bytes.len() as u64 > max_output => Err(CodecError::OutputLimit(max_output)),
            Algorithm::Stored => Ok(bytes.to_vec()),
            Algorithm::Zstd => self.zstd.decompress_bounded(bytes, max_output, dictionary.map(Dictionary::as_bytes)),
            Algorithm::Lz4 if dictionary.is_some() => Err(CodecError::DictionaryUnsupported(Algorithm::Lz4)),
            Algorithm::Lz4 => lz4::decompress_bounded(bytes, max_output),
        }
    }
}

/// A header whose checksum is filled in by [`frame::seal`] once the payload is written.
fn header_for(data: &[u8], algorithm: Algorithm, dictionary_id: Option<u32>) -> Header {
    Header::new(algorithm, data.len() as u64, 0, dictionary_id)
}

/// Packs `data` into a frame with a fresh [`Codec`].
pub fn pack(data: &[u8], options: PackOptions) -> Result<Vec<u8>, CodecError> {
    Codec::new().pack(data, options)
}

/// Unpacks a frame packed without a dictionary, refusing more than `max_output` bytes.
pub fn unpack(bytes: &[u8], max_output: u64) -> Result<Vec<u8>, CodecError> {
    Codec::new().unpack(bytes, max_output, None)
}

/// Reads a frame's header without decoding its payload.
pub fn inspect(bytes: &[u8]) -> Result<Header, CodecError> {
    Ok(frame::read_header(bytes, u64::MAX)?.0)
}

#[cfg(test)]
mod tests;
