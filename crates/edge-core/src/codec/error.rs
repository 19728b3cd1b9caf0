//! Why a payload could not be packed or unpacked: stable cases that hosts map
//! to error codes. Every decoder failure lands here; nothing panics or traps.

use super::frame::{Algorithm, FrameError};

/// Why a payload could not be packed or unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The frame header is unreadable, or the decoded bytes contradict it.
    Frame(FrameError),
    /// The algorithm is known but not compiled into this build.
    UnsupportedAlgorithm(Algorithm),
    /// The compression level is outside what the algorithm accepts.
    InvalidLevel(i32),
    /// The compressed payload does not decode (corrupt or truncated stream).
    Decode(&'static str),
    /// Decoding would produce more than the caller's ceiling; carries the ceiling.
    OutputLimit(u64),
    /// The frame was packed with this dictionary id and needs it to unpack.
    DictionaryRequired(u32),
    /// The frame needs dictionary `needed`, but dictionary `given` was supplied.
    DictionaryMismatch { needed: u32, given: u32 },
    /// A dictionary could not be trained or loaded.
    Dictionary(&'static str),
    /// The algorithm cannot use a dictionary (lz4 frames carry none).
    DictionaryUnsupported(Algorithm),
    /// Memory for the output could not be reserved.
    OutOfMemory(u64),
    /// The compressor itself failed (a bug, never expected on valid input).
    Compress(&'static str),
}

impl From<FrameError> for CodecError {
    fn from(err: FrameError) -> Self {
        CodecError::Frame(err)
    }
}

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CodecError::Frame(err) => err.fmt(f),
            CodecError::UnsupportedAlgorithm(a) => write!(f, "algorithm {a:?} is not in this build"),
            CodecError::InvalidLevel(l) => write!(f, "compression level {l} is out of range (zstd: -7..=22)"),
            CodecError::Decode(why) => write!(f, "payload does not decode: {why}"),
            CodecError::OutputLimit(limit) => {
                write!(f, "payload decodes to more than the limit of {limit} bytes; raise max-output if it is trusted")
            }
            CodecError::DictionaryRequired(id) => {
                write!(f, "frame was packed with dictionary {id}; unpack it with that dictionary")
            }
            CodecError::DictionaryMismatch { needed, given } => {
                write!(f, "frame needs dictionary {needed}, but dictionary {given} was given")
            }
            CodecError::Dictionary(why) => write!(f, "dictionary error: {why}"),
            CodecError::DictionaryUnsupported(a) => write!(f, "algorithm {a:?} cannot use a dictionary; use zstd"),
            CodecError::OutOfMemory(n) => write!(f, "could not reserve {n} bytes for the output"),
            CodecError::Compress(why) => write!(f, "compression failed: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}

/// Reserves exactly `len` bytes, as a typed error instead of an abort when the
/// allocator (in wasm: `memory.grow`) says no.
pub(crate) fn reserve(len: u64) -> Result<Vec<u8>, CodecError> {
    let n = usize::try_from(len).map_err(|_| CodecError::OutOfMemory(len))?;
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| CodecError::OutOfMemory(len))?;
    Ok(out)
}
