//! A circuit breaker per provider: closed (calls flow), open (calls refused
//! until a deadline), half-open (one probe call decides). Time is an argument.

/// Where a provider's circuit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls flow normally.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// The cool-down ended: one probe call may go through.
    HalfOpen,
}

/// Thresholds of the breaker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitOptions {
    /// Consecutive failures that open a closed circuit.
    pub failure_threshold: u32,
    /// First cool-down after opening, in ms.
    pub open_ms: u64,
    /// Ceiling of the cool-down, which doubles each time a probe fails.
    pub max_open_ms: u64,
}

impl Default for CircuitOptions {
    fn default() -> Self {
        Self { failure_threshold: 5, open_ms: 2_000, max_open_ms: 60_000 }
    }
}

/// The breaker's state machine.
#[derive(Clone, Debug)]
pub struct Circuit {
    consecutive_failures: u32,
    /// When the open circuit may be probed (ms); `None` while closed.
    open_until: Option<u64>,
    /// The current cool-down length, doubled on each failed probe.
    cool_down_ms: u64,
    /// Whether the one half-open probe is in flight.
    probing: bool,
}

impl Circuit {
    pub fn new(options: &CircuitOptions) -> Self {
        Self { consecutive_failures: 0, open_until: None, cool_down_ms: options.open_ms, probing: false }
    }

    /// The state at `now_ms`.
    pub fn state(&self, now_ms: u64) -> CircuitState {
        match self.open_until {
            None => CircuitState::Closed,
            Some(until) if now_ms < until => CircuitState::Open,
            Some(_) => CircuitState::HalfOpen,
        }
    }

    /// Whether a new call may be sent at `now_ms`.
    pub fn admits(&self, now_ms: u64) -> bool {
        match self.state(now_ms) {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen => !self.probing,
        }
    }

    /// A call starts: in half-open, it is the probe.
    pub fn on_start(&mut self, now_ms: u64) {
        if self.state(now_ms) == CircuitState::HalfOpen {
            self.probing = true;
        }
    }

    /// A call ended; `ok` says whether the provider answered properly.
    pub fn on_result(&mut self, ok: bool, now_ms: u64, options: &CircuitOptions) {
        let was_probe = self.probing;
        self.probing = false;
        if ok {
            self.consecutive_failures = 0;
            if self.open_until.is_some() && (was_probe || self.state(now_ms) != CircuitState::Open) {
                self.open_until = None;
                self.cool_down_ms = options.open_ms;
            }
            return;
        }
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if was_probe {
            // The probe failed: open again, and wait longer this time.
            self.cool_down_ms = (self.cool_down_ms.saturating_mul(2)).min(options.max_open_ms);
            self.open_until = Some(now_ms.saturating_add(self.cool_down_ms));
        } else if self.open_until.is_none() && self.consecutive_failures >= options.failure_threshold {
            self.open_until = Some(now_ms.saturating_add(self.cool_down_ms));
        }
    }

    /// Forces the circuit closed (the host saw the provider recover).
    pub fn reset(&mut self, options: &CircuitOptions) {
        *self = Self::new(options);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cool_down() {
        let o = CircuitOptions { failure_threshold: 3, open_ms: 100, max_open_ms: 1000 };
        let mut c = Circuit::new(&o);
        for t in 0..3 {
            assert!(c.admits(t));
            c.on_start(t);
            c.on_result(false, t, &o);
        }
        assert_eq!(c.state(10), CircuitState::Open);
        assert!(!c.admits(50));
        assert_eq!(c.state(102), CircuitState::HalfOpen);
        c.on_start(102);
        assert!(!c.admits(103), "only one probe at a time");
        c.on_result(false, 103, &o);
        assert_eq!(c.state(250), CircuitState::Open, "cool-down doubled to 200 ms");
        assert_eq!(c.state(303), CircuitState::HalfOpen);
        c.on_start(303);
        c.on_result(true, 304, &o);
        assert_eq!(c.state(305), CircuitState::Closed);
    }

    #[test]
    fn cool_down_is_capped() {
        let o = CircuitOptions { failure_threshold: 1, open_ms: 400, max_open_ms: 1000 };
        let mut c = Circuit::new(&o);
        let mut now = 0;
        c.on_start(now);
        c.on_result(false, now, &o);
        for _ in 0..10 {
            now += 1000;
            assert_eq!(c.state(now), CircuitState::HalfOpen);
            c.on_start(now);
            c.on_result(false, now, &o);
        }
        assert_eq!(c.state(now + 999), CircuitState::Open);
        assert_eq!(c.state(now + 1000), CircuitState::HalfOpen);
    }
}
