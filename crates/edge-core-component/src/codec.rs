use crate::Component;
use crate::bindings::exports::mcp_edge::core::codec::{
    Algorithm, CodecError, FrameInfo, Guest, PackOptions,
};
use edge_core::codec::{self as core_codec, frame};

impl Guest for Component {
    fn pack(data: Vec<u8>, options: PackOptions) -> Result<Vec<u8>, CodecError> {
        let options = core_codec::PackOptions { algorithm: options.algorithm.into(), level: options.level };
        core_codec::pack(&data, options).map_err(Into::into)
    }

    fn unpack(frame: Vec<u8>, max_output: u64) -> Result<Vec<u8>, CodecError> {
        core_codec::unpack(&frame, max_output).map_err(Into::into)
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

impl From<core_codec::CodecError> for CodecError {
    fn from(err: core_codec::CodecError) -> Self {
        use core_codec::{CodecError as E, FrameError as F};
        match err {
            E::UnsupportedAlgorithm(a) => Self::UnsupportedAlgorithm(a.into()),
            E::Frame(F::Truncated { .. }) => Self::Truncated,
            E::Frame(F::BadMagic) => Self::BadMagic,
            E::Frame(F::UnsupportedVersion(v)) => Self::UnsupportedVersion(v),
            E::Frame(F::UnknownAlgorithm(a)) => Self::UnknownAlgorithm(a),
            E::Frame(F::TooLarge { declared, .. }) => Self::TooLarge(declared),
            E::Frame(corrupt @ F::Corrupt(_)) => Self::Corrupt(corrupt.to_string()),
        }
    }
}
