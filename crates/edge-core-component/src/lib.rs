//! The thin adapter between the WIT contract (`wit/`) and `edge-core`.
//!
//! Nothing here decides anything: it converts generated types to core types and
//! back. The core crate never depends on wit-bindgen.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "edge-core",
    });
}

mod codec;
mod info;
mod tokenizer;
mod queue;
mod router;
mod model_router;

struct Component;

bindings::export!(Component with_types_in bindings);
