//! The offline queue's decisions: admission, bounds, dedupe, priorities, TTL,
//! retry times and batch assembly. Sans-IO: the host owns SQLite (the source of
//! truth) and applies each decision in one transaction.
//!
//! Protocol between host and [`Scheduler`]: every mutating call (admit, expire,
//! settle, cancel) changes the in-memory state at once and records how to undo
//! it. After the host's SQLite transaction commits, it calls
//! [`Scheduler::commit`]; when the transaction fails (disk full, read-only
//! database) it calls [`Scheduler::rollback`], and the core is exactly what it
//! was before, so it never believes in work that is not on disk.
//!
//! Per-item memory is kept small on purpose (24 bytes per queued item plus one
//! hash-set slot when the call has an idempotency key): a million queued calls
//! must fit in well under 100 MB together with the host. Payloads never enter
//! the core.

mod backoff;
mod columns;
mod framed;
mod lane;
mod scheduler;
#[cfg(test)]
mod tests;

pub use backoff::{Backoff, SplitMix64};
pub use columns::{AdmitColumns, AdmitRef, AdmittedColumns};
pub use framed::Framed;
pub use scheduler::Scheduler;

/// How urgent a deferred call is. Higher is delivered first and evicted last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low = 0,
    Normal = 1,
    High = 2,
    Urgent = 3,
}

impl Priority {
    /// All levels, lowest first (the eviction order).
    pub const ALL: [Priority; 4] = [Priority::Low, Priority::Normal, Priority::High, Priority::Urgent];

    /// The level with this numeric code, as stored in SQLite.
    pub fn from_code(code: u8) -> Option<Priority> {
        Priority::ALL.get(code as usize).copied()
    }
}

/// What to do with new work when a destination is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Refuse the new call with [`RejectReason::Full`].
    Reject,
    /// Evict the oldest queued calls of the lowest priority (never of a higher
    /// priority than the new call, never one being sent) until the new one fits.
    DropOldestLowestPriority,
}

/// Bounds and policy of one destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most calls queued for the destination.
    pub max_items: u64,
    /// Most payload bytes queued for the destination.
    pub max_bytes: u64,
    /// What happens when a new call does not fit.
    pub overflow: OverflowPolicy,
    /// Time to live of a call without its own, in milliseconds; `None`: forever.
    pub default_ttl_ms: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_items: 100_000,
            max_bytes: 256 * 1024 * 1024,
            overflow: OverflowPolicy::Reject,
            default_ttl_ms: Some(24 * 3600 * 1000),
        }
    }
}

/// Settings of a scheduler, fixed at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Bounds of destinations that were not configured one by one.
    pub default_limits: Limits,
    /// Largest single payload accepted, in bytes (at most [`MAX_ITEM_BYTES`]).
    pub max_item_bytes: u32,
    /// Retry schedule after a failed delivery.
    pub backoff: Backoff,
    /// Seeds the jitter PRNG and keys the idempotency-key hash. The host draws
    /// it from its own random source and persists it, so a rebuilt scheduler
    /// hashes keys the same way.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { default_limits: Limits::default(), max_item_bytes: 4 * 1024 * 1024, backoff: Backoff::default(), seed: 0 }
    }
}

/// The largest payload the core can account for (the size shares a word with flags).
pub const MAX_ITEM_BYTES: u32 = (1 << 30) - 1;

/// One call the host asks to defer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmitRequest {
    /// Where the call goes: an upstream server or peer name.
    pub destination: String,
    /// Urgency.
    pub priority: Priority,
    /// Size of the stored (compressed) payload in bytes.
    pub bytes: u64,
    /// The caller's idempotency key; calls with equal keys to one destination
    /// are one call. `None`: never deduplicated.
    pub idempotency_key: Option<String>,
    /// Time to live in milliseconds; the destination's default when `None`,
    /// and never longer than it.
    pub ttl_ms: Option<u64>,
}

/// A queued call removed by a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    pub id: u64,
    pub destination: String,
}

/// What to do with one admit request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Store the call under `id` (its SQLite rowid) with this absolute expiry,
    /// and delete the `evicted` calls in the same transaction.
    Admit { id: u64, expires_at_ms: Option<u64>, evicted: Vec<Removed> },
    /// A call with the same idempotency key is queued for the same destination:
    /// answer with that call's handle. The host finds it (and confirms the key)
    /// in SQLite: the core keeps only 64-bit keyed hashes, not ids by key, to
    /// stay small.
    Duplicate,
    /// Refuse the call; nothing changed.
    Reject(RejectReason),
}

/// Why a call was refused. Stable cases; the host turns them into messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// The destination is full and its policy is reject (or nothing evictable
    /// would make room).
    Full { items: u64, bytes: u64 },
    /// The payload alone exceeds the per-item or per-destination byte bound.
    TooLarge { bytes: u64, limit: u64 },
    /// The destination name is empty or too long.
    BadDestination,
    /// The codec could not pack the payload (the reason says why).
    Unpackable(String),
    /// Every id up to [`MAX_ID`] was handed out (never in practice; a hostile host could ask for it).
    IdsExhausted,
}

/// Largest id: ids stay exact in a JavaScript number.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// One call read back from SQLite at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredItem {
    pub id: u64,
    pub destination: String,
    pub priority: Priority,
    pub bytes: u64,
    pub expires_at_ms: Option<u64>,
    pub idempotency_key: Option<String>,
}

/// Many stored calls of one destination and priority, as columns: the fast
/// way to rebuild a large queue (no per-row strings cross the boundary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredColumns {
    pub ids: Vec<u64>,
    pub sizes: Vec<u32>,
    /// Absolute expiry in milliseconds; 0: never.
    pub expires_at_ms: Vec<u64>,
    /// Every row's idempotency key, concatenated (UTF-8).
    pub keys: String,
    /// Byte length of each row's key within `keys`; 0: the row has none.
    pub key_lengths: Vec<u32>,
}

/// Why a stored row could not be loaded (the host reports it and quarantines it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Another loaded row has the same id.
    DuplicateId,
    /// The id is 0 or above [`MAX_ID`].
    BadId,
    /// The size does not fit the core's accounting.
    BadSize,
    /// The destination name is empty or too long.
    BadDestination,
}

/// Calls to send to one destination now, in delivery order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub destination: String,
    pub ids: Vec<u64>,
}

/// How the host's delivery of a batch went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// Calls the destination answered (their effect happened, once).
    pub delivered: Vec<u64>,
    /// Calls that must leave the queue without delivery (their payload is
    /// unreadable, say); the host records why.
    pub dropped: Vec<u64>,
    /// Whether the link failed; the rest of the batch waits for a retry.
    pub failed: bool,
    /// After a failure, how long the destination asked to be left alone (an
    /// HTTP Retry-After): the next attempt waits that long instead of the
    /// backoff, up to the backoff's longest wait.
    pub retry_after_ms: Option<u64>,
}

/// What the host does after a settlement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettleDecision {
    /// Rows to delete.
    pub removed: Vec<u64>,
    /// When the destination may be tried again.
    pub next_attempt_ms: u64,
    /// Consecutive failed attempts so far (0 after a success).
    pub failures: u32,
}

/// Why a queued call could not be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelError {
    /// No queued call has this id (delivered, expired, evicted or never queued).
    NotFound,
    /// The call is being sent right now; its outcome decides.
    InFlight,
}

/// One destination's state, for status pages and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneStatus {
    pub destination: String,
    pub items: u64,
    pub bytes: u64,
    /// Id of the oldest queued call (the host reads its age from SQLite).
    pub oldest_id: Option<u64>,
    pub in_flight: u32,
    pub failures: u32,
    pub next_attempt_ms: u64,
    pub limits: Limits,
}

/// Longest destination name the core accepts.
pub const MAX_DESTINATION_LEN: usize = 256;
