//! zstd through the reference C library (zstd-sys), which also builds for
//! wasm32 with its own libc shim, so the bytes are exactly what `zstd` and
//! zstd-napi write and read.
//!
//! Contexts are reused between calls: allocating a level-3 context costs more
//! than compressing a 1 KB message.

use std::io::Cursor;

use zstd_safe::{CCtx, CDict, CParameter, DCtx, DDict, InBuffer, OutBuffer, ResetDirective};

use super::error::{CodecError, reserve};

/// The level used when the caller names none (zstd's own default).
pub const DEFAULT_LEVEL: i32 = 3;
/// Levels accepted: zstd's fast negative levels up to its ultra levels.
pub const LEVELS: core::ops::RangeInclusive<i32> = -7..=22;

/// Reusable zstd state: one compression and one decompression context.
#[derive(Default)]
pub struct ZstdContexts {
    cctx: Option<CCtx<'static>>,
    dctx: Option<DCtx<'static>>,
}

/// Maps a zstd error code to a stable, static reason.
fn reason(code: usize) -> &'static str {
    zstd_safe::get_error_name(code)
}

/// Checks that `level` is one zstd accepts.
pub fn check_level(level: i32) -> Result<i32, CodecError> {
    if LEVELS.contains(&level) { Ok(level) } else { Err(CodecError::InvalidLevel(level)) }
}

impl ZstdContexts {
    fn cctx(&mut self) -> Result<&mut CCtx<'static>, CodecError> {
        if self.cctx.is_none() {
            self.cctx = Some(CCtx::try_create().ok_or(CodecError::OutOfMemory(0))?);
        }
        Ok(self.cctx.as_mut().expect("created above"))
    }

    fn dctx(&mut self) -> Result<&mut DCtx<'static>, CodecError> {
        if self.dctx.is_none() {
            self.dctx = Some(DCtx::try_create().ok_or(CodecError::OutOfMemory(0))?);
        }
        Ok(self.dctx.as_mut().expect("created above"))
    }

    /// Appends one standard zstd frame of `data` to `out`.
    pub fn compress_into(
        &mut self,
        data: &[u8],
        level: i32,
        cdict: Option<&CDict<'static>>,
        out: &mut Vec<u8>,
    ) -> Result<(), CodecError> {
        let bound = zstd_safe::compress_bound(data.len());
        out.try_reserve_exact(bound).map_err(|_| CodecError::OutOfMemory(bound as u64))?;
        let start = out.len() as u64;
        let cctx = self.cctx()?;
        let mut cursor = Cursor::new(out);
        cursor.set_position(start);
        configure(cctx, level, cdict)?;
        let written = cctx.compress2(&mut cursor, data).map(|_| ()).map_err(compress_error);
        // Drop the reference now, so the context never points at a freed dictionary.
        cctx.reset(ResetDirective::Parameters).map_err(compress_error)?;
        written
    }

    /// Decodes a payload that must produce exactly `len` bytes (the frame
    /// header's promise); a stream longer than that fails instead of growing.
    pub fn decompress_exact(
        &mut self,
        payload: &[u8],
        len: u64,
        ddict: Option<&DDict<'static>>,
    ) -> Result<Vec<u8>, CodecError> {
        let mut out = reserve(len)?;
        let dctx = self.dctx()?;
        let result = match ddict {
            Some(ddict) => dctx.decompress_using_ddict(&mut out, payload, ddict),
            None => dctx.decompress(&mut out, payload),
        };
        result.map_err(|code| CodecError::Decode(reason(code)))?;
        Ok(out)
    }

    /// Decodes a bare zstd stream (one or more frames, as the `zstd` tool
    /// writes), refusing to produce more than `max` bytes.
    pub fn decompress_bounded(
        &mut self,
        data: &[u8],
        max: u64,
        dictionary: Option<&[u8]>,
    ) -> Result<Vec<u8>, CodecError> {
        if let Ok(Some(size)) = zstd_safe::get_frame_content_size(data) {
            if size > max {
                return Err(CodecError::OutputLimit(max));
            }
        }
        let dctx = self.dctx()?;
        dctx.reset(ResetDirective::SessionAndParameters).map_err(|c| CodecError::Decode(reason(c)))?;
        if let Some(dict) = dictionary {
            dctx.load_dictionary(dict).map_err(|c| CodecError::Dictionary(reason(c)))?;
        }
        let result = stream_bounded(dctx, data, max);
        // A loaded dictionary must not leak into the next call.
        let _ = dctx.reset(ResetDirective::SessionAndParameters);
        result
    }
}

fn compress_error(code: usize) -> CodecError {
    CodecError::Compress(reason(code))
}

/// Sets a fresh context up for one frame: at `level`, or with `cdict` (whose
/// own level applies). The frame header carries the dictionary id, so the zstd
/// frame does not repeat it (4 bytes of a ~230-byte dictionary frame).
fn configure(cctx: &mut CCtx<'static>, level: i32, cdict: Option<&CDict<'static>>) -> Result<(), CodecError> {
    cctx.reset(ResetDirective::SessionAndParameters).map_err(compress_error)?;
    match cdict {
        Some(cdict) => {
            cctx.ref_cdict(cdict).map_err(compress_error)?;
            cctx.set_parameter(CParameter::DictIdFlag(false)).map_err(compress_error)?;
        }
        None => {
            cctx.set_parameter(CParameter::CompressionLevel(level)).map_err(compress_error)?;
        }
    }
    Ok(())
}

/// The streaming loop behind [`ZstdContexts::decompress_bounded`]: grows the
/// output geometrically up to `max + 1` bytes; reaching `max + 1` means the
/// stream is larger than the caller allowed.
fn stream_bounded(dctx: &mut DCtx<'static>, data: &[u8], max: u64) -> Result<Vec<u8>, CodecError> {
    let ceiling = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let mut out: Vec<u8> = Vec::new();
    let mut input = InBuffer::around(data);
    loop {
        if out.len() == out.capacity() {
            if out.len() >= ceiling {
                return Err(CodecError::OutputLimit(max));
            }
            let want = (out.capacity().max(32 * 1024) * 2).min(ceiling) - out.len();
            out.try_reserve_exact(want).map_err(|_| CodecError::OutOfMemory(want as u64))?;
        }
        let (in_before, out_before) = (input.pos(), out.len());
        let mut output = OutBuffer::around_pos(&mut out, out_before);
        let hint = dctx.decompress_stream(&mut output, &mut input).map_err(|c| CodecError::Decode(reason(c)))?;
        let out_after = output.pos();
        let frame_open = hint != 0;
        if input.pos() == data.len() && !frame_open && out_after < ceiling {
            return if out_after as u64 > max { Err(CodecError::OutputLimit(max)) } else { Ok(out) };
        }
        if input.pos() == in_before && out_after == out_before && out_after < out.capacity() {
            return Err(CodecError::Decode("zstd stream is truncated"));
        }
    }
}
