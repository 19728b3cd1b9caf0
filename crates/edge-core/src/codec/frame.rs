//! The mcp-edge frame: a small self-describing header in front of a payload.
//!
//! A reader never guesses what it holds. The header says the format version,
//! the algorithm, the original length and a checksum;
//! the payload after it is a standard stream of that algorithm (a raw zstd or
//! lz4 frame), so the reference command-line tools read it once the header is
//! stripped.
//!
//! Writers emit version 2; readers accept versions 1 and 2. Both start with
//! the magic `MEDG` and the version byte, so a reader dispatches on byte 4.
//!
//! Version 2 (compact: 12 bytes for a 1 KB message, 16 with a dictionary id;
//! on the small messages dictionaries are for, the header is a real share of
//! the frame):
//!
//! | offset | size | field                                              |
//! |--------|------|----------------------------------------------------|
//! | 0      | 4    | magic `MEDG`                                       |
//! | 4      | 1    | format version (2)                                 |
//! | 5      | 1    | low nibble: algorithm (0 stored, 1 zstd, 2 lz4); high nibble: flags (bit 4: dictionary id follows; others 0) |
//! | 6      | 1-10 | original length, unsigned LEB128, shortest form    |
//! | +0     | 4    | xxh32 (seed 0) of the payload (the bytes after the header), little-endian |
//! | +4     | 4    | dictionary id, only when the flag is set           |
//!
//! Version 1, little-endian, 20 bytes (+4 with a dictionary id):
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
//!
//! A version-2 zstd payload packed with a dictionary leaves the dictionary id
//! out of the zstd frame (the header carries it); `zstd -d -D dict` reads it.
//!
//! Version 2's checksum covers the payload as stored and sent, not the
//! original bytes (version 1's): corruption is caught before the decoder runs,
//! and hashing the compressed bytes costs a fraction of hashing the original
//! (about 9% of a 64 KB unpack before). The decoded length is still checked.

use xxhash_rust::xxh32::xxh32;

pub const MAGIC: [u8; 4] = *b"MEDG";
/// The version writers emit.
pub const FORMAT_VERSION: u8 = 2;
/// The first version, still read.
pub const FORMAT_VERSION_1: u8 = 1;
/// Version 1's fixed header length (without a dictionary id).
pub const HEADER_LEN_V1: usize = 20;
/// The shortest header of any version (v2, length below 128).
pub const MIN_HEADER_LEN: usize = 11;
const FLAG_DICTIONARY_V1: u8 = 0b0000_0001;
const FLAG_DICTIONARY_V2: u8 = 0b0001_0000;

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
    /// The format version the header is (or will be) written in.
    pub version: u8,
    pub algorithm: Algorithm,
    pub original_len: u64,
    pub checksum: u32,
    pub dictionary_id: Option<u32>,
}

impl Header {
    /// A header in the current format version.
    pub fn new(algorithm: Algorithm, original_len: u64, checksum: u32, dictionary_id: Option<u32>) -> Self {
        Header { version: FORMAT_VERSION, algorithm, original_len, checksum, dictionary_id }
    }

    /// Bytes the header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let dictionary = if self.dictionary_id.is_some() { 4 } else { 0 };
        if self.version == FORMAT_VERSION_1 {
            HEADER_LEN_V1 + dictionary
        } else {
            6 + leb128_len(self.original_len) + 4 + dictionary
        }
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

/// Appends the encoded header to `out`, in the header's own version, and
/// returns where its checksum field sits in `out` (see [`seal`]).
pub fn write_header(header: &Header, out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(&MAGIC);
    out.push(header.version);
    if header.version == FORMAT_VERSION_1 {
        out.push(header.algorithm.code());
        out.push(if header.dictionary_id.is_some() { FLAG_DICTIONARY_V1 } else { 0 });
        out.push(0);
        out.extend_from_slice(&header.original_len.to_le_bytes());
    } else {
        let flags = if header.dictionary_id.is_some() { FLAG_DICTIONARY_V2 } else { 0 };
        out.push(header.algorithm.code() | flags);
        write_leb128(header.original_len, out);
    }
    let checksum_at = out.len();
    out.extend_from_slice(&header.checksum.to_le_bytes());
    if let Some(id) = header.dictionary_id {
        out.extend_from_slice(&id.to_le_bytes());
    }
    checksum_at
}

/// Completes a version-2 frame whose payload now follows its header: writes
/// the payload's checksum into the field at `checksum_at`.
pub fn seal(frame: &mut [u8], checksum_at: usize, payload_at: usize) {
    let sum = checksum(&frame[payload_at..]);
    frame[checksum_at..checksum_at + 4].copy_from_slice(&sum.to_le_bytes());
}

/// Reads a header from the front of `bytes`, refusing frames that declare more
/// than `max_len` original bytes. Returns the header and the payload after it.
pub fn read_header(bytes: &[u8], max_len: u64) -> Result<(Header, &[u8]), FrameError> {
    need(bytes, MIN_HEADER_LEN)?;
    if bytes[0..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let (header, at) = match bytes[4] {
        FORMAT_VERSION_1 => read_v1(bytes)?,
        FORMAT_VERSION => read_v2(bytes)?,
        other => return Err(FrameError::UnsupportedVersion(other)),
    };
    if header.original_len > max_len {
        return Err(FrameError::TooLarge { declared: header.original_len, limit: max_len });
    }
    Ok((header, &bytes[at..]))
}

/// Version 1: fixed 20-byte layout. Returns the header and where the payload starts.
fn read_v1(bytes: &[u8]) -> Result<(Header, usize), FrameError> {
    need(bytes, HEADER_LEN_V1)?;
    let algorithm = Algorithm::from_code(bytes[5]).ok_or(FrameError::UnknownAlgorithm(bytes[5]))?;
    let flags = bytes[6];
    if flags & !FLAG_DICTIONARY_V1 != 0 || bytes[7] != 0 {
        return Err(FrameError::Corrupt("reserved header bits are set"));
    }
    let original_len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let checksum = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    let (dictionary_id, at) = read_dictionary_id(bytes, HEADER_LEN_V1, flags & FLAG_DICTIONARY_V1 != 0)?;
    Ok((Header { version: FORMAT_VERSION_1, algorithm, original_len, checksum, dictionary_id }, at))
}

/// Version 2: algorithm and flags in one byte, LEB128 length.
fn read_v2(bytes: &[u8]) -> Result<(Header, usize), FrameError> {
    let code = bytes[5] & 0x0f;
    let algorithm = Algorithm::from_code(code).ok_or(FrameError::UnknownAlgorithm(code))?;
    let flags = bytes[5] & 0xf0;
    if flags & !FLAG_DICTIONARY_V2 != 0 {
        return Err(FrameError::Corrupt("reserved header bits are set"));
    }
    let (original_len, at) = read_leb128(bytes, 6)?;
    need(bytes, at + 4)?;
    let checksum = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let (dictionary_id, at) = read_dictionary_id(bytes, at + 4, flags & FLAG_DICTIONARY_V2 != 0)?;
    Ok((Header { version: FORMAT_VERSION, algorithm, original_len, checksum, dictionary_id }, at))
}

fn read_dictionary_id(bytes: &[u8], at: usize, present: bool) -> Result<(Option<u32>, usize), FrameError> {
    if !present {
        return Ok((None, at));
    }
    need(bytes, at + 4)?;
    Ok((Some(u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))), at + 4))
}

fn leb128_len(mut value: u64) -> usize {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

fn write_leb128(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 at `at`; only the shortest encoding of a u64 is
/// accepted, so every length has exactly one header.
fn read_leb128(bytes: &[u8], at: usize) -> Result<(u64, usize), FrameError> {
    let mut value = 0u64;
    for i in 0..10 {
        need(bytes, at + i + 1)?;
        let byte = bytes[at + i];
        let bits = u64::from(byte & 0x7f);
        if i == 9 && byte > 1 {
            return Err(FrameError::Corrupt("original length does not fit 64 bits"));
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(FrameError::Corrupt("original length is not in its shortest form"));
            }
            return Ok((value, at + i + 1));
        }
    }
    Err(FrameError::Corrupt("original length does not fit 64 bits"))
}

/// Before decoding: a version-2 frame's payload must match its checksum.
pub fn check_payload(header: &Header, payload: &[u8]) -> Result<(), FrameError> {
    if header.version != FORMAT_VERSION_1 && checksum(payload) != header.checksum {
        return Err(FrameError::Corrupt("checksum mismatch"));
    }
    Ok(())
}

/// After decoding: the length the header promised and, for version 1, the
/// checksum of the original bytes.
pub fn check_decoded(header: &Header, decoded: &[u8]) -> Result<(), FrameError> {
    if decoded.len() as u64 != header.original_len {
        return Err(FrameError::Corrupt("decoded length differs from the header"));
    }
    if header.version == FORMAT_VERSION_1 && checksum(decoded) != header.checksum {
        return Err(FrameError::Corrupt("checksum mismatch"));
    }
    Ok(())
}

/// Wraps `bytes` unchanged in a frame (algorithm `Stored`; payload and original are the same bytes).
pub fn store(bytes: &[u8]) -> Vec<u8> {
    let header = Header::new(Algorithm::Stored, bytes.len() as u64, checksum(bytes), None);
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
    check_payload(&header, payload)?;
    check_decoded(&header, payload)?;
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

    fn header(version: u8, original_len: u64, dictionary_id: Option<u32>) -> Header {
        Header { version, algorithm: Algorithm::Zstd, original_len, checksum: 0xdead_beef, dictionary_id }
    }

    #[test]
    fn stored_round_trip_keeps_bytes() {
        for input in [&b""[..], b"x", b"hello, edge"] {
            let frame = store(input);
            assert_eq!(frame.len(), 11 + input.len());
            assert_eq!(unstore(&frame, 1 << 20).unwrap(), input);
        }
    }

    #[test]
    fn headers_of_both_versions_round_trip() {
        let lengths = [0, 1, 127, 128, 1079, 16_383, 16_384, u32::MAX as u64, u64::MAX];
        for version in [FORMAT_VERSION_1, FORMAT_VERSION] {
            for len in lengths {
                for dictionary_id in [None, Some(77)] {
                    let header = header(version, len, dictionary_id);
                    let mut out = Vec::new();
                    write_header(&header, &mut out);
                    assert_eq!(out.len(), header.encoded_len());
                    out.extend_from_slice(b"payload");
                    let (read, payload) = read_header(&out, u64::MAX).unwrap();
                    assert_eq!(read, header);
                    assert_eq!(payload, b"payload");
                }
            }
        }
    }

    #[test]
    fn version_2_is_compact() {
        assert_eq!(header(FORMAT_VERSION, 1079, None).encoded_len(), 12);
        assert_eq!(header(FORMAT_VERSION, 1079, Some(1)).encoded_len(), 16);
        assert_eq!(header(FORMAT_VERSION, u64::MAX, Some(1)).encoded_len(), 24);
        assert_eq!(header(FORMAT_VERSION_1, 1079, Some(1)).encoded_len(), 24);
    }

    #[test]
    fn length_must_be_shortest_leb128() {
        // 5 encoded as two bytes (0x85 0x00) is the same number, spelled twice: refused.
        let mut frame = vec![b'M', b'E', b'D', b'G', 2, 1, 0x85, 0x00, 0, 0, 0, 0];
        assert_eq!(read_header(&frame, u64::MAX).unwrap_err(), FrameError::Corrupt("original length is not in its shortest form"));
        frame.splice(6..8, [0x05]);
        assert_eq!(read_header(&frame, u64::MAX).unwrap().0.original_len, 5);
        let too_long = [b'M', b'E', b'D', b'G', 2, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0];
        assert_eq!(read_header(&too_long, u64::MAX).unwrap_err(), FrameError::Corrupt("original length does not fit 64 bits"));
        let endless = [b'M', b'E', b'D', b'G', 2, 1, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(read_header(&endless, u64::MAX).unwrap_err(), FrameError::Truncated { .. }));
    }

    #[test]
    fn every_cut_of_a_header_is_truncated() {
        for version in [FORMAT_VERSION_1, FORMAT_VERSION] {
            let mut out = Vec::new();
            write_header(&header(version, 300_000, Some(9)), &mut out);
            for cut in 0..out.len() {
                assert!(matches!(read_header(&out[..cut], u64::MAX), Err(FrameError::Truncated { .. })), "v{version} cut {cut}");
            }
        }
    }

    #[test]
    fn rejects_foreign_and_truncated_input() {
        assert_eq!(read_header(b"MEDG", 10).unwrap_err(), FrameError::Truncated { needed: 11, got: 4 });
        let mut frame = store(b"abc");
        frame[0] = b'X';
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::BadMagic);
    }

    #[test]
    fn rejects_declared_length_above_limit() {
        let frame = store(&[7u8; 100]);
        assert_eq!(unstore(&frame, 99).unwrap_err(), FrameError::TooLarge { declared: 100, limit: 99 });
    }

    #[test]
    fn detects_flipped_payload_bit() {
        let mut frame = store(b"the quick brown fox");
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert_eq!(unstore(&frame, 1 << 20).unwrap_err(), FrameError::Corrupt("checksum mismatch"));
    }

    #[test]
    fn rejects_unknown_version_algorithm_and_flags() {
        let mut frame = store(b"abc");
        frame[4] = 9;
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::UnsupportedVersion(9));
        let mut frame = store(b"abc");
        frame[5] = 0x0c;
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::UnknownAlgorithm(12));
        frame[5] = 0x20;
        assert_eq!(read_header(&frame, 10).unwrap_err(), FrameError::Corrupt("reserved header bits are set"));
        let mut v1 = Vec::new();
        write_header(&header(FORMAT_VERSION_1, 3, None), &mut v1);
        v1[5] = 200;
        assert_eq!(read_header(&v1, 10).unwrap_err(), FrameError::UnknownAlgorithm(200));
    }
}
