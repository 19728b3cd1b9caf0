//! The model: a plain list of items with the rules written out longhand. The
//! scheduler must make the same decision as the model at every step of many
//! random runs (seeded, so a failure names its seed and replays).

use super::super::*;
use super::DESTS;

#[derive(Clone, Debug)]
struct Item {
    id: u64,
    dest: usize,
    priority: Priority,
    bytes: u64,
    expires_at_ms: Option<u64>,
    key: Option<String>,
    in_flight: bool,
}

#[derive(Clone, Debug)]
struct Model {
    items: Vec<Item>,
    limits: [Limits; 3],
    next_id: u64,
    in_flight: [Vec<u64>; 3],
    failures: [u32; 3],
    next_attempt: [u64; 3],
    rng: SplitMix64,
    backoff: Backoff,
}

fn expired(it: &Item, now_ms: u64) -> bool {
    it.expires_at_ms.is_some_and(|e| now_ms / 1000 >= e.div_ceil(1000))
}

impl Model {
    fn lane(&self, d: usize) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |it| it.dest == d)
    }

    fn totals(&self, d: usize) -> (u64, u64) {
        self.lane(d).fold((0, 0), |(n, b), it| (n + 1, b + it.bytes))
    }

    fn admit(&mut self, r: &AdmitRequest, d: usize, now_ms: u64) -> Decision {
        let lim = self.limits[d];
        let limit = lim.max_bytes.min(4096);
        if r.bytes > limit {
            return Decision::Reject(RejectReason::TooLarge { bytes: r.bytes, limit });
        }
        if r.idempotency_key.is_some() && self.lane(d).any(|it| it.key == r.idempotency_key) {
            return Decision::Duplicate;
        }
        let (n, b) = self.totals(d);
        let mut evicted = Vec::new();
        if n + 1 > lim.max_items || b + r.bytes > lim.max_bytes {
            let full = Decision::Reject(RejectReason::Full { items: n, bytes: b });
            if lim.overflow == OverflowPolicy::Reject || lim.max_items == 0 {
                return full;
            }
            let mut cands: Vec<&Item> = self.lane(d).filter(|it| !it.in_flight && it.priority <= r.priority).collect();
            cands.sort_by_key(|it| (it.priority, it.id));
            let (mut n2, mut b2) = (n + 1, b + r.bytes);
            for it in cands {
                if n2 <= lim.max_items && b2 <= lim.max_bytes {
                    break;
                }
                evicted.push(it.id);
                n2 -= 1;
                b2 -= it.bytes;
            }
            if n2 > lim.max_items || b2 > lim.max_bytes {
                return full;
            }
        }
        self.items.retain(|it| !evicted.contains(&it.id));
        let id = self.next_id;
        self.next_id += 1;
        let ttl = match (r.ttl_ms, lim.default_ttl_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let expires_at_ms = ttl.map(|t| now_ms + t);
        let key = r.idempotency_key.clone();
        self.items.push(Item { id, dest: d, priority: r.priority, bytes: r.bytes, expires_at_ms, key, in_flight: false });
        let evicted = evicted.into_iter().map(|id| Removed { id, destination: DESTS[d].into() }).collect();
        Decision::Admit { id, expires_at_ms, evicted }
    }

    fn expire(&mut self, now_ms: u64) -> Vec<u64> {
        let gone: Vec<u64> = self.items.iter().filter(|it| !it.in_flight && expired(it, now_ms)).map(|it| it.id).collect();
        for it in &self.items {
            if gone.contains(&it.id) {
                assert!(now_ms >= it.expires_at_ms.unwrap(), "expired early");
            }
        }
        self.items.retain(|it| !gone.contains(&it.id));
        gone
    }

    #[allow(clippy::needless_range_loop)]
    fn batches(&mut self, now_ms: u64, max_items: usize, max_bytes: u64) -> Vec<Batch> {
        let mut out = Vec::new();
        for d in 0..3 {
            if !self.in_flight[d].is_empty() || self.next_attempt[d] > now_ms {
                continue;
            }
            let mut lane: Vec<&mut Item> = self.items.iter_mut().filter(|it| it.dest == d && !expired(it, now_ms)).collect();
            lane.sort_by_key(|it| (std::cmp::Reverse(it.priority), it.id));
            let (mut ids, mut bytes) = (Vec::new(), 0);
            for it in lane {
                if ids.len() >= max_items || (!ids.is_empty() && bytes + it.bytes > max_bytes) {
                    break;
                }
                bytes += it.bytes;
                it.in_flight = true;
                ids.push(it.id);
            }
            if !ids.is_empty() {
                self.in_flight[d] = ids.clone();
                out.push(Batch { destination: DESTS[d].into(), ids });
            }
        }
        out
    }

    fn settle(&mut self, d: usize, s: &Settlement, now_ms: u64) -> SettleDecision {
        let batch = std::mem::take(&mut self.in_flight[d]);
        let removed: Vec<u64> = batch.iter().copied().filter(|id| s.delivered.contains(id) || s.dropped.contains(id)).collect();
        self.items.retain(|it| !removed.contains(&it.id));
        self.items.iter_mut().filter(|it| batch.contains(&it.id)).for_each(|it| it.in_flight = false);
        self.failures[d] = if s.failed { self.failures[d] + 1 } else { 0 };
        self.next_attempt[d] = now_ms + self.backoff.delay_ms(self.failures[d], &mut self.rng);
        SettleDecision { removed, next_attempt_ms: self.next_attempt[d], failures: self.failures[d] }
    }

    fn cancel(&mut self, id: u64) -> Result<Removed, CancelError> {
        let pos = self.items.iter().position(|it| it.id == id).ok_or(CancelError::NotFound)?;
        if self.items[pos].in_flight {
            return Err(CancelError::InFlight);
        }
        let it = self.items.remove(pos);
        Ok(Removed { id, destination: DESTS[it.dest].into() })
    }
}

fn random_limits(rng: &mut SplitMix64) -> Limits {
    let overflow = if rng.up_to(1) == 0 { OverflowPolicy::Reject } else { OverflowPolicy::DropOldestLowestPriority };
    let default_ttl_ms = [None, Some(2_000), Some(30_000)][rng.up_to(2) as usize];
    Limits { max_items: rng.up_to(12), max_bytes: 50 + rng.up_to(400), overflow, default_ttl_ms }
}

fn run(seed: u64, steps: usize) {
    let mut rng = SplitMix64::new(seed);
    let backoff = Backoff { base_ms: 50, max_ms: 2_000, jitter_percent: 30 };
    let cfg = Config { max_item_bytes: 4096, backoff, seed, ..Config::default() };
    let mut s = Scheduler::new(cfg);
    let limits = [random_limits(&mut rng), random_limits(&mut rng), random_limits(&mut rng)];
    for (d, l) in DESTS.iter().zip(limits) {
        s.configure(d, l).unwrap();
    }
    let mut m = Model { items: vec![], limits, next_id: 1, in_flight: Default::default(), failures: [0; 3], next_attempt: [0; 3], rng: SplitMix64::new(seed), backoff };
    let mut now = 1_000u64;
    for step in 0..steps {
        let snapshot = m.clone();
        now += rng.up_to(700);
        let transactional = step_once(&mut s, &mut m, &mut rng, now, seed, step);
        if transactional && rng.up_to(9) == 0 {
            // The host's transaction failed: both go back to the last commit.
            // The jitter PRNG is not part of the rollback, on purpose.
            s.rollback();
            m = Model { rng: m.rng.clone(), next_id: m.next_id, ..snapshot };
        } else {
            s.commit();
        }
        check_counters(&s, &m, seed, step);
    }
}

/// Runs one random operation; says whether the host would write SQLite for it
/// (assembling a batch writes nothing, so it is never rolled back).
fn step_once(s: &mut Scheduler, m: &mut Model, rng: &mut SplitMix64, now: u64, seed: u64, step: usize) -> bool {
    let d = rng.up_to(2) as usize;
    match rng.up_to(9) {
        0..=3 => {
            let priority = Priority::from_code(rng.up_to(3) as u8).unwrap();
            let key = (rng.up_to(1) == 0).then(|| format!("k{}", rng.up_to(15)));
            let ttl_ms = (rng.up_to(3) == 0).then(|| rng.up_to(5_000));
            let r = AdmitRequest { destination: DESTS[d].into(), priority, bytes: 1 + rng.up_to(120), idempotency_key: key, ttl_ms };
            assert_eq!(s.admit(&r, now), m.admit(&r, d, now), "seed {seed} step {step} admit {r:?}");
        }
        4 => {
            let mut got: Vec<u64> = s.expire(now, 1000).into_iter().map(|r| r.id).collect();
            got.sort_unstable();
            assert_eq!(got, m.expire(now), "seed {seed} step {step} expire");
        }
        5 | 6 => {
            let (mi, mb) = (1 + rng.up_to(4) as usize, 1 + rng.up_to(300));
            assert_eq!(s.next_batches(now, mi, mb), m.batches(now, mi, mb), "seed {seed} step {step} batches");
            return false;
        }
        7 | 8 => {
            let batch = m.in_flight[d].clone();
            let delivered: Vec<u64> = batch.iter().copied().filter(|_| rng.up_to(1) == 0).collect();
            let settlement = Settlement { delivered, dropped: vec![], failed: rng.up_to(1) == 0, retry_after_ms: None };
            assert_eq!(s.settle(DESTS[d], &settlement, now), Some(m.settle(d, &settlement, now)), "seed {seed} step {step} settle");
        }
        _ => {
            let id = rng.up_to(m.next_id);
            assert_eq!(s.cancel(id), m.cancel(id), "seed {seed} step {step} cancel {id}");
        }
    }
    true
}

fn check_counters(s: &Scheduler, m: &Model, seed: u64, step: usize) {
    for st in s.status() {
        let d = DESTS.iter().position(|x| *x == st.destination).unwrap();
        let (n, b) = m.totals(d);
        assert_eq!((st.items, st.bytes), (n, b), "seed {seed} step {step} counters of {}", st.destination);
        assert_eq!(st.oldest_id, m.lane(d).map(|it| it.id).min(), "seed {seed} step {step} oldest");
        assert_eq!(st.in_flight as usize, m.in_flight[d].len(), "seed {seed} step {step} in flight");
    }
}

#[test]
fn scheduler_agrees_with_the_model_over_random_runs() {
    for seed in 0..300 {
        run(seed, 400);
    }
}
