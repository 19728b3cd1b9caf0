use std::cell::RefCell;

use crate::Component;
use crate::bindings::exports::mcp_edge::core::router::{
    CircuitState, Guest, GuestRouter, Outcome, PowerMode, ProviderStats, Router, RouterError, RouterOptions,
    Weights,
};
use edge_core::router as core_router;

/// The `router` resource: the core's router behind a RefCell, because WIT
/// resources are borrowed immutably.
pub struct RouterResource(RefCell<core_router::Router>);

impl Guest for Component {
    type Router = RouterResource;
}

impl GuestRouter for RouterResource {
    fn create(options: RouterOptions) -> Result<Router, RouterError> {
        let router = core_router::Router::new(options.into())?;
        Ok(Router::new(RouterResource(RefCell::new(router))))
    }

    fn add_provider(&self, weights: Weights) -> Result<u32, RouterError> {
        Ok(self.0.borrow_mut().add_provider(weights.into())?)
    }

    fn set_weights(&self, provider: u32, weights: Weights) -> Result<(), RouterError> {
        Ok(self.0.borrow_mut().set_weights(provider, weights.into())?)
    }

    fn set_available(&self, provider: u32, available: bool) -> Result<(), RouterError> {
        Ok(self.0.borrow_mut().set_available(provider, available)?)
    }

    fn set_power_mode(&self, mode: PowerMode) {
        self.0.borrow_mut().set_power_mode(match mode {
            PowerMode::Normal => core_router::PowerMode::Normal,
            PowerMode::Saver => core_router::PowerMode::Saver,
        });
    }

    fn add_tool(&self, providers: Vec<u32>) -> Result<u32, RouterError> {
        Ok(self.0.borrow_mut().add_tool(&providers)?)
    }

    fn set_replicas(&self, tool: u32, providers: Vec<u32>) -> Result<(), RouterError> {
        Ok(self.0.borrow_mut().set_replicas(tool, &providers)?)
    }

    fn set_preferred(&self, tool: u32, providers: Vec<u32>) -> Result<(), RouterError> {
        Ok(self.0.borrow_mut().set_preferred(tool, &providers)?)
    }

    fn remove_tool(&self, tool: u32) -> Result<(), RouterError> {
        Ok(self.0.borrow_mut().remove_tool(tool)?)
    }

    fn select(&self, tool: u32, now_ms: u64) -> Result<Vec<u32>, RouterError> {
        Ok(self.0.borrow().select(tool, now_ms)?)
    }

    fn begin(&self, tool: u32, now_ms: u64) -> Result<Vec<u32>, RouterError> {
        Ok(self.0.borrow_mut().begin(tool, now_ms)?)
    }

    fn record_start(&self, tool: u32, provider: u32, now_ms: u64) -> Result<(), RouterError> {
        Ok(self.0.borrow_mut().record_start(tool, provider, now_ms)?)
    }

    fn record_result(
        &self,
        tool: u32,
        provider: u32,
        latency_ms: f64,
        outcome: Outcome,
        now_ms: u64,
    ) -> Result<(), RouterError> {
        let outcome = match outcome {
            Outcome::Ok => core_router::Outcome::Ok,
            Outcome::Error => core_router::Outcome::Error,
            Outcome::Timeout => core_router::Outcome::Timeout,
        };
        Ok(self.0.borrow_mut().record_result(tool, provider, latency_ms, outcome, now_ms)?)
    }

    fn stats(&self, provider: u32, now_ms: u64) -> Result<ProviderStats, RouterError> {
        Ok(self.0.borrow().stats(provider, now_ms)?.into())
    }
}

impl From<RouterOptions> for core_router::RouterOptions {
    fn from(o: RouterOptions) -> Self {
        let d = Self::default();
        Self {
            latency_alpha: o.latency_alpha.unwrap_or(d.latency_alpha),
            error_alpha: o.error_alpha.unwrap_or(d.error_alpha),
            prior_latency_ms: o.prior_latency_ms.unwrap_or(d.prior_latency_ms),
            cost_weight_ms: o.cost_weight_ms.unwrap_or(d.cost_weight_ms),
            saver_weight_ms: o.saver_weight_ms.unwrap_or(d.saver_weight_ms),
            circuit: core_router::CircuitOptions {
                failure_threshold: o.failure_threshold.unwrap_or(d.circuit.failure_threshold),
                open_ms: o.open_ms.unwrap_or(d.circuit.open_ms),
                max_open_ms: o.max_open_ms.unwrap_or(d.circuit.max_open_ms),
            },
        }
    }
}

impl From<Weights> for core_router::Weights {
    fn from(w: Weights) -> Self {
        Self { locality_ms: w.locality_ms, cost: w.cost, energy: w.energy }
    }
}

impl From<core_router::ProviderSnapshot> for ProviderStats {
    fn from(s: core_router::ProviderSnapshot) -> Self {
        Self {
            circuit: match s.circuit {
                core_router::CircuitState::Closed => CircuitState::Closed,
                core_router::CircuitState::Open => CircuitState::Open,
                core_router::CircuitState::HalfOpen => CircuitState::HalfOpen,
            },
            available: s.available,
            in_flight: s.in_flight,
            error_rate: s.error_rate,
            latency_ms: s.latency_ms,
            calls: s.calls,
            failures: s.failures,
        }
    }
}

impl From<core_router::RouterError> for RouterError {
    fn from(err: core_router::RouterError) -> Self {
        use core_router::RouterError as E;
        match err {
            E::UnknownProvider(p) => Self::UnknownProvider(p),
            E::UnknownTool(t) => Self::UnknownTool(t),
            E::InvalidWeights => Self::InvalidWeights,
            E::InvalidOptions(what) => Self::InvalidOptions(what.to_string()),
        }
    }
}
