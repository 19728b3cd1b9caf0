//! The router: which provider should serve a call to a tool that several
//! providers (replicas) offer. It ranks replicas by live latency (EWMA),
//! in-flight load, error rate, a circuit breaker per provider, and configured
//! locality, cost and energy weights. Time is always an argument (`now_ms`).
//!
//! `select` returns every admissible replica, best first, so the host can fail
//! over down the list; `record_start`/`record_result` feed the statistics.
//! Providers and tools are small integer handles: the host keeps the names.

mod circuit;
mod score;
mod stats;

use std::collections::HashMap;

pub use circuit::{CircuitOptions, CircuitState};
pub use stats::{Ewma, Weights};
use stats::{ProviderStats, Route};

/// How a finished call went, as far as the provider's health is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered (a tool-level error result still counts as an answer).
    Ok,
    /// The provider failed: connection lost, protocol error, crash.
    Error,
    /// The provider did not answer in time.
    Timeout,
}

/// The device's power state; in `Saver`, energy weights count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PowerMode {
    #[default]
    Normal,
    Saver,
}

/// Tuning of the router; `Default` gives sensible values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouterOptions {
    /// Weight of a new latency sample in the EWMA (0 < alpha <= 1).
    pub latency_alpha: f64,
    /// Weight of a new outcome in the error-rate EWMA (0 < alpha <= 1).
    pub error_alpha: f64,
    /// Latency assumed for a route with no samples yet (ms).
    pub prior_latency_ms: f64,
    /// Milliseconds of latency one unit of cost is worth.
    pub cost_weight_ms: f64,
    /// Milliseconds of latency one unit of energy is worth in saver mode.
    pub saver_weight_ms: f64,
    pub circuit: CircuitOptions,
}

impl Default for RouterOptions {
    fn default() -> Self {
        Self {
            latency_alpha: 0.2,
            error_alpha: 0.2,
            prior_latency_ms: 1.0,
            cost_weight_ms: 10.0,
            saver_weight_ms: 50.0,
            circuit: CircuitOptions::default(),
        }
    }
}

/// Why a router operation was refused. Stable cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouterError {
    /// No provider has this handle.
    UnknownProvider(u32),
    /// No tool has this handle.
    UnknownTool(u32),
    /// A weight is negative or not a number.
    InvalidWeights,
    /// An option is out of range; the text names it.
    InvalidOptions(&'static str),
}

impl std::fmt::Display for RouterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownProvider(p) => write!(f, "unknown provider handle {p}"),
            Self::UnknownTool(t) => write!(f, "unknown tool handle {t}"),
            Self::InvalidWeights => f.write_str("weights must be finite and non-negative"),
            Self::InvalidOptions(what) => write!(f, "invalid router option: {what}"),
        }
    }
}

impl std::error::Error for RouterError {}

/// A snapshot of one provider's statistics, for health pages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProviderSnapshot {
    pub circuit: CircuitState,
    pub available: bool,
    pub in_flight: u32,
    /// EWMA of failures, 0..1; 0 before the first call.
    pub error_rate: f64,
    /// EWMA latency over all its tools (failed calls included), ms; `None` before the first call.
    pub latency_ms: Option<f64>,
    pub calls: u64,
    pub failures: u64,
}

/// The routing table with its live statistics.
#[derive(Clone, Debug)]
pub struct Router {
    options: RouterOptions,
    providers: Vec<ProviderStats>,
    provider_latency: Vec<Ewma>,
    tools: HashMap<u32, Vec<Route>>,
    next_tool: u32,
    power: PowerMode,
}

fn check_options(o: &RouterOptions) -> Result<(), RouterError> {
    let unit = |a: f64| a.is_finite() && a > 0.0 && a <= 1.0;
    let non_negative = |a: f64| a.is_finite() && a >= 0.0;
    if !unit(o.latency_alpha) || !unit(o.error_alpha) {
        return Err(RouterError::InvalidOptions("alphas must be in (0, 1]"));
    }
    if !non_negative(o.prior_latency_ms) || !non_negative(o.cost_weight_ms) || !non_negative(o.saver_weight_ms) {
        return Err(RouterError::InvalidOptions("latency and weight options must be finite and non-negative"));
    }
    if o.circuit.failure_threshold == 0 || o.circuit.open_ms == 0 || o.circuit.max_open_ms < o.circuit.open_ms {
        return Err(RouterError::InvalidOptions("circuit: threshold >= 1 and 0 < open_ms <= max_open_ms"));
    }
    Ok(())
}

impl Router {
    pub fn new(options: RouterOptions) -> Result<Self, RouterError> {
        check_options(&options)?;
        Ok(Self {
            options,
            providers: Vec::new(),
            provider_latency: Vec::new(),
            tools: HashMap::new(),
            next_tool: 0,
            power: PowerMode::Normal,
        })
    }

    /// Adds a provider; returns its handle.
    pub fn add_provider(&mut self, weights: Weights) -> Result<u32, RouterError> {
        if !weights.is_valid() {
            return Err(RouterError::InvalidWeights);
        }
        self.providers.push(ProviderStats::new(weights, &self.options.circuit));
        self.provider_latency.push(Ewma::default());
        Ok((self.providers.len() - 1) as u32)
    }

    fn provider_mut(&mut self, provider: u32) -> Result<&mut ProviderStats, RouterError> {
        self.providers.get_mut(provider as usize).ok_or(RouterError::UnknownProvider(provider))
    }

    pub fn set_weights(&mut self, provider: u32, weights: Weights) -> Result<(), RouterError> {
        if !weights.is_valid() {
            return Err(RouterError::InvalidWeights);
        }
        self.provider_mut(provider)?.weights = weights;
        Ok(())
    }

    /// Marks a provider reachable or not. Becoming reachable closes its circuit:
    /// the host has just seen it come back.
    pub fn set_available(&mut self, provider: u32, available: bool) -> Result<(), RouterError> {
        let circuit = self.options.circuit;
        let stats = self.provider_mut(provider)?;
        if available && !stats.available {
            stats.circuit.reset(&circuit);
        }
        stats.available = available;
        Ok(())
    }

    pub fn set_power_mode(&mut self, mode: PowerMode) {
        self.power = mode;
    }

    fn check_providers(&self, providers: &[u32]) -> Result<(), RouterError> {
        match providers.iter().find(|p| **p as usize >= self.providers.len()) {
            Some(p) => Err(RouterError::UnknownProvider(*p)),
            None => Ok(()),
        }
    }

    /// Adds a tool offered by `providers`; returns its handle.
    pub fn add_tool(&mut self, providers: &[u32]) -> Result<u32, RouterError> {
        self.check_providers(providers)?;
        let handle = self.next_tool;
        self.next_tool = self.next_tool.wrapping_add(1);
        let mut routes: Vec<Route> = providers.iter().map(|p| Route::new(*p)).collect();
        routes.sort_by_key(|r| r.provider);
        routes.dedup_by_key(|r| r.provider);
        self.tools.insert(handle, routes);
        Ok(handle)
    }

    /// Replaces the replicas of a tool, keeping the statistics of those that stay.
    pub fn set_replicas(&mut self, tool: u32, providers: &[u32]) -> Result<(), RouterError> {
        self.check_providers(providers)?;
        let routes = self.tools.get_mut(&tool).ok_or(RouterError::UnknownTool(tool))?;
        let mut next: Vec<Route> = providers
            .iter()
            .map(|p| routes.iter().find(|r| r.provider == *p).cloned().unwrap_or_else(|| Route::new(*p)))
            .collect();
        next.sort_by_key(|r| r.provider);
        next.dedup_by_key(|r| r.provider);
        *routes = next;
        Ok(())
    }

    /// Marks which replicas of a tool are preferred: they rank ahead of the
    /// others, by score among themselves, and the others stay behind them as
    /// the fallback (a node that offloads a heavy tool prefers the remote
    /// replicas and keeps its own for when none can serve). Replicas not
    /// listed lose the mark; an empty list ranks every replica by score alone.
    pub fn set_preferred(&mut self, tool: u32, providers: &[u32]) -> Result<(), RouterError> {
        self.check_providers(providers)?;
        let routes = self.tools.get_mut(&tool).ok_or(RouterError::UnknownTool(tool))?;
        for route in routes.iter_mut() {
            route.preferred = providers.contains(&route.provider);
        }
        Ok(())
    }

    pub fn remove_tool(&mut self, tool: u32) -> Result<(), RouterError> {
        self.tools.remove(&tool).map(|_| ()).ok_or(RouterError::UnknownTool(tool))
    }

    /// The replicas that may serve `tool` now, best first. Unavailable providers
    /// and open circuits are left out. Preferred replicas (`set_preferred`)
    /// come before the others; within each tier a half-open one comes first,
    /// as the probe that decides whether it is back, then by score. Empty
    /// means no replica can serve.
    pub fn select(&self, tool: u32, now_ms: u64) -> Result<Vec<u32>, RouterError> {
        let routes = self.tools.get(&tool).ok_or(RouterError::UnknownTool(tool))?;
        let mut ranked: Vec<(bool, bool, f64, u32)> = routes
            .iter()
            .filter_map(|route| {
                let stats = &self.providers[route.provider as usize];
                if !stats.available || !stats.circuit.admits(now_ms) {
                    return None;
                }
                let probe = stats.circuit.state(now_ms) == CircuitState::HalfOpen;
                Some((!route.preferred, !probe, score::score(route, stats, &self.options, self.power), route.provider))
            })
            .collect();
        ranked.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.total_cmp(&b.2)).then(a.3.cmp(&b.3)));
        Ok(ranked.into_iter().map(|(_, _, _, p)| p).collect())
    }

    /// `select`, then `record_start` on the best replica: one call where the
    /// host would cross the boundary twice for every routed call. The others
    /// stay in the returned order for failover, each recorded when tried.
    pub fn begin(&mut self, tool: u32, now_ms: u64) -> Result<Vec<u32>, RouterError> {
        let order = self.select(tool, now_ms)?;
        if let Some(first) = order.first() {
            self.record_start(tool, *first, now_ms)?;
        }
        Ok(order)
    }

    /// The route's statistics, if the tool still has this replica. A call may
    /// outlive its tool (the provider died and its tools left the table): the
    /// provider's own statistics must still balance, so that is not an error.
    fn route_mut(&mut self, tool: u32, provider: u32) -> Result<Option<&mut Route>, RouterError> {
        if provider as usize >= self.providers.len() {
            return Err(RouterError::UnknownProvider(provider));
        }
        Ok(self.tools.get_mut(&tool).and_then(|routes| routes.iter_mut().find(|r| r.provider == provider)))
    }

    /// A call to `tool` on `provider` starts.
    pub fn record_start(&mut self, tool: u32, provider: u32, now_ms: u64) -> Result<(), RouterError> {
        if let Some(route) = self.route_mut(tool, provider)? {
            route.in_flight = route.in_flight.saturating_add(1);
        }
        let stats = &mut self.providers[provider as usize];
        stats.in_flight = stats.in_flight.saturating_add(1);
        stats.circuit.on_start(now_ms);
        Ok(())
    }

    /// A call to `tool` on `provider` ended after `latency_ms` with `outcome`.
    pub fn record_result(
        &mut self,
        tool: u32,
        provider: u32,
        latency_ms: f64,
        outcome: Outcome,
        now_ms: u64,
    ) -> Result<(), RouterError> {
        let latency = if latency_ms.is_finite() && latency_ms >= 0.0 { latency_ms } else { 0.0 };
        let o = self.options;
        let ok = outcome == Outcome::Ok;
        // Failures count as latency too: a timeout is the slowest answer there
        // is, and a replica that never answered must not look fast for lack of samples.
        if let Some(route) = self.route_mut(tool, provider)? {
            route.in_flight = route.in_flight.saturating_sub(1);
            route.latency_ms.add(latency, o.latency_alpha);
        }
        self.provider_latency[provider as usize].add(latency, o.latency_alpha);
        let stats = &mut self.providers[provider as usize];
        stats.in_flight = stats.in_flight.saturating_sub(1);
        stats.calls += 1;
        stats.failures += u64::from(!ok);
        stats.error_rate.add(if ok { 0.0 } else { 1.0 }, o.error_alpha);
        stats.circuit.on_result(ok, now_ms, &o.circuit);
        Ok(())
    }

    /// A snapshot of a provider's statistics at `now_ms`.
    pub fn stats(&self, provider: u32, now_ms: u64) -> Result<ProviderSnapshot, RouterError> {
        let s = self.providers.get(provider as usize).ok_or(RouterError::UnknownProvider(provider))?;
        Ok(ProviderSnapshot {
            circuit: s.circuit.state(now_ms),
            available: s.available,
            in_flight: s.in_flight,
            error_rate: s.error_rate.get().unwrap_or(0.0),
            latency_ms: self.provider_latency[provider as usize].get(),
            calls: s.calls,
            failures: s.failures,
        })
    }
}

#[cfg(test)]
mod tests;
