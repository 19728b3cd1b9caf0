//! Every decoder on hostile bytes: the frame reader, zstd and lz4 payloads
//! (with and without a dictionary) and the bare-stream decoders. Any panic,
//! abort or out-of-bounds access is a finding; errors are the expected answer.
#![no_main]

use std::sync::OnceLock;

use edge_core::codec::{Algorithm, Codec, Dictionary};
use libfuzzer_sys::fuzz_target;

/// Output ceiling: large enough to decode real frames, small enough that a
/// bomb is refused long before it hurts the fuzzer.
const MAX_OUTPUT: u64 = 4 << 20;

fn dictionary() -> &'static Dictionary {
    static DICT: OnceLock<Dictionary> = OnceLock::new();
    DICT.get_or_init(|| {
        let samples: Vec<Vec<u8>> = (0..300)
            .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"t{}"}}}}"#, i % 13).into_bytes())
            .collect();
        Dictionary::train(&samples, 4096).expect("training on fixed samples works")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else { return };
    let mut codec = Codec::new();
    let _ = match mode % 6 {
        0 => codec.unpack(input, MAX_OUTPUT, None),
        1 => codec.unpack(input, MAX_OUTPUT, Some(dictionary())),
        2 => codec.decode_raw(Algorithm::Zstd, input, MAX_OUTPUT, None),
        3 => codec.decode_raw(Algorithm::Zstd, input, MAX_OUTPUT, Some(dictionary())),
        4 => codec.decode_raw(Algorithm::Lz4, input, MAX_OUTPUT, None),
        _ => Dictionary::from_bytes(input.to_vec()).map(|_| Vec::new()),
    };
});
