use super::*;

const MB: u64 = 1 << 20;

fn opts(algorithm: Algorithm, level: Option<i32>) -> PackOptions {
    PackOptions { algorithm, level }
}

fn mcp_message(i: usize) -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"read_sensor","arguments":{{"sensor":"temp-{}","unit":"celsius","window_s":{}}}}}}}"#,
        i % 17,
        (i * 7) % 300
    )
    .into_bytes()
}

/// The standard stream after a frame's header, whatever the header's version.
fn payload(frame: &[u8]) -> &[u8] {
    &frame[inspect(frame).unwrap().encoded_len()..]
}

/// The same frame with a header that claims `len` original bytes.
fn with_declared_len(frame: &[u8], len: u64) -> Vec<u8> {
    let header = Header { original_len: len, ..inspect(frame).unwrap() };
    let mut out = Vec::new();
    frame::write_header(&header, &mut out);
    out.extend_from_slice(payload(frame));
    out
}

#[test]
fn stored_pack_unpack_round_trip() {
    let frame = pack(b"edge", opts(Algorithm::Stored, None)).unwrap();
    assert_eq!(inspect(&frame).unwrap().original_len, 4);
    assert_eq!(unpack(&frame, 4).unwrap(), b"edge");
    assert!(matches!(unpack(&frame, 3), Err(CodecError::Frame(FrameError::TooLarge { .. }))));
}

#[test]
fn zstd_and_lz4_round_trip_and_compress() {
    let data = mcp_message(1).repeat(50);
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = pack(&data, opts(algorithm, None)).unwrap();
        assert!(frame.len() < data.len() / 4, "{algorithm:?} did not compress");
        let header = inspect(&frame).unwrap();
        assert_eq!((header.algorithm, header.original_len), (algorithm, data.len() as u64));
        assert_eq!(unpack(&frame, MB).unwrap(), data);
    }
}

#[test]
fn payload_after_header_is_a_standard_stream() {
    let data = mcp_message(2).repeat(3);
    let mut codec = Codec::new();
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = codec.pack(&data, opts(algorithm, Some(5))).unwrap();
        assert_eq!(codec.decode_raw(algorithm, payload(&frame), MB, None).unwrap(), data);
    }
}

#[test]
fn rejects_out_of_range_levels() {
    for level in [-8, 23, i32::MAX, i32::MIN] {
        assert_eq!(pack(b"x", opts(Algorithm::Zstd, Some(level))), Err(CodecError::InvalidLevel(level)));
    }
}

#[test]
fn unpack_refuses_more_than_max_output() {
    let data = vec![0u8; 10_000];
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = pack(&data, opts(algorithm, None)).unwrap();
        let err = unpack(&frame, 9_999).unwrap_err();
        assert_eq!(err, CodecError::Frame(FrameError::TooLarge { declared: 10_000, limit: 9_999 }));
        let err = Codec::new().decode_raw(algorithm, payload(&frame), 9_999, None).unwrap_err();
        assert_eq!(err, CodecError::OutputLimit(9_999), "{algorithm:?}");
    }
}

/// A header that lies low about the length must not let the decoder write more.
#[test]
fn header_understating_length_is_corrupt_not_overflow() {
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = with_declared_len(&pack(&[b'a'; 5000], opts(algorithm, None)).unwrap(), 100);
        assert!(matches!(unpack(&frame, MB), Err(CodecError::Decode(_))), "{algorithm:?}");
    }
}

#[test]
fn header_overstating_length_is_corrupt() {
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = with_declared_len(&pack(&[b'a'; 5000], opts(algorithm, None)).unwrap(), 6000);
        let err = unpack(&frame, MB).unwrap_err();
        assert!(matches!(err, CodecError::Decode(_) | CodecError::Frame(FrameError::Corrupt(_))), "{err:?}");
    }
}

#[test]
fn every_truncation_is_a_typed_error() {
    let data: Vec<u8> = (0..3000u32).flat_map(|i| (i * 31 % 251).to_le_bytes()).collect();
    for algorithm in [Algorithm::Stored, Algorithm::Zstd, Algorithm::Lz4] {
        let frame = pack(&data, opts(algorithm, None)).unwrap();
        for cut in 0..frame.len() {
            assert!(unpack(&frame[..cut], MB).is_err(), "{algorithm:?} cut at {cut}");
        }
    }
}

#[test]
fn flipped_bits_are_typed_errors() {
    let data = mcp_message(3).repeat(20);
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        let frame = pack(&data, opts(algorithm, None)).unwrap();
        for at in inspect(&frame).unwrap().encoded_len()..frame.len() {
            let mut bad = frame.clone();
            bad[at] ^= 0x5a;
            // Either an error, or (rarely) the same bytes, which the checksum proved.
            if let Ok(out) = unpack(&bad, MB) {
                assert_eq!(out, data);
            }
        }
    }
}

fn trained() -> Dictionary {
    let samples: Vec<Vec<u8>> = (0..400).map(mcp_message).collect();
    Dictionary::train(&samples, 8 * 1024).unwrap()
}

#[test]
fn dictionary_packs_smaller_and_round_trips() {
    let mut dict = trained();
    let mut codec = Codec::new();
    let msg = mcp_message(9999);
    let plain = codec.pack(&msg, opts(Algorithm::Zstd, None)).unwrap();
    let with = codec.pack_with_dictionary(&msg, None, &mut dict).unwrap();
    assert!(with.len() < plain.len(), "{} vs {}", with.len(), plain.len());
    assert_eq!(inspect(&with).unwrap().dictionary_id, Some(dict.id()));
    assert_eq!(codec.unpack(&with, MB, Some(&dict)).unwrap(), msg);
    assert_eq!(codec.decode_raw(Algorithm::Zstd, payload(&with), MB, Some(&dict)).unwrap(), msg);
    // The zstd frame leaves the id to the header: a frame header without a dictionary id field.
    assert_eq!(zstd_safe::get_dict_id_from_frame(payload(&with)), None);
}

#[test]
fn dictionary_is_required_and_must_match() {
    let mut dict = trained();
    let mut codec = Codec::new();
    let frame = codec.pack_with_dictionary(b"{\"jsonrpc\":\"2.0\"}", Some(1), &mut dict).unwrap();
    assert_eq!(codec.unpack(&frame, MB, None), Err(CodecError::DictionaryRequired(dict.id())));
    let other_samples: Vec<Vec<u8>> = (0..300).map(|i| format!("other-{i}-{}", "z".repeat(i % 50)).into_bytes()).collect();
    let other = Dictionary::train(&other_samples, 4096).unwrap();
    assert_ne!(other.id(), dict.id());
    let err = codec.unpack(&frame, MB, Some(&other)).unwrap_err();
    assert_eq!(err, CodecError::DictionaryMismatch { needed: dict.id(), given: other.id() });
    // A dictionary given for a frame that needs none is simply unused.
    let plain = codec.pack(b"abc", opts(Algorithm::Zstd, None)).unwrap();
    assert_eq!(codec.unpack(&plain, MB, Some(&dict)).unwrap(), b"abc");
}

#[test]
fn dictionary_round_trips_through_bytes_and_rejects_garbage() {
    let dict = trained();
    let again = Dictionary::from_bytes(dict.as_bytes().to_vec()).unwrap();
    assert_eq!(again.id(), dict.id());
    assert!(matches!(Dictionary::from_bytes(b"not a dictionary".to_vec()), Err(CodecError::Dictionary(_))));
    let too_few: Vec<&[u8]> = vec![b"a", b"b"];
    assert!(matches!(Dictionary::train(&too_few, 4096), Err(CodecError::Dictionary(_))));
    assert!(matches!(Dictionary::train(&too_few, 10), Err(CodecError::Dictionary(_))));
}

#[test]
fn training_is_deterministic() {
    assert_eq!(trained().as_bytes(), trained().as_bytes());
}

#[test]
fn decode_raw_rejects_garbage_and_empty() {
    let mut codec = Codec::new();
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4] {
        assert!(matches!(codec.decode_raw(algorithm, b"", MB, None), Err(CodecError::Decode(_))));
        assert!(matches!(codec.decode_raw(algorithm, b"garbage bytes", MB, None), Err(CodecError::Decode(_))));
    }
}

/// Frames written before the compact header (format version 1) still unpack,
/// with and without a dictionary.
#[test]
fn version_1_frames_still_unpack() {
    let data = mcp_message(4).repeat(10);
    let mut codec = Codec::new();
    let mut dict = trained();
    for (frame, dictionary) in [
        (codec.pack(&data, opts(Algorithm::Zstd, None)).unwrap(), None),
        (codec.pack(&data, opts(Algorithm::Lz4, None)).unwrap(), None),
        (codec.pack_with_dictionary(&data, None, &mut dict).unwrap(), Some(&dict)),
    ] {
        // Version 1's checksum covers the original bytes.
        let header = Header { version: frame::FORMAT_VERSION_1, checksum: frame::checksum(&data), ..inspect(&frame).unwrap() };
        let mut v1 = Vec::new();
        frame::write_header(&header, &mut v1);
        v1.extend_from_slice(payload(&frame));
        assert_eq!(v1.len(), frame.len() + 8, "v1 headers are 8 bytes longer here");
        assert_eq!(inspect(&v1).unwrap().version, frame::FORMAT_VERSION_1);
        assert_eq!(codec.unpack(&v1, MB, dictionary).unwrap(), data);
    }
}

#[test]
fn a_changed_payload_byte_is_caught_by_the_checksum_before_decoding() {
    let data = mcp_message(7).repeat(20);
    let mut codec = Codec::new();
    for algorithm in [Algorithm::Zstd, Algorithm::Lz4, Algorithm::Stored] {
        let mut frame = codec.pack(&data, opts(algorithm, None)).unwrap();
        let header = inspect(&frame).unwrap();
        assert_eq!(header.checksum, frame::checksum(payload(&frame)), "{algorithm:?}: v2 checksum covers the payload");
        let last = frame.len() - 1;
        frame[last] ^= 0x01;
        assert_eq!(
            codec.unpack(&frame, MB, None),
            Err(CodecError::Frame(FrameError::Corrupt("checksum mismatch"))),
            "{algorithm:?}"
        );
    }
}
