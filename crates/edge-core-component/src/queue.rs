//! Adapter for the `queue` interface: the `scheduler` resource wraps
//! `edge_core::queue::Scheduler`; everything else is type conversion.

use std::cell::RefCell;

use crate::Component;
use crate::bindings::exports::mcp_edge::core::queue as wit;
use edge_core::queue as core;

impl wit::Guest for Component {
    type Scheduler = Scheduler;
}

/// The resource: wit-bindgen hands methods `&self`, the core wants `&mut`.
pub struct Scheduler(RefCell<core::Scheduler>);

impl wit::GuestScheduler for Scheduler {
    fn new(config: wit::Config) -> Self {
        let d = core::Config::default();
        Scheduler(RefCell::new(core::Scheduler::new(core::Config {
            default_limits: config.default_limits.map_or(d.default_limits, Into::into),
            max_item_bytes: config.max_item_bytes.unwrap_or(d.max_item_bytes).min(core::MAX_ITEM_BYTES),
            backoff: config.backoff.map_or(d.backoff, Into::into),
            seed: config.seed,
        })))
    }

    fn configure(&self, destination: String, limits: wit::Limits) -> Result<(), wit::RejectReason> {
        self.0.borrow_mut().configure(&destination, limits.into()).map_err(Into::into)
    }

    fn reserve(&self, destination: String, priority: wit::Priority, items: u32, keyed: u32) -> Result<(), wit::RejectReason> {
        self.0.borrow_mut().reserve(&destination, priority.into(), items as usize, keyed as usize).map_err(Into::into)
    }

    fn reserve_ids_below(&self, min: u64) {
        self.0.borrow_mut().reserve_ids_below(min);
    }

    fn next_id(&self) -> u64 {
        self.0.borrow().next_id()
    }

    fn admit(&self, request: wit::AdmitRequest, now_ms: u64) -> wit::Decision {
        self.0.borrow_mut().admit(&request.into(), now_ms).into()
    }

    fn admit_many(&self, requests: Vec<wit::AdmitRequest>, now_ms: u64) -> Vec<wit::Decision> {
        let mut s = self.0.borrow_mut();
        requests.into_iter().map(|r| s.admit(&r.into(), now_ms).into()).collect()
    }

    fn admit_framed(&self, requests: Vec<wit::AdmitRequest>, payloads: Vec<Vec<u8>>, options: wit::PackOptions, now_ms: u64) -> Vec<wit::Framed> {
        let requests: Vec<core::AdmitRequest> = requests.into_iter().map(Into::into).collect();
        let options = edge_core::codec::PackOptions { algorithm: options.algorithm.into(), level: options.level };
        let out = self.0.borrow_mut().admit_framed(&requests, &payloads, options, now_ms);
        out.into_iter().map(|f| wit::Framed { decision: f.decision.into(), frame: f.frame }).collect()
    }

    fn admit_columns(&self, c: wit::AdmitColumns, now_ms: u64) -> wit::AdmittedColumns {
        let columns = core::AdmitColumns {
            destinations: c.destinations,
            destination: c.destination,
            priorities: c.priorities,
            sizes: c.sizes,
            ttl_ms: c.ttl_ms,
            keys: c.keys,
            key_lengths: c.key_lengths,
        };
        let out = self.0.borrow_mut().admit_columns(&columns, now_ms);
        let exceptions = out.exceptions.into_iter().map(|(index, d)| wit::Exception { index, decision: d.into() }).collect();
        wit::AdmittedColumns { ids: out.ids, expires_at_ms: out.expires_at_ms, exceptions }
    }

    fn expire(&self, now_ms: u64, max: u32) -> Vec<wit::Removed> {
        self.0.borrow_mut().expire(now_ms, max as usize).into_iter().map(Into::into).collect()
    }

    fn next_batches(&self, now_ms: u64, max_items: u32, max_bytes: u64) -> Vec<wit::Batch> {
        let batches = self.0.borrow_mut().next_batches(now_ms, max_items as usize, max_bytes);
        batches.into_iter().map(|b| wit::Batch { destination: b.destination, ids: b.ids }).collect()
    }

    fn settle(&self, destination: String, s: wit::Settlement, now_ms: u64) -> Result<wit::SettleDecision, wit::SettleError> {
        let s = core::Settlement { delivered: s.delivered, dropped: s.dropped, failed: s.failed, retry_after_ms: s.retry_after_ms };
        let d = self.0.borrow_mut().settle(&destination, &s, now_ms).ok_or(wit::SettleError::UnknownDestination)?;
        Ok(wit::SettleDecision { removed: d.removed, next_attempt_ms: d.next_attempt_ms, failures: d.failures })
    }

    fn hold(&self, destination: String, wait_ms: u64, now_ms: u64) -> Option<u64> {
        self.0.borrow_mut().hold(&destination, wait_ms, now_ms)
    }

    fn wake(&self, destination: Option<String>, now_ms: u64) {
        self.0.borrow_mut().wake(destination.as_deref(), now_ms);
    }

    fn cancel(&self, id: u64) -> Result<wit::Removed, wit::CancelError> {
        self.0.borrow_mut().cancel(id).map(Into::into).map_err(|e| match e {
            core::CancelError::NotFound => wit::CancelError::NotFound,
            core::CancelError::InFlight => wit::CancelError::InFlight,
        })
    }

    fn load(&self, items: Vec<wit::StoredItem>) -> Vec<wit::LoadFailure> {
        let items: Vec<core::StoredItem> = items.into_iter().map(Into::into).collect();
        let failures = self.0.borrow_mut().load(&items);
        failures.into_iter().map(|(id, e)| wit::LoadFailure { id, error: e.into() }).collect()
    }

    fn load_columns(&self, destination: String, priority: wit::Priority, c: wit::StoredColumns) -> Vec<wit::LoadFailure> {
        let columns = core::StoredColumns { ids: c.ids, sizes: c.sizes, expires_at_ms: c.expires_at_ms, keys: c.keys, key_lengths: c.key_lengths };
        let failures = self.0.borrow_mut().load_columns(&destination, priority.into(), &columns);
        failures.into_iter().map(|(id, e)| wit::LoadFailure { id, error: e.into() }).collect()
    }

    fn commit(&self) {
        self.0.borrow_mut().commit();
    }

    fn rollback(&self) {
        self.0.borrow_mut().rollback();
    }

    fn status(&self) -> Vec<wit::LaneStatus> {
        self.0.borrow().status().into_iter().map(Into::into).collect()
    }

    fn len(&self) -> u64 {
        self.0.borrow().len()
    }
}

impl From<wit::Priority> for core::Priority {
    fn from(p: wit::Priority) -> Self {
        match p {
            wit::Priority::Low => Self::Low,
            wit::Priority::Normal => Self::Normal,
            wit::Priority::High => Self::High,
            wit::Priority::Urgent => Self::Urgent,
        }
    }
}

impl From<core::Priority> for wit::Priority {
    fn from(p: core::Priority) -> Self {
        match p {
            core::Priority::Low => Self::Low,
            core::Priority::Normal => Self::Normal,
            core::Priority::High => Self::High,
            core::Priority::Urgent => Self::Urgent,
        }
    }
}

impl From<wit::Limits> for core::Limits {
    fn from(l: wit::Limits) -> Self {
        let overflow = match l.overflow {
            wit::OverflowPolicy::Reject => core::OverflowPolicy::Reject,
            wit::OverflowPolicy::DropOldestLowestPriority => core::OverflowPolicy::DropOldestLowestPriority,
        };
        core::Limits { max_items: l.max_items, max_bytes: l.max_bytes, overflow, default_ttl_ms: l.default_ttl_ms }
    }
}

impl From<core::Limits> for wit::Limits {
    fn from(l: core::Limits) -> Self {
        let overflow = match l.overflow {
            core::OverflowPolicy::Reject => wit::OverflowPolicy::Reject,
            core::OverflowPolicy::DropOldestLowestPriority => wit::OverflowPolicy::DropOldestLowestPriority,
        };
        wit::Limits { max_items: l.max_items, max_bytes: l.max_bytes, overflow, default_ttl_ms: l.default_ttl_ms }
    }
}

impl From<wit::Backoff> for core::Backoff {
    fn from(b: wit::Backoff) -> Self {
        core::Backoff { base_ms: b.base_ms, max_ms: b.max_ms, jitter_percent: b.jitter_percent.min(100) }
    }
}

impl From<wit::AdmitRequest> for core::AdmitRequest {
    fn from(r: wit::AdmitRequest) -> Self {
        core::AdmitRequest {
            destination: r.destination,
            priority: r.priority.into(),
            bytes: r.bytes,
            idempotency_key: r.idempotency_key,
            ttl_ms: r.ttl_ms,
        }
    }
}

impl From<wit::StoredItem> for core::StoredItem {
    fn from(r: wit::StoredItem) -> Self {
        core::StoredItem {
            id: r.id,
            destination: r.destination,
            priority: r.priority.into(),
            bytes: r.bytes,
            expires_at_ms: r.expires_at_ms,
            idempotency_key: r.idempotency_key,
        }
    }
}

impl From<core::Removed> for wit::Removed {
    fn from(r: core::Removed) -> Self {
        wit::Removed { id: r.id, destination: r.destination }
    }
}

impl From<core::RejectReason> for wit::RejectReason {
    fn from(r: core::RejectReason) -> Self {
        match r {
            core::RejectReason::Full { items, bytes } => Self::Full(wit::Occupancy { items, bytes }),
            core::RejectReason::TooLarge { bytes, limit } => Self::TooLarge(wit::SizeLimit { bytes, limit }),
            core::RejectReason::BadDestination => Self::BadDestination,
            core::RejectReason::IdsExhausted => Self::IdsExhausted,
            core::RejectReason::Unpackable(why) => Self::Unpackable(why),
        }
    }
}

impl From<core::Decision> for wit::Decision {
    fn from(d: core::Decision) -> Self {
        match d {
            core::Decision::Admit { id, expires_at_ms, evicted } => {
                Self::Admit(wit::Admitted { id, expires_at_ms, evicted: evicted.into_iter().map(Into::into).collect() })
            }
            core::Decision::Duplicate => Self::Duplicate,
            core::Decision::Reject(r) => Self::Reject(r.into()),
        }
    }
}

impl From<core::LoadError> for wit::LoadError {
    fn from(e: core::LoadError) -> Self {
        match e {
            core::LoadError::DuplicateId => Self::DuplicateId,
            core::LoadError::BadId => Self::BadId,
            core::LoadError::BadSize => Self::BadSize,
            core::LoadError::BadDestination => Self::BadDestination,
        }
    }
}

impl From<core::LaneStatus> for wit::LaneStatus {
    fn from(s: core::LaneStatus) -> Self {
        wit::LaneStatus {
            destination: s.destination,
            items: s.items,
            bytes: s.bytes,
            oldest_id: s.oldest_id,
            in_flight: s.in_flight,
            failures: s.failures,
            next_attempt_ms: s.next_attempt_ms,
            limits: s.limits.into(),
        }
    }
}
