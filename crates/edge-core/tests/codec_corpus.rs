//! The shared corpus (test/corpus/codec, see its MANIFEST.md): streams the
//! reference `zstd` and `lz4` tools wrote, a dictionary `zstd --train` made,
//! golden frames of our own, and the decoder regressions, replayed forever.

use std::path::PathBuf;

use edge_core::codec::{Algorithm, Codec, CodecError, Dictionary, inspect};

const MAX: u64 = 16 << 20;

fn corpus(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/corpus/codec").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn reads_what_the_zstd_and_lz4_tools_wrote() {
    let mut codec = Codec::new();
    let traffic = corpus("traffic.jsonl");
    let noise = corpus("noise.bin");
    let cases = [
        ("traffic.jsonl.zst", Algorithm::Zstd, &traffic),
        ("traffic-2frames.zst", Algorithm::Zstd, &traffic),
        ("traffic.jsonl.lz4", Algorithm::Lz4, &traffic),
        ("noise.bin.zst", Algorithm::Zstd, &noise),
        ("noise.bin.lz4", Algorithm::Lz4, &noise),
    ];
    for (name, algorithm, expected) in cases {
        assert_eq!(&codec.decode_raw(algorithm, &corpus(name), MAX, None).unwrap(), expected, "{name}");
    }
    for (name, algorithm) in [("empty.zst", Algorithm::Zstd), ("empty.lz4", Algorithm::Lz4)] {
        assert_eq!(codec.decode_raw(algorithm, &corpus(name), MAX, None).unwrap(), b"", "{name}");
    }
}

#[test]
fn loads_a_dictionary_from_zstd_train_and_decodes_with_it() {
    let mut dict = Dictionary::from_bytes(corpus("cli.dict")).unwrap();
    let message = corpus("message.json");
    let mut codec = Codec::new();
    let raw = corpus("message.json.dict.zst");
    assert_eq!(codec.decode_raw(Algorithm::Zstd, &raw, MAX, Some(&dict)).unwrap(), message);
    assert!(codec.decode_raw(Algorithm::Zstd, &raw, MAX, None).is_err(), "needs the dictionary");
    let frame = codec.pack_with_dictionary(&message, Some(3), &mut dict).unwrap();
    assert!(frame == corpus("message.json.dict.v2.medg"), "dictionary frame bytes drifted");
}

#[test]
fn golden_frames_decode_and_encoding_is_stable() {
    let mut codec = Codec::new();
    let traffic = corpus("traffic.jsonl");
    let dict = Dictionary::from_bytes(corpus("cli.dict")).unwrap();
    // Version 1 goldens (before the compact header) and version 2 goldens both read.
    for (suffix, version) in [("medg", 1), ("v2.medg", 2)] {
        for name in ["traffic.jsonl.zstd", "traffic.jsonl.lz4"] {
            let frame = corpus(&format!("{name}.{suffix}"));
            assert_eq!(inspect(&frame).unwrap().version, version, "{name}.{suffix}");
            assert_eq!(codec.unpack(&frame, MAX, None).unwrap(), traffic, "{name}.{suffix}");
        }
        let stored = corpus(&format!("message.json.stored.{suffix}"));
        assert_eq!(codec.unpack(&stored, MAX, None).unwrap(), corpus("message.json"));
        let dict_frame = corpus(&format!("message.json.dict.{suffix}"));
        assert_eq!(inspect(&dict_frame).unwrap().dictionary_id, Some(dict.id()));
        assert_eq!(codec.unpack(&dict_frame, MAX, Some(&dict)).unwrap(), corpus("message.json"));
    }
    // The native build and the wasm component write the same zstd bytes (the C
    // library is deterministic across platforms). lz4_flex's match finder
    // depends on the pointer width, so lz4 bytes differ between 64-bit native
    // and wasm32; both are valid frames, which the decodes above prove.
    let opts = edge_core::codec::PackOptions { algorithm: Algorithm::Zstd, level: Some(3) };
    assert!(codec.pack(&traffic, opts).unwrap() == corpus("traffic.jsonl.zstd.v2.medg"), "zstd frame bytes drifted");
}

/// The dictionary the `decoders` fuzz target uses (kept in step with
/// crates/edge-core/fuzz/fuzz_targets/decoders.rs), so fuzz finds replay exactly.
fn fuzz_dictionary() -> Dictionary {
    let samples: Vec<Vec<u8>> = (0..300)
        .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"t{}"}}}}"#, i % 13).into_bytes())
        .collect();
    Dictionary::train(&samples, 4096).unwrap()
}

fn replay(input: &[u8], dict: &Dictionary) -> Result<Vec<u8>, CodecError> {
    let Some((&mode, input)) = input.split_first() else { return Ok(Vec::new()) };
    let mut codec = Codec::new();
    match mode % 6 {
        0 => codec.unpack(input, 4 << 20, None),
        1 => codec.unpack(input, 4 << 20, Some(dict)),
        2 => codec.decode_raw(Algorithm::Zstd, input, 4 << 20, None),
        3 => codec.decode_raw(Algorithm::Zstd, input, 4 << 20, Some(dict)),
        4 => codec.decode_raw(Algorithm::Lz4, input, 4 << 20, None),
        _ => Dictionary::from_bytes(input.to_vec()).map(|_| Vec::new()),
    }
}

#[test]
fn decoder_regressions_give_typed_errors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/corpus/codec/regressions");
    let dict = fuzz_dictionary();
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let result = replay(&std::fs::read(&path).unwrap(), &dict);
            // Every regression so far is hostile input: the answer is an error.
            assert!(result.is_err(), "{} decoded: {:?}", path.display(), result.map(|v| v.len()));
            replayed += 1;
        }
    }
    assert!(replayed >= 4, "regressions went missing from {}", dir.display());
}

/// Inputs the `round_trip` fuzz target flagged (first byte: algorithm and
/// level, as in crates/edge-core/fuzz/fuzz_targets/round_trip.rs). Each must
/// pack and unpack to itself.
#[test]
fn round_trip_regressions_round_trip() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test/corpus/codec/regressions/round_trip");
    let mut replayed = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        let Some((&mode, input)) = data.split_first() else { continue };
        let algorithm = [Algorithm::Stored, Algorithm::Zstd, Algorithm::Lz4][usize::from(mode % 3)];
        let level = Some(i32::from(mode / 3 % 20) - 1);
        let mut codec = Codec::new();
        let frame = codec.pack(input, edge_core::codec::PackOptions { algorithm, level }).unwrap();
        assert_eq!(codec.unpack(&frame, input.len() as u64, None).unwrap(), input);
        replayed += 1;
    }
    assert!(replayed >= 1);
}
