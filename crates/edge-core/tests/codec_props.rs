//! Property tests of the codec: random inputs through every algorithm and
//! zstd level, plus the shapes that break codecs (empty, one byte,
//! incompressible, highly repetitive, 64 MB).

use edge_core::codec::{Algorithm, Codec, CodecError, PackOptions, inspect};
use proptest::prelude::*;

fn round_trip(codec: &mut Codec, data: &[u8], algorithm: Algorithm, level: Option<i32>) -> Vec<u8> {
    let frame = codec.pack(data, PackOptions { algorithm, level }).unwrap();
    let header = inspect(&frame).unwrap();
    assert_eq!(header.original_len, data.len() as u64);
    let back = codec.unpack(&frame, data.len() as u64, None).unwrap();
    assert_eq!(back, data, "{algorithm:?} level {level:?}");
    frame
}

/// Bytes from a tiny xorshift: incompressible, and reproducible without a dependency.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_round_trip_every_algorithm(data in proptest::collection::vec(any::<u8>(), 0..20_000), level in 1i32..=19) {
        let mut codec = Codec::new();
        for algorithm in [Algorithm::Stored, Algorithm::Zstd, Algorithm::Lz4] {
            round_trip(&mut codec, &data, algorithm, Some(level));
        }
    }

    #[test]
    fn repetitive_text_round_trips_and_shrinks(unit in "[a-z{}\":,]{1,40}", reps in 1usize..3000) {
        let data = unit.repeat(reps).into_bytes();
        let mut codec = Codec::new();
        for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
            let frame = round_trip(&mut codec, &data, algorithm, None);
            if data.len() > 4096 {
                prop_assert!(frame.len() < data.len() / 8);
            }
        }
    }

    #[test]
    fn any_bytes_never_panic_the_decoders(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut codec = Codec::new();
        let _ = codec.unpack(&data, 1 << 20, None);
        for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
            let _ = codec.decode_raw(algorithm, &data, 1 << 20, None);
        }
    }
}

#[test]
fn every_zstd_level_round_trips() {
    let data = noise(3000, 9).iter().chain(b"{\"jsonrpc\":\"2.0\"}".repeat(200).iter()).copied().collect::<Vec<_>>();
    let mut codec = Codec::new();
    let mut sizes = Vec::new();
    for level in -7..=22 {
        sizes.push(round_trip(&mut codec, &data, Algorithm::Zstd, Some(level)).len());
    }
    assert!(sizes[7 + 19] <= sizes[7 + 1], "level 19 should not be larger than level 1: {sizes:?}");
}

#[test]
fn empty_and_one_byte() {
    let mut codec = Codec::new();
    for algorithm in [Algorithm::Stored, Algorithm::Zstd, Algorithm::Lz4] {
        round_trip(&mut codec, b"", algorithm, None);
        round_trip(&mut codec, b"x", algorithm, None);
        round_trip(&mut codec, &[0], algorithm, Some(19));
    }
}

#[test]
fn incompressible_input_grows_by_a_bounded_amount() {
    let data = noise(1 << 20, 3);
    let mut codec = Codec::new();
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = round_trip(&mut codec, &data, algorithm, None);
        assert!(frame.len() < data.len() + data.len() / 100 + 64, "{algorithm:?}: {}", frame.len());
    }
}

#[test]
fn sixty_four_megabytes_round_trip_and_respect_the_ceiling() {
    let mut data = noise(1 << 20, 5);
    let text = b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n".repeat(1 << 14);
    while data.len() < 64 << 20 {
        data.extend_from_slice(&text);
    }
    data.truncate(64 << 20);
    let mut codec = Codec::new();
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = round_trip(&mut codec, &data, algorithm, Some(1));
        let err = codec.unpack(&frame, (64 << 20) - 1, None).unwrap_err();
        assert!(matches!(err, CodecError::Frame(_)), "{err:?}");
        let raw = &frame[inspect(&frame).unwrap().encoded_len()..];
        assert_eq!(codec.decode_raw(algorithm, raw, (64 << 20) - 1, None), Err(CodecError::OutputLimit((64 << 20) - 1)));
    }
}

/// A tiny zstd stream that claims nothing about its size but expands far
/// beyond the ceiling (a decompression bomb) is refused, not allocated.
#[test]
fn zstd_bomb_without_content_size_is_refused() {
    let zeros = vec![0u8; 8 << 20];
    let mut cctx = zstd_safe::CCtx::create();
    cctx.set_parameter(zstd_safe::CParameter::ContentSizeFlag(false)).unwrap();
    let mut bomb = Vec::with_capacity(zstd_safe::compress_bound(zeros.len()));
    cctx.compress2(&mut bomb, &zeros).unwrap();
    assert!(bomb.len() < 2048);
    let mut codec = Codec::new();
    assert_eq!(codec.decode_raw(Algorithm::Zstd, &bomb, 1 << 20, None), Err(CodecError::OutputLimit(1 << 20)));
    assert_eq!(codec.decode_raw(Algorithm::Zstd, &bomb, 8 << 20, None).unwrap().len(), 8 << 20);
}
