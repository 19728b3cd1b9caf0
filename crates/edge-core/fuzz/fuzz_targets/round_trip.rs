//! Whatever goes in comes back out, for every algorithm and a spread of levels.
#![no_main]

use edge_core::codec::{Algorithm, Codec, PackOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else { return };
    let algorithm = [Algorithm::Stored, Algorithm::Zstd, Algorithm::Lz4][usize::from(mode % 3)];
    let level = Some(i32::from(mode / 3 % 20) - 1);
    let mut codec = Codec::new();
    let frame = codec.pack(input, PackOptions { algorithm, level }).expect("valid levels pack");
    let back = codec.unpack(&frame, input.len() as u64, None).expect("own frames unpack");
    assert_eq!(back, input);
});
