//! The codec: payloads packed into self-describing frames (see [`frame`]).
//!
//! Today it stores bytes as they are; zstd and lz4 slot in behind the same
//! `pack` / `unpack` pair, so callers never change.

pub mod frame;

pub use frame::{Algorithm, FrameError, Header};

/// How to pack one payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackOptions {
    pub algorithm: Algorithm,
    /// Compression level; the algorithm's default when `None`.
    pub level: Option<i32>,
}

/// Why a payload could not be packed or unpacked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The frame itself is unreadable.
    Frame(FrameError),
    /// The algorithm is known but not compiled into this build.
    UnsupportedAlgorithm(Algorithm),
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
        }
    }
}

/// Packs `data` into a frame with the chosen algorithm.
pub fn pack(data: &[u8], options: PackOptions) -> Result<Vec<u8>, CodecError> {
    match options.algorithm {
        Algorithm::Stored => Ok(frame::store(data)),
        other => Err(CodecError::UnsupportedAlgorithm(other)),
    }
}

/// Unpacks a frame, refusing more than `max_output` original bytes.
pub fn unpack(bytes: &[u8], max_output: u64) -> Result<Vec<u8>, CodecError> {
    let (header, _) = frame::read_header(bytes, max_output)?;
    match header.algorithm {
        Algorithm::Stored => Ok(frame::unstore(bytes, max_output)?),
        other => Err(CodecError::UnsupportedAlgorithm(other)),
    }
}

/// Reads a frame's header without decoding its payload.
pub fn inspect(bytes: &[u8]) -> Result<Header, CodecError> {
    Ok(frame::read_header(bytes, u64::MAX)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_pack_unpack_round_trip() {
        let opts = PackOptions { algorithm: Algorithm::Stored, level: None };
        let frame = pack(b"edge", opts).unwrap();
        assert_eq!(inspect(&frame).unwrap().original_len, 4);
        assert_eq!(unpack(&frame, 4).unwrap(), b"edge");
        assert!(matches!(unpack(&frame, 3), Err(CodecError::Frame(FrameError::TooLarge { .. }))));
    }
}
