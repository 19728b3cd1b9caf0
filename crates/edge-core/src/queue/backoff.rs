//! Retry times: exponential backoff with jitter from a host-seeded PRNG.

/// SplitMix64: tiny, fast and good enough for jitter; deterministic per seed so
/// a test can replay a schedule exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..=bound` (inclusive), without modulo bias worth caring about
    /// for jitter (the 128-bit multiply keeps it uniform to 2^-64).
    pub fn up_to(&mut self, bound: u64) -> u64 {
        if bound == u64::MAX {
            return self.next_u64();
        }
        ((self.next_u64() as u128 * (bound as u128 + 1)) >> 64) as u64
    }
}

/// The retry schedule: the n-th consecutive failure waits
/// `min(max, base * 2^(n-1))`, of which the upper `jitter_percent` is random.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure, in milliseconds.
    pub base_ms: u64,
    /// Longest wait, in milliseconds.
    pub max_ms: u64,
    /// Share of each wait (0-100) drawn at random, so that many edge devices
    /// coming back at once do not retry in lockstep.
    pub jitter_percent: u8,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base_ms: 1_000, max_ms: 5 * 60 * 1000, jitter_percent: 50 }
    }
}

impl Backoff {
    /// The wait before the next attempt after `failures` consecutive failures.
    pub fn delay_ms(&self, failures: u32, rng: &mut SplitMix64) -> u64 {
        if failures == 0 {
            return 0;
        }
        let shift = (failures - 1).min(62);
        let full = self.base_ms.saturating_mul(1u64 << shift).min(self.max_ms);
        let jitter = full / 100 * u64::from(self.jitter_percent.min(100));
        full - jitter + rng.up_to(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap_and_stay_in_the_jitter_window() {
        let b = Backoff { base_ms: 100, max_ms: 10_000, jitter_percent: 50 };
        let mut rng = SplitMix64::new(7);
        assert_eq!(b.delay_ms(0, &mut rng), 0);
        for n in 1..40u32 {
            let full = (100u64 << (n - 1).min(62)).min(10_000);
            let d = b.delay_ms(n, &mut rng);
            assert!(d >= full / 2 && d <= full, "n={n} d={d} full={full}");
        }
    }

    #[test]
    fn same_seed_same_schedule() {
        let b = Backoff::default();
        let run = |seed| {
            let mut rng = SplitMix64::new(seed);
            (1..20).map(|n| b.delay_ms(n, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn no_jitter_is_exact_and_huge_counts_do_not_overflow() {
        let b = Backoff { base_ms: u64::MAX / 2, max_ms: u64::MAX, jitter_percent: 0 };
        let mut rng = SplitMix64::new(1);
        assert_eq!(b.delay_ms(u32::MAX, &mut rng), u64::MAX);
        assert_eq!(SplitMix64::new(3).up_to(0), 0);
    }
}
