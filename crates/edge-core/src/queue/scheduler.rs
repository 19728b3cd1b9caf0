//! The scheduler: every decision of the offline queue, with an undo log so the
//! host can keep it equal to SQLite when a transaction fails.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::backoff::SplitMix64;
use super::lane::{Entry, Lane, NEVER, Slot};
use super::*;

/// The set's keys are already keyed SipHash outputs: hashing them again would
/// only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeySet = HashSet<u64, BuildHasherDefault<PassThrough>>;

/// How to take back one change after a failed host transaction.
#[derive(Debug)]
enum Undo {
    Inserted { lane: usize, id: u64 },
    Removed { lane: usize, id: u64 },
    LaneState { lane: usize, failures: u32, next_attempt_ms: u64, in_flight: Vec<u64> },
}

/// The offline queue's decision maker. See the module docs for the
/// commit/rollback protocol.
pub struct Scheduler {
    config: Config,
    lanes: Vec<Lane>,
    lane_index: HashMap<String, usize>,
    keys: KeySet,
    next_id: u64,
    /// No idle entry expires before this second; lets `expire` skip its scan.
    min_expiry_s: u32,
    rng: SplitMix64,
    undo: Vec<Undo>,
    /// Packs payloads for `admit_framed`; keeps compression contexts warm.
    pub(super) codec: crate::codec::Codec,
}

impl Scheduler {
    pub fn new(config: Config) -> Self {
        Scheduler {
            config,
            lanes: Vec::new(),
            lane_index: HashMap::new(),
            keys: KeySet::default(),
            next_id: 1,
            min_expiry_s: NEVER,
            rng: SplitMix64::new(config.seed),
            undo: Vec::new(),
            codec: crate::codec::Codec::new(),
        }
    }

    /// Sets one destination's bounds and policy (creating it if new). Lowering
    /// bounds below what is queued evicts nothing; new calls see the new bounds.
    pub fn configure(&mut self, destination: &str, limits: Limits) -> Result<(), RejectReason> {
        let lane = self.lane_for(destination)?;
        self.lanes[lane].limits = limits;
        Ok(())
    }

    /// Allocates room for `items` calls of one destination and priority, of
    /// which `keyed` carry idempotency keys, before a rebuild: one allocation
    /// each instead of repeated doubling, which in a wasm memory that never
    /// shrinks would leave the outgrown buffers behind as dead weight.
    pub fn reserve(&mut self, destination: &str, priority: Priority, items: usize, keyed: usize) -> Result<(), RejectReason> {
        let lane = self.lane_for(destination)?;
        self.lanes[lane].reserve(priority, items);
        self.keys.reserve(keyed);
        Ok(())
    }

    /// Ids handed out from now on are at least `min` (the host persists its
    /// high-water mark, so ids of delivered calls are never reused).
    pub fn reserve_ids_below(&mut self, min: u64) {
        self.next_id = self.next_id.max(min.min(MAX_ID + 1));
    }

    /// The largest payload accepted, in bytes.
    pub fn max_item_bytes(&self) -> u32 {
        self.config.max_item_bytes.min(MAX_ITEM_BYTES)
    }

    /// The id the next admitted call will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Decides one call. See [`Decision`].
    pub fn admit(&mut self, req: &AdmitRequest, now_ms: u64) -> Decision {
        let r = AdmitRef { destination: &req.destination, priority: req.priority, bytes: req.bytes, key: req.idempotency_key.as_deref(), ttl_ms: req.ttl_ms };
        self.admit_ref(&r, now_ms)
    }

    /// Decides one call given by reference (no per-call allocation).
    pub(super) fn admit_ref(&mut self, req: &AdmitRef<'_>, now_ms: u64) -> Decision {
        match self.try_admit(req, now_ms) {
            Ok(d) | Err(d) => d,
        }
    }

    fn try_admit(&mut self, req: &AdmitRef<'_>, now_ms: u64) -> Result<Decision, Decision> {
        let lane = self.lane_for(req.destination).map_err(Decision::Reject)?;
        let limits = self.lanes[lane].limits;
        let limit = limits.max_bytes.min(u64::from(self.config.max_item_bytes.min(MAX_ITEM_BYTES)));
        if req.bytes > limit {
            return Err(Decision::Reject(RejectReason::TooLarge { bytes: req.bytes, limit }));
        }
        let key = req.key.map_or(0, |k| self.key_hash(req.destination, k));
        if key != 0 && self.keys.contains(&key) {
            return Err(Decision::Duplicate);
        }
        if self.next_id > MAX_ID {
            return Err(Decision::Reject(RejectReason::IdsExhausted));
        }
        let evicted = self.make_room(lane, req.priority, req.bytes)?;
        let id = self.next_id;
        self.next_id += 1;
        // A caller may shorten a call's life, never stretch it past the destination's bound.
        let ttl = match (req.ttl_ms, limits.default_ttl_ms) {
            (Some(asked), Some(bound)) => Some(asked.min(bound)),
            (asked, bound) => asked.or(bound),
        };
        let expires_at_ms = ttl.map(|t| now_ms.saturating_add(t));
        let expires_s = expires_at_ms.map_or(NEVER, to_expiry_s);
        self.insert(lane, req.priority, Entry::new(id, key, expires_s, req.bytes as u32));
        self.undo.push(Undo::Inserted { lane, id });
        Ok(Decision::Admit { id, expires_at_ms, evicted })
    }

    /// Frees room for a call per the lane's policy, or says why it cannot.
    fn make_room(&mut self, lane: usize, priority: Priority, bytes: u64) -> Result<Vec<Removed>, Decision> {
        let l = &self.lanes[lane];
        if l.fits(bytes) {
            return Ok(Vec::new());
        }
        let full = Decision::Reject(RejectReason::Full { items: l.items, bytes: l.bytes });
        if l.limits.overflow == OverflowPolicy::Reject || l.limits.max_items == 0 {
            return Err(full);
        }
        let plan = l.eviction_plan(priority, bytes).ok_or(full)?;
        Ok(plan.into_iter().map(|slot| self.remove_at(lane, slot)).collect())
    }

    /// Decides many calls in order (later ones see the earlier ones).
    pub fn admit_many(&mut self, reqs: &[AdmitRequest], now_ms: u64) -> Vec<Decision> {
        reqs.iter().map(|r| self.admit(r, now_ms)).collect()
    }

    /// Removes idle calls whose time to live has passed (at most `max`), so the
    /// host deletes their rows and reports each one.
    pub fn expire(&mut self, now_ms: u64, max: usize) -> Vec<Removed> {
        let now_s = now_ms / 1000;
        if now_s < u64::from(self.min_expiry_s) || max == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for lane in 0..self.lanes.len() {
            let slots = self.lanes[lane].expired_slots(now_s, max - out.len());
            out.extend(slots.into_iter().map(|s| self.remove_at(lane, s)));
        }
        // A full page means more may be waiting: scan again next time.
        self.min_expiry_s = if out.len() == max { 0 } else { self.lanes.iter().map(Lane::min_expiry_s).min().unwrap_or(NEVER) };
        out
    }

    /// Assembles the next batch for every destination that is due (its backoff
    /// has passed and it has no batch in flight): up to `max_items` calls and
    /// `max_bytes` bytes (at least one call), in delivery order.
    pub fn next_batches(&mut self, now_ms: u64, max_items: usize, max_bytes: u64) -> Vec<Batch> {
        let now_s = now_ms / 1000;
        let mut out = Vec::new();
        for lane in &mut self.lanes {
            if !lane.in_flight.is_empty() || lane.next_attempt_ms > now_ms || lane.items == 0 {
                continue;
            }
            let mut bytes = 0u64;
            let mut picked: Vec<(Slot, u64)> = Vec::new();
            for (slot, e) in lane.delivery_order().filter(|(_, e)| !e.expired(now_s)) {
                if picked.len() >= max_items || (!picked.is_empty() && bytes + e.bytes() > max_bytes) {
                    break;
                }
                bytes += e.bytes();
                picked.push((slot, e.id));
            }
            for &(slot, _) in &picked {
                lane.set_in_flight(slot, true);
            }
            lane.in_flight = picked.iter().map(|&(_, id)| id).collect();
            if !lane.in_flight.is_empty() {
                out.push(Batch { destination: lane.name.clone(), ids: lane.in_flight.clone() });
            }
        }
        out
    }

    /// Records how a batch went and decides the next attempt time.
    pub fn settle(&mut self, destination: &str, s: &Settlement, now_ms: u64) -> Option<SettleDecision> {
        let lane = *self.lane_index.get(destination)?;
        let l = &mut self.lanes[lane];
        let before = Undo::LaneState { lane, failures: l.failures, next_attempt_ms: l.next_attempt_ms, in_flight: l.in_flight.clone() };
        self.undo.push(before);
        let batch = std::mem::take(&mut self.lanes[lane].in_flight);
        let mut removed = Vec::new();
        for id in batch {
            let Some(slot) = self.lanes[lane].locate(id).filter(|&s| !self.lanes[lane].entry(s).gone()) else { continue };
            if s.delivered.contains(&id) || s.dropped.contains(&id) {
                removed.push(self.remove_at(lane, slot).id);
            } else {
                self.lanes[lane].set_in_flight(slot, false);
                self.note_expiry(self.lanes[lane].entry(slot).expires_s);
            }
        }
        let l = &mut self.lanes[lane];
        l.failures = if s.failed { l.failures.saturating_add(1) } else { 0 };
        // A destination that said when to come back is believed (within the
        // cap): retrying sooner earns another refusal, later wastes the link.
        let wait = match s.retry_after_ms {
            Some(asked) if s.failed => asked.min(self.config.backoff.max_ms),
            _ => self.config.backoff.delay_ms(l.failures, &mut self.rng),
        };
        l.next_attempt_ms = now_ms.saturating_add(wait);
        Some(SettleDecision { removed, next_attempt_ms: l.next_attempt_ms, failures: l.failures })
    }

    /// The destination asked not to be called for `wait_ms` (an HTTP
    /// Retry-After heard outside a delivery): no batch before then, at most
    /// the backoff's longest wait. Never brings an attempt forward. Returns
    /// when the destination may be tried next; None for an unknown one.
    pub fn hold(&mut self, destination: &str, wait_ms: u64, now_ms: u64) -> Option<u64> {
        let &lane = self.lane_index.get(destination)?;
        let until = now_ms.saturating_add(wait_ms.min(self.config.backoff.max_ms));
        let l = &mut self.lanes[lane];
        l.next_attempt_ms = l.next_attempt_ms.max(until);
        Some(l.next_attempt_ms)
    }

    /// Makes every destination (or one) due now: "sync now" after the link is back.
    pub fn wake(&mut self, destination: Option<&str>, now_ms: u64) {
        for l in self.lanes.iter_mut().filter(|l| destination.is_none_or(|d| d == l.name)) {
            l.next_attempt_ms = l.next_attempt_ms.min(now_ms);
        }
    }

    /// Removes one queued call that is not being sent.
    pub fn cancel(&mut self, id: u64) -> Result<Removed, CancelError> {
        for lane in 0..self.lanes.len() {
            let Some(slot) = self.lanes[lane].locate(id) else { continue };
            let e = self.lanes[lane].entry(slot);
            if e.gone() {
                return Err(CancelError::NotFound);
            }
            if e.in_flight() {
                return Err(CancelError::InFlight);
            }
            return Ok(self.remove_at(lane, slot));
        }
        Err(CancelError::NotFound)
    }

    /// Rebuilds state from stored rows (ascending ids are fastest). Rows that
    /// cannot be loaded come back with the reason; the rest are queued.
    pub fn load(&mut self, items: &[StoredItem]) -> Vec<(u64, LoadError)> {
        let mut bad = Vec::new();
        for it in items {
            if let Err(e) = self.load_one(it) {
                bad.push((it.id, e));
            }
        }
        bad
    }

    /// Rebuilds one destination and priority from columns (see
    /// [`StoredColumns`]). Column lengths must agree; a mismatch rejects every
    /// row of the call with `BadSize` rather than guessing.
    pub fn load_columns(&mut self, destination: &str, priority: Priority, c: &StoredColumns) -> Vec<(u64, LoadError)> {
        let n = c.ids.len();
        let total_keys: u64 = c.key_lengths.iter().map(|&l| u64::from(l)).sum();
        if c.sizes.len() != n || c.expires_at_ms.len() != n || c.key_lengths.len() != n || total_keys != c.keys.len() as u64 {
            return c.ids.iter().map(|&id| (id, LoadError::BadSize)).collect();
        }
        let mut bad = Vec::new();
        let mut at = 0usize;
        for i in 0..n {
            let end = at + c.key_lengths[i] as usize;
            // A length that splits a UTF-8 sequence makes the key unreadable: no key.
            let key = c.keys.get(at..end).filter(|k| !k.is_empty()).map(str::to_owned);
            at = end;
            let expires_at_ms = Some(c.expires_at_ms[i]).filter(|&e| e != 0);
            let item = StoredItem { id: c.ids[i], destination: destination.to_owned(), priority, bytes: u64::from(c.sizes[i]), expires_at_ms, idempotency_key: key };
            if let Err(e) = self.load_one(&item) {
                bad.push((item.id, e));
            }
        }
        bad
    }

    fn load_one(&mut self, it: &StoredItem) -> Result<(), LoadError> {
        let lane = self.lane_for(&it.destination).map_err(|_| LoadError::BadDestination)?;
        if it.bytes > u64::from(MAX_ITEM_BYTES) {
            return Err(LoadError::BadSize);
        }
        // Rows arrive in ascending id order, so an id at or past `next_id` is new
        // without a search; only out-of-order ids pay for one.
        if it.id == 0 || it.id > MAX_ID {
            return Err(LoadError::BadId);
        }
        if it.id < self.next_id && self.lanes.iter().any(|l| l.locate(it.id).is_some()) {
            return Err(LoadError::DuplicateId);
        }
        let key = it.idempotency_key.as_deref().map_or(0, |k| self.key_hash(&it.destination, k));
        let expires_s = it.expires_at_ms.map_or(NEVER, to_expiry_s);
        self.insert(lane, it.priority, Entry::new(it.id, key, expires_s, it.bytes as u32));
        self.next_id = self.next_id.max(it.id + 1);
        Ok(())
    }

    /// The host's transaction committed: forget how to undo, drop tombstones.
    pub fn commit(&mut self) {
        self.undo.clear();
        self.lanes.iter_mut().for_each(Lane::tidy);
    }

    /// The host's transaction failed: put everything back as it was at the
    /// last commit.
    pub fn rollback(&mut self) {
        while let Some(u) = self.undo.pop() {
            match u {
                Undo::Inserted { lane, id } => {
                    if let Some(slot) = self.lanes[lane].locate(id) {
                        let e = self.lanes[lane].remove(slot);
                        self.keys.remove(&e.key);
                    }
                }
                Undo::Removed { lane, id } => {
                    if let Some(slot) = self.lanes[lane].locate(id) {
                        let e = self.lanes[lane].revive(slot);
                        if e.key != 0 {
                            self.keys.insert(e.key);
                        }
                        self.note_expiry(e.expires_s);
                    }
                }
                Undo::LaneState { lane, failures, next_attempt_ms, in_flight } => self.restore_lane(lane, failures, next_attempt_ms, in_flight),
            }
        }
        self.lanes.iter_mut().for_each(Lane::tidy);
    }

    fn restore_lane(&mut self, lane: usize, failures: u32, next_attempt_ms: u64, in_flight: Vec<u64>) {
        let l = &mut self.lanes[lane];
        for &id in &in_flight {
            if let Some(slot) = l.locate(id) {
                l.set_in_flight(slot, true);
            }
        }
        (l.failures, l.next_attempt_ms, l.in_flight) = (failures, next_attempt_ms, in_flight);
    }

    /// Every destination's counters.
    pub fn status(&self) -> Vec<LaneStatus> {
        self.lanes
            .iter()
            .map(|l| LaneStatus {
                destination: l.name.clone(),
                items: l.items,
                bytes: l.bytes,
                oldest_id: l.oldest_id(),
                in_flight: l.in_flight.len() as u32,
                failures: l.failures,
                next_attempt_ms: l.next_attempt_ms,
                limits: l.limits,
            })
            .collect()
    }

    /// Total queued calls across destinations.
    pub fn len(&self) -> u64 {
        self.lanes.iter().map(|l| l.items).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(test)]
    pub(super) fn status_lanes(&self) -> &[Lane] {
        &self.lanes
    }

    fn lane_for(&mut self, destination: &str) -> Result<usize, RejectReason> {
        if let Some(&i) = self.lane_index.get(destination) {
            return Ok(i);
        }
        if destination.is_empty() || destination.len() > MAX_DESTINATION_LEN {
            return Err(RejectReason::BadDestination);
        }
        self.lanes.push(Lane::new(destination.to_owned(), self.config.default_limits));
        self.lane_index.insert(destination.to_owned(), self.lanes.len() - 1);
        Ok(self.lanes.len() - 1)
    }

    fn insert(&mut self, lane: usize, priority: Priority, entry: Entry) {
        if entry.key != 0 {
            self.keys.insert(entry.key);
        }
        self.note_expiry(entry.expires_s);
        self.lanes[lane].push(priority, entry);
    }

    fn remove_at(&mut self, lane: usize, slot: Slot) -> Removed {
        let e = self.lanes[lane].remove(slot);
        if e.key != 0 {
            self.keys.remove(&e.key);
        }
        self.undo.push(Undo::Removed { lane, id: e.id });
        Removed { id: e.id, destination: self.lanes[lane].name.clone() }
    }

    fn note_expiry(&mut self, expires_s: u32) {
        self.min_expiry_s = self.min_expiry_s.min(expires_s);
    }

    /// Keyed SipHash of (destination, key): a client cannot aim a collision at
    /// someone else's key without the host's secret seed. UTF-8 never contains
    /// 0xff, so the separator keeps the pair unambiguous.
    fn key_hash(&self, destination: &str, key: &str) -> u64 {
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new_with_keys(self.config.seed, self.config.seed ^ 0x6d63_702d_6564_6765);
        h.write(destination.as_bytes());
        h.write_u8(0xff);
        h.write(key.as_bytes());
        h.finish().max(1)
    }
}

/// Seconds, rounded up, so an item never expires before its time.
fn to_expiry_s(ms: u64) -> u32 {
    ms.div_ceil(1000).min(u64::from(NEVER - 1)) as u32
}
