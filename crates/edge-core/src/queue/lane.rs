//! One destination's queued calls: four FIFO queues (one per priority) of
//! 24-byte entries sorted by id, with lazy tombstones so that removing from the
//! middle (cancel, expiry, eviction) is O(log n) and an undo is a flag flip.

use std::collections::VecDeque;

use super::{Limits, Priority};

/// The entry is part of the batch being sent.
const IN_FLIGHT: u32 = 1 << 31;
/// The entry was removed; it stays until `tidy` so that an undo can revive it.
const GONE: u32 = 1 << 30;
const SIZE_MASK: u32 = GONE - 1;
/// `expires_s` of an entry that never expires.
pub(super) const NEVER: u32 = u32::MAX;

/// A queued call as the core sees it: no payload, no strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    pub id: u64,
    /// Keyed hash of (destination, idempotency key); 0 when the call has none.
    pub key: u64,
    /// Expiry in whole seconds, rounded up so that nothing expires early.
    pub expires_s: u32,
    /// Payload size in the low 30 bits, `IN_FLIGHT` and `GONE` above.
    bits: u32,
}

impl Entry {
    pub fn new(id: u64, key: u64, expires_s: u32, bytes: u32) -> Self {
        Entry { id, key, expires_s, bits: bytes & SIZE_MASK }
    }
    pub fn bytes(&self) -> u64 {
        u64::from(self.bits & SIZE_MASK)
    }
    pub fn gone(&self) -> bool {
        self.bits & GONE != 0
    }
    pub fn in_flight(&self) -> bool {
        self.bits & IN_FLIGHT != 0
    }
    /// Queued, not being sent: may be sent, evicted, expired or cancelled.
    pub fn idle(&self) -> bool {
        self.bits & (GONE | IN_FLIGHT) == 0
    }
    pub fn expired(&self, now_s: u64) -> bool {
        self.expires_s != NEVER && now_s >= u64::from(self.expires_s)
    }
}

/// Where an entry sits: priority level and index in that level's queue.
pub(super) type Slot = (usize, usize);

/// One destination.
#[derive(Debug)]
pub(super) struct Lane {
    pub name: String,
    pub limits: Limits,
    queues: [VecDeque<Entry>; 4],
    tombstones: [usize; 4],
    pub items: u64,
    pub bytes: u64,
    /// Ids of the batch being sent, in delivery order; at most one batch per lane.
    pub in_flight: Vec<u64>,
    pub failures: u32,
    pub next_attempt_ms: u64,
}

impl Lane {
    pub fn new(name: String, limits: Limits) -> Self {
        Lane {
            name,
            limits,
            queues: Default::default(),
            tombstones: [0; 4],
            items: 0,
            bytes: 0,
            in_flight: Vec::new(),
            failures: 0,
            next_attempt_ms: 0,
        }
    }

    /// Makes room for `additional` entries of one priority in one allocation.
    pub fn reserve(&mut self, priority: Priority, additional: usize) {
        self.queues[priority as usize].reserve_exact(additional);
    }

    /// Finds an entry (live or tombstone) by id.
    pub fn locate(&self, id: u64) -> Option<Slot> {
        self.queues.iter().enumerate().find_map(|(p, q)| q.binary_search_by_key(&id, |e| e.id).ok().map(|i| (p, i)))
    }

    pub fn entry(&self, (p, i): Slot) -> &Entry {
        &self.queues[p][i]
    }

    /// Adds a live entry, keeping the queue sorted by id.
    pub fn push(&mut self, priority: Priority, entry: Entry) {
        let q = &mut self.queues[priority as usize];
        match q.back() {
            Some(last) if last.id > entry.id => {
                let at = q.partition_point(|e| e.id < entry.id);
                q.insert(at, entry);
            }
            _ => q.push_back(entry),
        }
        self.items += 1;
        self.bytes += entry.bytes();
    }

    /// Marks a live entry removed and returns a copy of it.
    pub fn remove(&mut self, (p, i): Slot) -> Entry {
        let e = &mut self.queues[p][i];
        debug_assert!(!e.gone());
        e.bits |= GONE;
        self.tombstones[p] += 1;
        self.items -= 1;
        self.bytes -= e.bytes();
        *e
    }

    /// Undoes `remove` (flags other than `GONE` are kept as they were).
    pub fn revive(&mut self, (p, i): Slot) -> Entry {
        let e = &mut self.queues[p][i];
        debug_assert!(e.gone());
        e.bits &= !GONE;
        self.tombstones[p] -= 1;
        self.items += 1;
        self.bytes += e.bytes();
        *e
    }

    pub fn set_in_flight(&mut self, (p, i): Slot, on: bool) {
        let e = &mut self.queues[p][i];
        if on { e.bits |= IN_FLIGHT } else { e.bits &= !IN_FLIGHT }
    }

    /// Drops tombstones for good: from both ends always, from the middle when
    /// they are more than half of a queue (so memory follows the live count).
    pub fn tidy(&mut self) {
        for (q, dead) in self.queues.iter_mut().zip(self.tombstones.iter_mut()) {
            while q.front().is_some_and(Entry::gone) {
                q.pop_front();
                *dead -= 1;
            }
            while q.back().is_some_and(Entry::gone) {
                q.pop_back();
                *dead -= 1;
            }
            if *dead > 32 && *dead * 2 > q.len() {
                q.retain(|e| !e.gone());
                *dead = 0;
            }
            if q.capacity() > 64 && q.len() * 4 < q.capacity() {
                q.shrink_to(q.len() * 2);
            }
        }
    }

    /// Live entries, highest priority first and oldest first within a priority:
    /// the delivery order.
    pub fn delivery_order(&self) -> impl Iterator<Item = (Slot, &Entry)> {
        (0..4).rev().flat_map(move |p| self.live_in(p))
    }

    /// Live entries of one priority level, oldest first.
    pub fn live_in(&self, p: usize) -> impl Iterator<Item = (Slot, &Entry)> {
        self.queues[p].iter().enumerate().filter(|(_, e)| !e.gone()).map(move |(i, e)| ((p, i), e))
    }

    /// The smallest expiry among idle entries, in seconds.
    pub fn min_expiry_s(&self) -> u32 {
        self.queues.iter().flatten().filter(|e| e.idle()).map(|e| e.expires_s).min().unwrap_or(NEVER)
    }

    pub fn oldest_id(&self) -> Option<u64> {
        self.queues.iter().filter_map(|q| q.iter().find(|e| !e.gone()).map(|e| e.id)).min()
    }

    /// Slots of idle, expired entries (up to `max`).
    pub fn expired_slots(&self, now_s: u64, max: usize) -> Vec<Slot> {
        let all = (0..4).flat_map(|p| self.live_in(p));
        all.filter(|(_, e)| e.idle() && e.expired(now_s)).map(|(s, _)| s).take(max).collect()
    }

    /// Plans which idle entries to evict so that one more call of `bytes` at
    /// `priority` fits: lowest priority first, oldest first, never above the
    /// new call's priority. `None` when no such plan exists.
    pub fn eviction_plan(&self, priority: Priority, bytes: u64) -> Option<Vec<Slot>> {
        let mut need_items = (self.items + 1).saturating_sub(self.limits.max_items);
        let mut need_bytes = (self.bytes + bytes).saturating_sub(self.limits.max_bytes);
        let mut plan = Vec::new();
        for p in 0..=(priority as usize) {
            for (slot, e) in self.live_in(p).filter(|(_, e)| e.idle()) {
                if need_items == 0 && need_bytes == 0 {
                    return Some(plan);
                }
                plan.push(slot);
                need_items = need_items.saturating_sub(1);
                need_bytes = need_bytes.saturating_sub(e.bytes());
            }
        }
        (need_items == 0 && need_bytes == 0).then_some(plan)
    }

    /// Whether one more call of `bytes` fits without evicting anything.
    pub fn fits(&self, bytes: u64) -> bool {
        self.items < self.limits.max_items && self.bytes + bytes <= self.limits.max_bytes
    }

    /// Capacity actually reserved by the queues, in entries (for memory tests).
    #[cfg(test)]
    pub fn reserved_entries(&self) -> usize {
        self.queues.iter().map(VecDeque::capacity).sum()
    }
}
