//! edge-core: the decisions and the hot loops of mcp-edge, with no I/O.
//!
//! The core never reads a clock, a socket, a file or a random source. Time,
//! randomness and bytes arrive as arguments; decisions leave as data. That keeps
//! it deterministic under `cargo test`, in Node and in a browser, and cheap to
//! fuzz. The host (TypeScript) does every effect.

pub mod codec;
pub mod tokenizer;
pub mod queue;
pub mod router;
pub mod model_router;

/// The crate's semantic version, reported by `/health` and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Compile-time features of this build, so a host can tell what it loaded.
pub fn features() -> Vec<&'static str> {
    let mut out = Vec::new();
    if cfg!(target_feature = "simd128") {
        out.push("simd128");
    }
    out
}
