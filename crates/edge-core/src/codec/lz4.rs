//! lz4 through `lz4_flex` (pure Rust), writing the standard LZ4 frame format
//! that `lz4 -d` and lz4-napi read. `checked-decode` is on: the fast decoder
//! bounds-checks every copy, so hostile input is an error, not a bad read.

use std::io::{Read, Write};

use lz4_flex::frame::{BlockMode, BlockSize, Error as Lz4Error, FrameDecoder, FrameEncoder, FrameInfo};

use super::error::{CodecError, reserve};

/// Appends one standard LZ4 frame of `data` to `out`.
pub fn compress_into(data: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    // Linked 64 KB blocks: better ratio on long inputs than independent ones,
    // and a decoder needs only 64 KB of window (the reference CLI defaults to
    // 4 MB blocks, too much for a small device). The content size lets
    // `lz4 -d` preallocate.
    let info = FrameInfo::new()
        .block_size(BlockSize::Max64KB)
        .block_mode(BlockMode::Linked)
        .content_size(Some(data.len() as u64));
    let sink = std::mem::take(out);
    let mut encoder = FrameEncoder::with_frame_info(info, sink);
    encoder.write_all(data).map_err(|_| CodecError::Compress("lz4 frame write failed"))?;
    *out = encoder.finish().map_err(|_| CodecError::Compress("lz4 frame finish failed"))?;
    Ok(())
}

/// Stable reason for an lz4 decode failure.
fn reason(err: std::io::Error) -> CodecError {
    let reason = match Lz4Error::from(err) {
        Lz4Error::WrongMagicNumber => "lz4 frame has a wrong magic number",
        Lz4Error::HeaderChecksumError => "lz4 frame header checksum mismatch",
        Lz4Error::BlockChecksumError => "lz4 block checksum mismatch",
        Lz4Error::ContentChecksumError => "lz4 content checksum mismatch",
        Lz4Error::ContentLengthError { .. } => "lz4 content length differs from the frame header",
        Lz4Error::DictionaryNotSupported => "lz4 frames with a dictionary are not supported",
        Lz4Error::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => "lz4 stream is truncated",
        Lz4Error::UnsupportedBlocksize(_) | Lz4Error::UnsupportedVersion(_) => "lz4 frame uses an unsupported feature",
        _ => "lz4 stream is corrupt",
    };
    CodecError::Decode(reason)
}

/// Reads the decoder until end of stream, into `out`, never past `limit` bytes;
/// returns whether the stream had more bytes than that.
fn read_up_to(decoder: &mut impl Read, out: &mut Vec<u8>, limit: usize) -> Result<bool, CodecError> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let room = limit - out.len();
        let want = if room == 0 { 1 } else { room.min(chunk.len()) };
        let n = decoder.read(&mut chunk[..want]).map_err(reason)?;
        if n == 0 {
            return Ok(false);
        }
        if room == 0 {
            return Ok(true);
        }
        out.try_reserve(n).map_err(|_| CodecError::OutOfMemory(n as u64))?;
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Decodes a payload that must produce exactly `len` bytes, straight into
/// the output buffer (no staging copy).
pub fn decompress_exact(payload: &[u8], len: u64) -> Result<Vec<u8>, CodecError> {
    if !ends_with_end_mark(payload) {
        return Err(CodecError::Decode("lz4 stream is truncated (no end mark)"));
    }
    let mut out = reserve(len)?;
    out.resize(out.capacity().min(len as usize), 0);
    let mut decoder = FrameDecoder::new(payload);
    let mut filled = 0;
    while filled < out.len() {
        let n = decoder.read(&mut out[filled..]).map_err(reason)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    out.truncate(filled);
    let mut probe = [0u8; 1];
    if decoder.read(&mut probe).map_err(reason)? != 0 {
        return Err(CodecError::Decode("lz4 stream is longer than the frame header says"));
    }
    Ok(out)
}

/// Whether `payload` is exactly one LZ4 frame whose blocks end with the end
/// mark. lz4_flex accepts a stream cut right before the end mark; `lz4 -d`
/// does not, and a frame of ours must not either. Walks only the block sizes.
fn ends_with_end_mark(payload: &[u8]) -> bool {
    let (Some(&flg), true) = (payload.get(4), payload.len() >= 7) else { return false };
    let block_checksum = if flg & 0x10 != 0 { 4 } else { 0 };
    let mut at = 7 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 };
    // Each block takes at least 4 bytes, so this loop is bounded by the input.
    loop {
        let Some(size) = payload.get(at..at + 4) else { return false };
        let size = u32::from_le_bytes(size.try_into().expect("4 bytes")) & 0x7fff_ffff;
        at += 4;
        if size == 0 {
            let tail = if flg & 0x04 != 0 { 4 } else { 0 };
            return at + tail == payload.len();
        }
        at = at.saturating_add(size as usize + block_checksum);
    }
}

/// Decodes a bare LZ4 stream (as the `lz4` tool writes), refusing more than `max` bytes.
pub fn decompress_bounded(data: &[u8], max: u64) -> Result<Vec<u8>, CodecError> {
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let mut decoder = FrameDecoder::new(data);
    if read_up_to(&mut decoder, &mut out, limit)? {
        return Err(CodecError::OutputLimit(max));
    }
    if out.is_empty() && data.is_empty() {
        return Err(CodecError::Decode("lz4 stream is empty"));
    }
    Ok(out)
}
