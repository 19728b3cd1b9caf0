//! Unit tests, and a model-based property test: random operation sequences run
//! against the scheduler and against a plain, obviously-correct model (a sorted
//! list), including random rollbacks; every decision and every counter must agree.

use super::*;

const DESTS: [&str; 3] = ["cloud", "peer-a", "peer-b"];

fn req(dest: &str, priority: Priority, bytes: u64, key: Option<&str>) -> AdmitRequest {
    AdmitRequest { destination: dest.into(), priority, bytes, idempotency_key: key.map(Into::into), ttl_ms: None }
}

fn limits(max_items: u64, max_bytes: u64, overflow: OverflowPolicy) -> Limits {
    Limits { max_items, max_bytes, overflow, default_ttl_ms: None }
}

fn admitted_id(d: &Decision) -> u64 {
    match d {
        Decision::Admit { id, .. } => *id,
        other => panic!("expected admit, got {other:?}"),
    }
}

#[test]
fn reject_policy_refuses_when_full_and_changes_nothing() {
    let mut s = Scheduler::new(Config::default());
    s.configure("cloud", limits(2, 1000, OverflowPolicy::Reject)).unwrap();
    for _ in 0..2 {
        admitted_id(&s.admit(&req("cloud", Priority::Normal, 10, None), 0));
    }
    let d = s.admit(&req("cloud", Priority::Urgent, 10, None), 0);
    assert_eq!(d, Decision::Reject(RejectReason::Full { items: 2, bytes: 20 }));
    assert_eq!(s.len(), 2);
}

#[test]
fn drop_policy_evicts_oldest_of_lowest_priority_never_higher() {
    let mut s = Scheduler::new(Config::default());
    s.configure("cloud", limits(3, 1000, OverflowPolicy::DropOldestLowestPriority)).unwrap();
    let high = admitted_id(&s.admit(&req("cloud", Priority::High, 1, None), 0));
    let low1 = admitted_id(&s.admit(&req("cloud", Priority::Low, 1, None), 0));
    let low2 = admitted_id(&s.admit(&req("cloud", Priority::Low, 1, None), 0));
    s.commit();
    let d = s.admit(&req("cloud", Priority::Normal, 1, None), 0);
    let Decision::Admit { evicted, .. } = d else { panic!("{d:?}") };
    assert_eq!(evicted, vec![Removed { id: low1, destination: "cloud".into() }]);
    // A low-priority call may not push out normal or high work.
    let d = s.admit(&req("cloud", Priority::Low, 1, None), 0);
    let Decision::Admit { evicted, .. } = d else { panic!("{d:?}") };
    assert_eq!(evicted[0].id, low2);
    s.commit();
    assert!(matches!(s.admit(&req("cloud", Priority::Low, 1, None), 0), Decision::Admit { .. }));
    s.commit();
    assert!(matches!(s.admit(&req("cloud", Priority::Low, 5, None), 0), Decision::Admit { .. }));
    assert_eq!(s.status()[0].oldest_id, Some(high));
}

#[test]
fn too_large_and_bad_destination_are_typed() {
    let mut s = Scheduler::new(Config { max_item_bytes: 100, ..Config::default() });
    assert_eq!(s.admit(&req("x", Priority::Low, 101, None), 0), Decision::Reject(RejectReason::TooLarge { bytes: 101, limit: 100 }));
    assert_eq!(s.admit(&req("", Priority::Low, 1, None), 0), Decision::Reject(RejectReason::BadDestination));
    let long = "d".repeat(MAX_DESTINATION_LEN + 1);
    assert_eq!(s.admit(&req(&long, Priority::Low, 1, None), 0), Decision::Reject(RejectReason::BadDestination));
}

#[test]
fn idempotency_keys_dedupe_per_destination_until_the_call_leaves() {
    let mut s = Scheduler::new(Config { seed: 99, ..Config::default() });
    let first = admitted_id(&s.admit(&req("cloud", Priority::Normal, 5, Some("k1")), 0));
    assert_eq!(s.admit(&req("cloud", Priority::High, 9, Some("k1")), 0), Decision::Duplicate);
    admitted_id(&s.admit(&req("peer-a", Priority::Normal, 5, Some("k1")), 0));
    s.commit();
    s.cancel(first).unwrap();
    s.commit();
    admitted_id(&s.admit(&req("cloud", Priority::Normal, 5, Some("k1")), 0));
}

#[test]
fn ttl_expiry_is_never_early_and_at_most_a_second_late() {
    let mut s = Scheduler::new(Config::default());
    let mut r = req("cloud", Priority::Normal, 5, None);
    r.ttl_ms = Some(1500);
    let d = s.admit(&r, 10_200);
    assert!(matches!(d, Decision::Admit { expires_at_ms: Some(11_700), .. }));
    s.commit();
    assert!(s.expire(11_699, 100).is_empty());
    assert!(s.expire(11_999, 100).is_empty());
    assert_eq!(s.expire(12_000, 100).len(), 1);
    s.commit();
    assert!(s.is_empty());
}

#[test]
fn batches_follow_priority_then_age_and_backoff_grows_after_failures() {
    let cfg = Config { backoff: Backoff { base_ms: 100, max_ms: 1000, jitter_percent: 0 }, ..Config::default() };
    let mut s = Scheduler::new(cfg);
    let a = admitted_id(&s.admit(&req("cloud", Priority::Normal, 1, None), 0));
    let b = admitted_id(&s.admit(&req("cloud", Priority::Urgent, 1, None), 0));
    let c = admitted_id(&s.admit(&req("cloud", Priority::Normal, 1, None), 0));
    s.commit();
    let batches = s.next_batches(0, 10, 1 << 20);
    assert_eq!(batches, vec![Batch { destination: "cloud".into(), ids: vec![b, a, c] }]);
    assert!(s.next_batches(0, 10, 1 << 20).is_empty(), "one batch in flight per destination");
    assert_eq!(s.cancel(a), Err(CancelError::InFlight));
    let fail = Settlement { delivered: vec![b], dropped: vec![], failed: true, retry_after_ms: None };
    let d = s.settle("cloud", &fail, 1_000).unwrap();
    assert_eq!((d.removed, d.next_attempt_ms, d.failures), (vec![b], 1_100, 1));
    s.commit();
    assert!(s.next_batches(1_099, 10, 1 << 20).is_empty());
    s.next_batches(1_100, 10, 1 << 20);
    let d = s.settle("cloud", &Settlement { delivered: vec![], dropped: vec![], failed: true, retry_after_ms: None }, 2_000).unwrap();
    assert_eq!((d.next_attempt_ms, d.failures), (2_200, 2));
    s.wake(Some("cloud"), 2_050);
    assert_eq!(s.next_batches(2_050, 1, 1 << 20)[0].ids, vec![a]);
}

#[test]
fn a_retry_after_replaces_the_backoff_up_to_its_cap() {
    let cfg = Config { backoff: Backoff { base_ms: 100, max_ms: 5_000, jitter_percent: 0 }, ..Config::default() };
    let mut s = Scheduler::new(cfg);
    admitted_id(&s.admit(&req("cloud", Priority::Normal, 1, None), 0));
    s.commit();
    s.next_batches(0, 10, 1 << 20);
    let asked = Settlement { delivered: vec![], dropped: vec![], failed: true, retry_after_ms: Some(1_500) };
    let d = s.settle("cloud", &asked, 1_000).unwrap();
    assert_eq!((d.next_attempt_ms, d.failures), (2_500, 1), "the asked wait, not the 100 ms backoff");
    assert!(s.next_batches(2_499, 10, 1 << 20).is_empty());
    s.next_batches(2_500, 10, 1 << 20);
    let too_long = Settlement { delivered: vec![], dropped: vec![], failed: true, retry_after_ms: Some(60_000) };
    assert_eq!(s.settle("cloud", &too_long, 3_000).unwrap().next_attempt_ms, 8_000, "capped at the backoff's max_ms");
    s.next_batches(8_000, 10, 1 << 20);
    let ignored = Settlement { delivered: vec![], dropped: vec![], failed: false, retry_after_ms: Some(60_000) };
    assert_eq!(s.settle("cloud", &ignored, 9_000).unwrap().next_attempt_ms, 9_000, "a success is due at once");
}

#[test]
fn a_hold_delays_the_next_batch_up_to_the_cap_and_never_brings_one_forward() {
    let cfg = Config { backoff: Backoff { base_ms: 100, max_ms: 5_000, jitter_percent: 0 }, ..Config::default() };
    let mut s = Scheduler::new(cfg);
    admitted_id(&s.admit(&req("cloud", Priority::Normal, 1, None), 0));
    s.commit();
    assert_eq!(s.hold("cloud", 2_000, 1_000), Some(3_000));
    assert!(s.next_batches(2_999, 10, 1 << 20).is_empty());
    assert_eq!(s.hold("cloud", 500, 1_000), Some(3_000), "a shorter hold keeps the later time");
    assert!(s.next_batches(2_999, 10, 1 << 20).is_empty());
    assert_eq!(s.hold("cloud", 60_000, 1_000), Some(6_000), "capped at max_ms");
    assert!(s.next_batches(5_999, 10, 1 << 20).is_empty());
    assert_eq!(s.next_batches(6_000, 10, 1 << 20).len(), 1);
    assert_eq!(s.hold("nobody", 1, 0), None);
}

#[test]
fn rollback_restores_admissions_evictions_and_settlements() {
    let mut s = Scheduler::new(Config::default());
    s.configure("cloud", limits(2, 100, OverflowPolicy::DropOldestLowestPriority)).unwrap();
    let a = admitted_id(&s.admit(&req("cloud", Priority::Low, 10, Some("a")), 0));
    admitted_id(&s.admit(&req("cloud", Priority::Low, 10, Some("b")), 0));
    s.commit();
    let before = s.status();
    let d = s.admit(&req("cloud", Priority::Low, 10, Some("c")), 0);
    assert!(matches!(d, Decision::Admit { ref evicted, .. } if evicted[0].id == a));
    s.rollback();
    assert_eq!(s.status(), before);
    assert_eq!(s.admit(&req("cloud", Priority::Low, 10, Some("a")), 0), Decision::Duplicate);
    assert!(matches!(s.admit(&req("cloud", Priority::Urgent, 10, Some("c")), 0), Decision::Admit { .. }));
    s.rollback();
    let batch = s.next_batches(0, 10, 1000).remove(0);
    s.settle("cloud", &Settlement { delivered: batch.ids.clone(), dropped: vec![], failed: false, retry_after_ms: None }, 5).unwrap();
    s.rollback();
    assert_eq!(s.status()[0].in_flight, 2);
    assert_eq!(s.status()[0].items, 2);
}

#[test]
fn load_rebuilds_and_reports_bad_rows() {
    let mut s = Scheduler::new(Config::default());
    let row = |id, dest: &str, bytes| StoredItem { id, destination: dest.into(), priority: Priority::Normal, bytes, expires_at_ms: None, idempotency_key: Some(format!("k{id}")) };
    let rows = vec![row(3, "cloud", 1), row(1, "cloud", 1), row(3, "cloud", 1), row(4, "", 1), row(5, "cloud", u64::MAX)];
    let bad = s.load(&rows);
    assert_eq!(bad, vec![(3, LoadError::DuplicateId), (4, LoadError::BadDestination), (5, LoadError::BadSize)]);
    assert_eq!(s.len(), 2);
    assert_eq!(s.next_id(), 4);
    assert_eq!(s.admit(&req("cloud", Priority::Low, 1, Some("k1")), 0), Decision::Duplicate);
    assert_eq!(s.next_batches(0, 10, 100)[0].ids, vec![1, 3]);
}

#[test]
fn load_columns_rebuilds_keys_and_expiry_and_refuses_ragged_columns() {
    let mut s = Scheduler::new(Config { seed: 5, ..Config::default() });
    let c = StoredColumns { ids: vec![1, 2, 3], sizes: vec![10, 20, 30], expires_at_ms: vec![0, 5_000, 0], keys: "aébc".into(), key_lengths: vec![3, 0, 2] };
    assert!(s.load_columns("cloud", Priority::High, &c).is_empty());
    assert_eq!(s.status()[0].bytes, 60);
    assert_eq!(s.admit(&req("cloud", Priority::Low, 1, Some("aé")), 0), Decision::Duplicate);
    assert_eq!(s.admit(&req("cloud", Priority::Low, 1, Some("bc")), 0), Decision::Duplicate);
    s.rollback();
    assert_eq!(s.expire(5_000, 10), vec![Removed { id: 2, destination: "cloud".into() }]);
    s.commit();
    let ragged = StoredColumns { ids: vec![7, 8], sizes: vec![1], ..StoredColumns::default() };
    assert_eq!(s.load_columns("cloud", Priority::Low, &ragged), vec![(7, LoadError::BadSize), (8, LoadError::BadSize)]);
    // A length that splits a UTF-8 character leaves that row without a key, not a panic.
    let split = StoredColumns { ids: vec![9, 10], sizes: vec![1, 1], expires_at_ms: vec![0, 0], keys: "éx".into(), key_lengths: vec![1, 2] };
    assert!(s.load_columns("cloud", Priority::Low, &split).is_empty());
    assert_eq!(s.load_columns("cloud", Priority::Low, &StoredColumns { ids: vec![9], sizes: vec![1], expires_at_ms: vec![0], keys: String::new(), key_lengths: vec![0] }), vec![(9, LoadError::DuplicateId)]);
}

#[test]
fn reserve_allocates_once_for_a_rebuild() {
    let mut s = Scheduler::new(Config::default());
    s.reserve("cloud", Priority::Normal, 1000, 1000).unwrap();
    assert!(s.lanes_reserved_entries() >= 1000);
    assert_eq!(s.reserve("", Priority::Normal, 1, 1), Err(RejectReason::BadDestination));
}

#[test]
fn hostile_numbers_get_decisions_not_panics() {
    let extreme = Limits { max_items: u64::MAX, max_bytes: u64::MAX, overflow: OverflowPolicy::DropOldestLowestPriority, default_ttl_ms: Some(u64::MAX) };
    let cfg = Config { backoff: Backoff { base_ms: u64::MAX, max_ms: u64::MAX, jitter_percent: 255 }, max_item_bytes: u32::MAX, ..Config::default() };
    let mut s = Scheduler::new(cfg);
    s.configure("x", extreme).unwrap();
    let mut r = req("x", Priority::Urgent, u64::MAX, Some(""));
    assert!(matches!(s.admit(&r, u64::MAX), Decision::Reject(RejectReason::TooLarge { .. })));
    r.bytes = u64::from(MAX_ITEM_BYTES);
    r.ttl_ms = Some(u64::MAX);
    assert!(matches!(s.admit(&r, u64::MAX), Decision::Admit { expires_at_ms: Some(u64::MAX), .. }));
    s.commit();
    assert!(s.expire(u64::MAX, usize::MAX).len() <= 1);
    s.rollback();
    let b = s.next_batches(u64::MAX, usize::MAX, 0);
    assert!(b.len() <= 1);
    let d = s.settle("x", &Settlement { delivered: vec![], dropped: vec![], failed: true, retry_after_ms: None }, u64::MAX).unwrap();
    assert_eq!(d.next_attempt_ms, u64::MAX);
    s.configure("zero", limits(0, 0, OverflowPolicy::DropOldestLowestPriority)).unwrap();
    assert!(matches!(s.admit(&req("zero", Priority::Low, 0, None), 0), Decision::Reject(RejectReason::Full { .. })));
    s.reserve_ids_below(u64::MAX);
    assert_eq!(s.admit(&req("x", Priority::Low, 1, None), 0), Decision::Reject(RejectReason::IdsExhausted));
    let row = StoredItem { id: u64::MAX, destination: "x".into(), priority: Priority::Low, bytes: 1, expires_at_ms: None, idempotency_key: None };
    assert_eq!(s.load(&[row]), vec![(u64::MAX, LoadError::BadId)]);
    assert_eq!(s.cancel(0), Err(CancelError::NotFound));
    assert_eq!(s.settle("nobody", &Settlement { delivered: vec![1], dropped: vec![], failed: false, retry_after_ms: None }, 0), None);
}

#[test]
fn tombstones_do_not_pin_memory() {
    let mut s = Scheduler::new(Config::default());
    s.configure("cloud", limits(u64::MAX, u64::MAX, OverflowPolicy::Reject)).unwrap();
    let ids: Vec<u64> = (0..10_000).map(|_| admitted_id(&s.admit(&req("cloud", Priority::Normal, 1, None), 0))).collect();
    s.commit();
    for id in ids.iter().skip(1).step_by(1) {
        s.cancel(*id).unwrap();
        s.commit();
    }
    assert_eq!(s.len(), 1);
    assert!(s.lanes_reserved_entries() < 200, "{}", s.lanes_reserved_entries());
}

impl Scheduler {
    fn lanes_reserved_entries(&self) -> usize {
        self.status_lanes().iter().map(|l| l.reserved_entries()).sum()
    }
}

#[path = "model_tests.rs"]
mod model_tests;
