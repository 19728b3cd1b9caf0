//! xxh32 two ways, exported to JS for run.mjs: `scalar` is xxhash-rust (what
//! the frame checksum uses), `simd` keeps the four accumulator lanes in one
//! i32x4 (rotl = shl | shr). Both hash the first `len` bytes of a static buffer.

use core::arch::wasm32::{i32x4_add, i32x4_mul, i32x4_shl, u32x4, u32x4_extract_lane, u32x4_shr, u32x4_splat, v128, v128_load, v128_or};

const P1: u32 = 0x9E37_79B1;
const P2: u32 = 0x85EB_CA77;
const P3: u32 = 0xC2B2_AE3D;
const P4: u32 = 0x27D4_EB2F;
const P5: u32 = 0x1656_67B1;
const CAPACITY: usize = 1 << 20;

static mut BUFFER: [u8; CAPACITY] = [0; CAPACITY];

fn input(len: usize) -> &'static [u8] {
    // SAFETY: single-threaded wasm; JS writes the buffer only between calls.
    let whole: &[u8; CAPACITY] = unsafe { &*(&raw const BUFFER) };
    &whole[..len.min(CAPACITY)]
}

#[unsafe(no_mangle)]
pub extern "C" fn buffer() -> *mut u8 {
    (&raw mut BUFFER).cast()
}

#[unsafe(no_mangle)]
pub extern "C" fn scalar(len: usize) -> u32 {
    xxhash_rust::xxh32::xxh32(input(len), 0)
}

#[unsafe(no_mangle)]
pub extern "C" fn simd(len: usize) -> u32 {
    simd_xxh32(input(len))
}

#[inline(always)]
fn rotl(v: v128, r: u32) -> v128 {
    v128_or(i32x4_shl(v, r), u32x4_shr(v, 32 - r))
}

fn stripes(data: &[u8]) -> u32 {
    let (p1, p2) = (u32x4_splat(P1), u32x4_splat(P2));
    let mut acc = u32x4(P1.wrapping_add(P2), P2, 0, 0u32.wrapping_sub(P1));
    for stripe in data.chunks_exact(16) {
        // SAFETY: `stripe` is 16 readable bytes; v128_load allows any alignment.
        let lane = unsafe { v128_load(stripe.as_ptr().cast()) };
        acc = i32x4_mul(rotl(i32x4_add(acc, i32x4_mul(lane, p2)), 13), p1);
    }
    let a = [u32x4_extract_lane::<0>(acc), u32x4_extract_lane::<1>(acc), u32x4_extract_lane::<2>(acc), u32x4_extract_lane::<3>(acc)];
    a[0].rotate_left(1).wrapping_add(a[1].rotate_left(7)).wrapping_add(a[2].rotate_left(12)).wrapping_add(a[3].rotate_left(18))
}

fn simd_xxh32(data: &[u8]) -> u32 {
    let body = data.len() / 16 * 16;
    let mut h = if data.len() >= 16 { stripes(&data[..body]) } else { P5 };
    h = h.wrapping_add(data.len() as u32);
    let mut tail = data[body..].chunks_exact(4);
    for word in &mut tail {
        let w = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        h = h.wrapping_add(w.wrapping_mul(P3)).rotate_left(17).wrapping_mul(P4);
    }
    for &byte in tail.remainder() {
        h = h.wrapping_add(u32::from(byte).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}
