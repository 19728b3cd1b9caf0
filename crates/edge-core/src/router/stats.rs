//! Live statistics the router ranks by: latency EWMA and in-flight count per
//! (tool, provider) route, error rate and circuit per provider.

use super::circuit::{Circuit, CircuitOptions};

/// An exponentially weighted moving average; empty until its first sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ewma {
    value: Option<f64>,
}

impl Ewma {
    /// Folds in one sample with weight `alpha` (0 < alpha <= 1).
    pub fn add(&mut self, sample: f64, alpha: f64) {
        self.value = Some(match self.value {
            None => sample,
            Some(v) => v + alpha * (sample - v),
        });
    }

    /// The average, or `None` before the first sample.
    pub fn get(&self) -> Option<f64> {
        self.value
    }
}

/// Configured preferences of one provider, in latency-equivalent terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Added to the provider's latency (ms): how far away it is considered.
    pub locality_ms: f64,
    /// Relative price of one call; multiplied by the router's cost weight.
    pub cost: f64,
    /// Relative energy of one call; counts only in power-saver mode.
    pub energy: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self { locality_ms: 0.0, cost: 0.0, energy: 0.0 }
    }
}

impl Weights {
    /// Whether every weight is a finite, non-negative number.
    pub fn is_valid(&self) -> bool {
        [self.locality_ms, self.cost, self.energy].iter().all(|w| w.is_finite() && *w >= 0.0)
    }
}

/// What the router knows of one provider.
#[derive(Clone, Debug)]
pub struct ProviderStats {
    pub weights: Weights,
    /// Whether the host considers the provider reachable at all.
    pub available: bool,
    /// EWMA of failures (1) and successes (0).
    pub error_rate: Ewma,
    pub circuit: Circuit,
    pub in_flight: u32,
    pub calls: u64,
    pub failures: u64,
}

impl ProviderStats {
    pub fn new(weights: Weights, circuit: &CircuitOptions) -> Self {
        Self {
            weights,
            available: true,
            error_rate: Ewma::default(),
            circuit: Circuit::new(circuit),
            in_flight: 0,
            calls: 0,
            failures: 0,
        }
    }
}

/// One provider's statistics for one tool.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub provider: u32,
    pub latency_ms: Ewma,
    pub in_flight: u32,
    /// Ranks ahead of every replica that is not preferred (offload: a remote
    /// replica before the local one), whatever the scores say.
    pub preferred: bool,
}

impl Route {
    pub fn new(provider: u32) -> Self {
        Self { provider, latency_ms: Ewma::default(), in_flight: 0, preferred: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_starts_at_first_sample_and_moves_toward_new_ones() {
        let mut e = Ewma::default();
        assert_eq!(e.get(), None);
        e.add(10.0, 0.5);
        assert_eq!(e.get(), Some(10.0));
        e.add(20.0, 0.5);
        assert_eq!(e.get(), Some(15.0));
    }

    #[test]
    fn weights_reject_negative_and_nan() {
        assert!(Weights::default().is_valid());
        assert!(!Weights { locality_ms: -1.0, ..Weights::default() }.is_valid());
        assert!(!Weights { cost: f64::NAN, ..Weights::default() }.is_valid());
    }
}
