use crate::Component;
use crate::bindings::exports::mcp_edge::core::info::Guest;

impl Guest for Component {
    fn version() -> String {
        edge_core::VERSION.to_string()
    }

    fn features() -> Vec<String> {
        edge_core::features().into_iter().map(String::from).collect()
    }
}
