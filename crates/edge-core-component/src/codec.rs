use std::cell::RefCell;

use crate::Component;
use crate::bindings::exports::mcp_edge::core::codec::{
    Algorithm, CodecError, Dictionary, FrameInfo, Guest, GuestDictionary, PackOptions,
};
use edge_core::codec::{self as core_codec, Codec, frame};

thread_local! {
    // One set of compression contexts for the whole component: reusing them is
    // what makes 1 KB messages cheap. A cache, not state: output never depends on it.
    static CODEC: RefCell<Codec> = RefCell::new(Codec::new());
}

fn with_codec<T>(f: impl FnOnce(&mut Codec) -> T) -> T {
    CODEC.with(|codec| f(&mut codec.borrow_mut()))
}

/// The `dictionary` resource: a core dictionary plus its prepared tables.
pub struct DictionaryResource {
    inner: RefCell<core_codec::Dictionary>,
}

impl DictionaryResource {
    fn wrap(dict: core_codec::Dictionary) -> Dictionary {
        Dictionary::new(DictionaryResource { inner: RefCell::new(dict) })
    }
}

impl GuestDictionary for DictionaryResource {
    fn train(samples: Vec<Vec<u8>>, max_size: u32) -> Result<Dictionary, CodecError> {
        Ok(Self::wrap(core_codec::Dictionary::train(&samples, max_size as usize)?))
    }

    fn load(bytes: Vec<u8>) -> Result<Dictionary, CodecError> {
        Ok(Self::wrap(core_codec::Dictionary::from_bytes(bytes)?))
    }

    fn id(&self) -> u32 {
        self.inner.borrow().id()
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.inner.borrow().as_bytes().to_vec()
    }

    fn pack(&self, data: Vec<u8>, level: Option<i32>) -> Result<Vec<u8>, CodecError> {
        let mut dict = self.inner.borrow_mut();
        Ok(with_codec(|c| c.pack_with_dictionary(&data, level, &mut dict))?)
    }

    fn unpack(&self, frame: Vec<u8>, max_output: u64) -> Result<Vec<u8>, CodecError> {
        let dict = self.inner.borrow();
        Ok(with_codec(|c| c.unpack(&frame, max_output, Some(&dict)))?)
    }

    fn decode_raw(&self, data: Vec<u8>, max_output: u64) -> Result<Vec<u8>, CodecError> {
        let dict = self.inner.borrow();
        Ok(with_codec(|c| c.decode_raw(core_codec::Algorithm::Zstd, &data, max_output, Some(&dict)))?)
    }
}

impl Guest for Component {
    type Dictionary = DictionaryResource;

    fn pack(data: Vec<u8>, options: PackOptions) -> Result<Vec<u8>, CodecError> {
        let options = core_codec::PackOptions { algorithm: options.algorithm.into(), level: options.level };
        Ok(with_codec(|c| c.pack(&data, options))?)
    }

    fn unpack(frame: Vec<u8>, max_output: u64) -> Result<Vec<u8>, CodecError> {
        Ok(with_codec(|c| c.unpack(&frame, max_output, None))?)
    }

    fn inspect(frame: Vec<u8>) -> Result<FrameInfo, CodecError> {
        let header = core_codec::inspect(&frame)?;
        Ok(FrameInfo {
            algorithm: header.algorithm.into(),
            original_length: header.original_len,
            checksum: header.checksum,
            dictionary_id: header.dictionary_id,
            header_length: header.encoded_len() as u32,
        })
    }

    fn decode_raw(algorithm: Algorithm, data: Vec<u8>, max_output: u64) -> Result<Vec<u8>, CodecError> {
        Ok(with_codec(|c| c.decode_raw(algorithm.into(), &data, max_output, None))?)
    }

    fn checksum(data: Vec<u8>) -> u32 {
        frame::checksum(&data)
    }
}

impl From<Algorithm> for core_codec::Algorithm {
    fn from(a: Algorithm) -> Self {
        match a {
            Algorithm::Stored => Self::Stored,
            Algorithm::Zstd => Self::Zstd,
            Algorithm::Lz4 => Self::Lz4,
        }
    }
}

impl From<core_codec::Algorithm> for Algorithm {
    fn from(a: core_codec::Algorithm) -> Self {
        match a {
            core_codec::Algorithm::Stored => Self::Stored,
            core_codec::Algorithm::Zstd => Self::Zstd,
            core_codec::Algorithm::Lz4 => Self::Lz4,
        }
    }
}

impl From<core_codec::FrameError> for CodecError {
    fn from(err: core_codec::FrameError) -> Self {
        use core_codec::FrameError as F;
        match err {
            F::Truncated { .. } => Self::Truncated,
            F::BadMagic => Self::BadMagic,
            F::UnsupportedVersion(v) => Self::UnsupportedVersion(v),
            F::UnknownAlgorithm(a) => Self::UnknownAlgorithm(a),
            F::TooLarge { declared, .. } => Self::TooLarge(declared),
            corrupt @ F::Corrupt(_) => Self::Corrupt(corrupt.to_string()),
        }
    }
}

impl From<core_codec::CodecError> for CodecError {
    fn from(err: core_codec::CodecError) -> Self {
        use core_codec::CodecError as E;
        match err {
            E::Frame(frame) => frame.into(),
            E::UnsupportedAlgorithm(a) => Self::UnsupportedAlgorithm(a.into()),
            E::InvalidLevel(level) => Self::InvalidLevel(level),
            decode @ E::Decode(_) => Self::Corrupt(decode.to_string()),
            E::OutputLimit(limit) => Self::TooLarge(limit),
            E::DictionaryRequired(id) => Self::DictionaryRequired(id),
            E::DictionaryMismatch { needed, .. } => Self::DictionaryMismatch(needed),
            dict @ E::Dictionary(_) => Self::DictionaryInvalid(dict.to_string()),
            E::DictionaryUnsupported(a) => Self::DictionaryUnsupported(a.into()),
            E::OutOfMemory(n) => Self::OutOfMemory(n),
            compress @ E::Compress(_) => Self::CompressFailed(compress.to_string()),
        }
    }
}
