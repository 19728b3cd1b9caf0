//! The mcp-edge frame: a small self-describing header in front of a payload.
//!
//! A reader never guesses what it holds. The header says the format version,
//! the algorithm, the original length and a checksum of the original bytes;
//! the payload after it is a standard stream of that algorithm (a raw zstd or
//! lz4 frame), so the reference command-line tools read it once the header is
//! stripped.
//!
//! Layout, little-endian, 20 bytes (+4 with a dictionary id):
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | magic `MEDG`                            |
//! | 4      | 1    | format version (1)                      |
//! | 5      | 1    | algorithm (0 stored, 1 zstd, 2 lz4)     |
//! | 6      | 1    | flags (bit 0: dictionary id follows)    |
//! | 7      | 1    | reserved, 0                             |
//! | 8      | 8    | original length in bytes                |
//! | 16     | 4    | xxh32 (seed 0) of the original bytes    |
//! | 20     | 4    | dictionary id, only when flag bit 0 set |

use xxhash_rust::xxh32::xxh32;

pub const MAGIC: [u8; 4] = *b"MEDG";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 20;
const FLAG_DICTIONARY: u8 = 0b0000_0001;

/// How the payload after the header is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// The original bytes, as they are.
    Stored,
    /// A standard zstd frame.
    Zstd,
    /// A standard lz4 frame.
    Lz4,
}

impl Algorithm {
    fn code(self) -> u8 {
        match self {
            Algorithm::Stored => 0,
            Algorithm::Zstd => 1,
            Algorithm::Lz4 => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Algorithm::Stored),
            1 => Some(Algorithm::Zstd),
            2 => Some(Algorithm::Lz4),
            _ => None,
        }
    }
}

/// What a frame's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub algorithm: Algorithm,
    pub original_len: u64,
    pub checksum: u32,
    pub dictionary_id: Option<u32>,
}

impl Header {
    /// Bytes the header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + if self.dictionary_id.is_some() { 4 } else { 0 }
    }
}

/// Why a frame could not be read. Stable: hosts map these to error codes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than a header needs.
    Truncated { needed: usize, got: usize },
    /// The first four bytes are not `MEDG`: not one of our frames.
    BadMagic,
    /// A format version this build does not know.
    UnsupportedVersion(u8),
    /// An algorithm code this build does not know.
    UnknownAlgorithm(u8),
    /// The original length is above the caller's limit (a decompression bomb guard).
    TooLarge { declared: u64, limit: u64 },
    /// The decoded bytes do not match the header's length or checksum.
    Corrupt(&'static str),
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Truncated { needed, got } => {
                write!(f, "frame truncated: needs {needed} bytes, got {got}")
            }
            FrameError::BadMagic => write!(f, "not an mcp-edge frame (bad magic)"),
            FrameError::UnsupportedVersion(v) => write!(f, "frame format version {v} is not supported"),
            FrameError::UnknownAlgorithm(a) => write!(f, "frame algorithm code {a} is unknown"),
            FrameError::TooLarge { declared, limit } => {
                write!(f, "frame declares {declared} bytes, above the limit of {limit}")
            }
            FrameError::Corrupt(what) => write!(f, "frame is corrupt: {what}"),
        }
    }
}

/// The xxh32 checksum that frames carry.
pub fn checksum(bytes: &[u8]) -> u32 {
    xxh32(bytes, 0)
}

/// Appends the encoded header to `out`.
pub fn write_header(header: &Header, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(header.algorithm.code());
    out.push(if header.dictionary_id.is_some() { FLAG_DICTIONARY } else { 0 });
    out.push(0);
    out.extend_from_slice(&header.original_len.to_le_bytes());
    out.extend_from_slice(&header.checksum.to_le_bytes());
    if let Some(id) = header.dictionary_id {
        out.extend_from_slice(&id.to_le_bytes());
    }
}

/// Reads a header from the front of `bytes`, refusing frames that declare more
/// than `max_len` original bytes. Returns the header and the payload after it.
pub fn read_header(bytes: &[u8], max_len: u64) -> Result<(Header, &[u8]), FrameError> {
    need(bytes, HEADER_LEN)?;
    if bytes[0..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(FrameError::UnsupportedVersion(bytes[4]));
    }
    let algorithm = Algorithm::from_code(bytes[5]).ok_or(FrameError::UnknownAlgorithm(bytes[5]))?;
    let flags = bytes[6];
    if flags & !FLAG_DICTIONARY != 0 || bytes[7] != 0 {
        return Err(FrameError::Corrupt("reserved header bits are set"));
    }
    let original_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    if original_len > max_len {
        return Err(FrameError::TooLarge { declared: original_len, limit: max_len });
    }
    let checksum = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let mut header_len = HEADER_LEN;
    let dictionary_id = if flags & FLAG_DICTIONARY != 0 {
        need(bytes, HEADER_LEN + 4)?;
        header_len += 4;
        Some(u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes")))
    } else {
        None
    };
    let header = Header { algorithm, original_len, checksum, dictionary_id };
    Ok((header, &bytes[header_len..]))
}

/// Checks decoded bytes against what the header promised.
pub fn verify(header: &Header, decoded: &[u8]) -> Result<(), FrameError> {
    if decoded.len() as u64 != header.original_len {
        return Err(FrameError::Corrupt("decoded length differs from the header"));
    }
    if checksum(decoded) != header.checksum {
        return Err(FrameError::Corrupt("checksum mismatch"));
    }
    Ok(())
}

/// Wraps `bytes` unchanged in a frame (algorithm `Stored`).
pub fn store(bytes: &[u8]) -> Vec<u8> {
    let header = Header {
        algorithm: Algorithm::Stored,
        original_len: bytes.len() as u64,
        checksum: checksum(bytes),
        dictionary_id: None,
    };
    let mut out = Vec::with_capacity(header.encoded_len() + bytes.len());
    write_header(&header, &mut out);
    out.extend_from_slice(bytes);
    out
}

/// Reads a `Stored` frame back, checking length and checksum.
pub fn unstore(frame: &[u8], max_len: u64) -> Result<Vec<u8>, FrameError> {
    let (header, payload) = read_header(frame, max_len)?;
    if header.algorithm != Algorithm::Stored {
        return Err(FrameError::Corrupt("not a stored frame"));
    }
    verify(&header, payload)?;
    Ok(payload.to_vec())
}

fn need(bytes: &[u8], needed: usize) -> Result<(), FrameError> {
    if bytes.len() < needed {
        return Err(FrameError::Truncated { needed, got: bytes.len() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_round_trip_keeps_bytes() {
        for input in [&b""[..], b"x", b"hello, edge"] {
            let frame = store(input);
            assert_eq!(frame.len(), HEADER_LEN + input.len());
            assert_eq!(unstore(&frame, 1 << 20).unwrap(), input);
        }
    }

    #[test]
    fn header_with_dictionary_round_trips() {
        let header = Header {
            algorithm: Algorithm::Zstd,
            original_len: 1234,
            checksum: 0xdead_beef,
            dictionary_id: Some(77),
        };
        let mut out = Vec::new();
        write_header(&header, &mut out);
        out.extend_from_slice(b"payload");
        let (read, payload) = read_header(&out, u64::MAX).unwrap();
        assert_eq!(read, header);
        assert_eq!(payload, b"payload");
    }

    #[test]
    fn rejects_foreign_and_truncated_input() {
        assert_eq!(read_header(b"MEDG", 10).unwrap_err(), FrameError::Truncated { needed: 20, got: 4 });
        let mut frame = store(b"abc");
        frame[0] = b'X';
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::BadMagic);
    }

    #[test]
    fn rejects_declared_length_above_limit() {
        let frame = store(&[7u8; 100]);
        assert_eq!(
            unstore(&frame, 99).unwrap_err(),
            FrameError::TooLarge { declared: 100, limit: 99 }
        );
    }

    #[test]
    fn detects_flipped_payload_bit() {
        let mut frame = store(b"the quick brown fox");
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert_eq!(unstore(&frame, 1 << 20).unwrap_err(), FrameError::Corrupt("checksum mismatch"));
    }

    #[test]
    fn rejects_unknown_version_and_algorithm() {
        let mut frame = store(b"abc");
        frame[4] = 9;
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::UnsupportedVersion(9));
        let mut frame = store(b"abc");
        frame[5] = 200;
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::UnknownAlgorithm(200));
    }
}
