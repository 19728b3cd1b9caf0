//! The ranking formula: lower is better. Latency is the base unit (ms); load
//! multiplies it, errors divide it by the squared success rate (one failure in
//! five costs about half again as much), and configured
//! locality, cost and (in saver mode) energy add latency-equivalents.

use super::stats::{ProviderStats, Route};
use super::{PowerMode, RouterOptions};

/// Errors never push the divisor below this, so a score stays finite.
const MIN_SUCCESS: f64 = 0.05;

pub fn score(route: &Route, provider: &ProviderStats, options: &RouterOptions, power: PowerMode) -> f64 {
    let latency = route.latency_ms.get().unwrap_or(options.prior_latency_ms);
    let w = &provider.weights;
    let load = 1.0 + f64::from(provider.in_flight);
    let success = (1.0 - provider.error_rate.get().unwrap_or(0.0)).max(MIN_SUCCESS);
    let energy = match power {
        PowerMode::Normal => 0.0,
        PowerMode::Saver => w.energy * options.saver_weight_ms,
    };
    (latency + w.locality_ms) * load / (success * success) + w.cost * options.cost_weight_ms + energy
}
