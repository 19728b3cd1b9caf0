use super::*;

fn router() -> Router {
    Router::new(RouterOptions::default()).unwrap()
}

/// splitmix64: a seeded, dependency-free source for the property tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn faster_replica_ranks_first() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let b = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a, b]).unwrap();
    for now in 0..5 {
        r.record_start(t, a, now).unwrap();
        r.record_result(t, a, 40.0, Outcome::Ok, now).unwrap();
        r.record_start(t, b, now).unwrap();
        r.record_result(t, b, 5.0, Outcome::Ok, now).unwrap();
    }
    assert_eq!(r.select(t, 10).unwrap(), vec![b, a]);
}

#[test]
fn a_timed_out_replica_ranks_behind_one_that_answers() {
    let mut r = router();
    let hung = r.add_provider(Weights::default()).unwrap();
    let fine = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[hung, fine]).unwrap();
    assert_eq!(r.select(t, 0).unwrap()[0], hung, "equal at first: ties break by handle");
    r.record_start(t, hung, 0).unwrap();
    r.record_result(t, hung, 400.0, Outcome::Timeout, 400).unwrap();
    r.record_start(t, fine, 400).unwrap();
    r.record_result(t, fine, 3.0, Outcome::Ok, 403).unwrap();
    assert_eq!(r.select(t, 403).unwrap(), vec![fine, hung]);
}

#[test]
fn begin_selects_and_starts_the_best() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let b = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a, b]).unwrap();
    assert_eq!(r.begin(t, 0).unwrap(), vec![a, b]);
    assert_eq!(r.stats(a, 0).unwrap().in_flight, 1);
    assert_eq!(r.begin(t, 0).unwrap(), vec![b, a], "a is busy now");
    r.set_available(a, false).unwrap();
    r.set_available(b, false).unwrap();
    assert!(r.begin(t, 0).unwrap().is_empty());
}

#[test]
fn in_flight_load_spreads_calls() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let b = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a, b]).unwrap();
    assert_eq!(r.select(t, 0).unwrap()[0], a, "ties break by handle");
    r.record_start(t, a, 0).unwrap();
    assert_eq!(r.select(t, 0).unwrap()[0], b, "a is busy");
}

#[test]
fn locality_and_cost_weights_count() {
    let mut r = router();
    let near = r.add_provider(Weights { locality_ms: 0.0, cost: 0.0, energy: 0.0 }).unwrap();
    let far = r.add_provider(Weights { locality_ms: 0.0, cost: 0.0, energy: 0.0 }).unwrap();
    r.set_weights(near, Weights { locality_ms: 100.0, ..Weights::default() }).unwrap();
    let t = r.add_tool(&[near, far]).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![far, near]);
    r.set_weights(far, Weights { cost: 20.0, ..Weights::default() }).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![near, far], "cost 20 x 10 ms outweighs 100 ms");
}

#[test]
fn saver_mode_counts_energy() {
    let mut r = router();
    let hungry = r.add_provider(Weights { energy: 1.0, ..Weights::default() }).unwrap();
    let frugal = r.add_provider(Weights { locality_ms: 10.0, ..Weights::default() }).unwrap();
    let t = r.add_tool(&[hungry, frugal]).unwrap();
    assert_eq!(r.select(t, 0).unwrap()[0], hungry);
    r.set_power_mode(PowerMode::Saver);
    assert_eq!(r.select(t, 0).unwrap()[0], frugal);
}

#[test]
fn failing_provider_opens_and_recovers_through_a_probe() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let b = r.add_provider(Weights { locality_ms: 50.0, ..Weights::default() }).unwrap();
    let t = r.add_tool(&[a, b]).unwrap();
    for now in 0..5 {
        r.record_start(t, a, now).unwrap();
        r.record_result(t, a, 1.0, Outcome::Timeout, now).unwrap();
    }
    assert_eq!(r.stats(a, 5).unwrap().circuit, CircuitState::Open);
    assert_eq!(r.select(t, 5).unwrap(), vec![b]);
    let later = 5 + RouterOptions::default().circuit.open_ms;
    assert_eq!(r.select(t, later).unwrap(), vec![a, b], "half-open: a goes first as the probe");
    r.record_start(t, a, later).unwrap();
    assert_eq!(r.select(t, later).unwrap(), vec![b], "one probe at a time");
    r.record_result(t, a, 1.0, Outcome::Ok, later).unwrap();
    assert_eq!(r.stats(a, later).unwrap().circuit, CircuitState::Closed);
}

#[test]
fn unavailable_provider_is_skipped_until_it_returns() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a]).unwrap();
    r.set_available(a, false).unwrap();
    assert!(r.select(t, 0).unwrap().is_empty());
    r.set_available(a, true).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![a]);
}

#[test]
fn set_replicas_keeps_statistics_of_the_remaining() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let b = r.add_provider(Weights::default()).unwrap();
    let c = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a, b]).unwrap();
    r.record_start(t, a, 0).unwrap();
    r.record_result(t, a, 30.0, Outcome::Ok, 0).unwrap();
    r.set_replicas(t, &[c, a, c]).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![c, a]);
}

#[test]
fn bad_handles_and_options_are_typed_errors() {
    let mut r = router();
    assert_eq!(r.select(9, 0), Err(RouterError::UnknownTool(9)));
    assert_eq!(r.add_tool(&[3]), Err(RouterError::UnknownProvider(3)));
    assert_eq!(r.record_start(0, 0, 0), Err(RouterError::UnknownProvider(0)));
    assert_eq!(r.add_provider(Weights { cost: -1.0, ..Weights::default() }), Err(RouterError::InvalidWeights));
    let bad = RouterOptions { latency_alpha: 0.0, ..RouterOptions::default() };
    assert!(matches!(Router::new(bad), Err(RouterError::InvalidOptions(_))));
    let a = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a]).unwrap();
    r.record_result(t, a, f64::NAN, Outcome::Ok, 0).unwrap();
    assert_eq!(r.stats(a, 0).unwrap().latency_ms, Some(0.0));
    r.remove_tool(t).unwrap();
    assert_eq!(r.remove_tool(t), Err(RouterError::UnknownTool(t)));
}

/// Regression: a call whose tool left the table mid-call (its upstream was
/// killed) must still end, or the provider stays "in flight" for ever.
#[test]
fn a_call_outliving_its_tool_still_balances_the_provider() {
    let mut r = router();
    let a = r.add_provider(Weights::default()).unwrap();
    let t = r.add_tool(&[a]).unwrap();
    r.begin(t, 0).unwrap();
    r.remove_tool(t).unwrap();
    r.record_result(t, a, 5.0, Outcome::Error, 1).unwrap();
    let s = r.stats(a, 1).unwrap();
    assert_eq!((s.in_flight, s.calls, s.failures), (0, 1, 1));
}

/// Random operation sequences: select never panics, returns each admissible
/// replica at most once, never an open or unavailable one, is deterministic,
/// and in-flight counts return to zero when every call has ended.
#[test]
fn property_random_sequences_keep_invariants() {
    for seed in 0..200u64 {
        let mut rng = Rng(seed);
        let mut r = router();
        let n = 1 + rng.below(5) as u32;
        for _ in 0..n {
            r.add_provider(Weights { locality_ms: rng.below(20) as f64, cost: 0.0, energy: 0.0 }).unwrap();
        }
        let replicas: Vec<u32> = (0..n).filter(|_| rng.below(3) > 0).collect();
        let t = r.add_tool(&replicas).unwrap();
        let mut open_calls: Vec<u32> = Vec::new();
        let mut now = 0u64;
        for _ in 0..300 {
            now += rng.below(500);
            match rng.below(4) {
                0 => {
                    let picked = r.select(t, now).unwrap();
                    if let Some(p) = picked.first() {
                        r.record_start(t, *p, now).unwrap();
                        open_calls.push(*p);
                    }
                }
                1 if !open_calls.is_empty() => {
                    let p = open_calls.remove(rng.below(open_calls.len() as u64) as usize);
                    let outcome = [Outcome::Ok, Outcome::Error, Outcome::Timeout][rng.below(3) as usize];
                    r.record_result(t, p, rng.below(100) as f64, outcome, now).unwrap();
                }
                2 => r.set_available(rng.below(u64::from(n)) as u32, rng.below(4) > 0).unwrap(),
                _ => {}
            }
            let picked = r.select(t, now).unwrap();
            assert_eq!(picked, r.select(t, now).unwrap(), "deterministic");
            let mut seen = picked.clone();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), picked.len(), "no duplicates");
            for p in &picked {
                assert!(replicas.contains(p));
                let s = r.stats(*p, now).unwrap();
                assert!(s.available && s.circuit != CircuitState::Open);
                assert!((0.0..=1.0).contains(&s.error_rate));
            }
        }
        for p in open_calls.drain(..) {
            r.record_result(t, p, 1.0, Outcome::Ok, now).unwrap();
        }
        for p in 0..n {
            assert_eq!(r.stats(p, now).unwrap().in_flight, 0, "seed {seed}");
        }
    }
}

#[test]
fn preferred_replicas_rank_first_and_the_others_stay_as_fallback() {
    let mut r = router();
    let local = r.add_provider(Weights::default()).unwrap();
    let far = r.add_provider(Weights { locality_ms: 50.0, cost: 0.0, energy: 0.0 }).unwrap();
    let near = r.add_provider(Weights { locality_ms: 5.0, cost: 0.0, energy: 0.0 }).unwrap();
    let t = r.add_tool(&[local, far, near]).unwrap();
    // By score alone the local one (no locality) wins.
    assert_eq!(r.select(t, 0).unwrap(), vec![local, near, far]);
    r.set_preferred(t, &[far, near]).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![near, far, local]);
    // The preferred ones gone, the fallback serves.
    r.set_available(near, false).unwrap();
    r.set_available(far, false).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![local]);
    // The mark survives a change of replicas for those that stay; an empty list clears it.
    r.set_available(near, true).unwrap();
    r.set_replicas(t, &[local, near]).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![near, local]);
    r.set_preferred(t, &[]).unwrap();
    assert_eq!(r.select(t, 0).unwrap(), vec![local, near]);
    assert_eq!(r.set_preferred(t, &[99]), Err(RouterError::UnknownProvider(99)));
    assert_eq!(r.set_preferred(77, &[local]), Err(RouterError::UnknownTool(77)));
}
