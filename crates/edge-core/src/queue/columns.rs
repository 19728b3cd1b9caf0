//! Admission of a whole group commit as columns. The host packs payloads
//! itself (with the codec's native engine where it has one) and hands the core
//! only what decides: one destination index, priority, size, time to live and
//! key per call, each as a flat array. Crossing the component boundary then
//! costs a few copies per group instead of a record, strings and a frame per
//! call. Decisions come back the same way: ids and expiries as columns, and
//! only the calls that were not a plain admission as full decisions.

use super::{Decision, Priority, RejectReason, Scheduler};

/// A call to decide, borrowed from the columns (or from an [`super::AdmitRequest`]).
#[derive(Clone, Copy, Debug)]
pub struct AdmitRef<'a> {
    pub destination: &'a str,
    pub priority: Priority,
    pub bytes: u64,
    pub key: Option<&'a str>,
    pub ttl_ms: Option<u64>,
}

/// Many calls, in the order they are decided. Every per-call column has one
/// entry per call; `sizes.len()` is the number of calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmitColumns {
    /// The distinct destination names the calls go to.
    pub destinations: Vec<String>,
    /// Per call: its destination, as an index into `destinations`.
    pub destination: Vec<u16>,
    /// Per call: its priority code (0 low .. 3 urgent).
    pub priorities: Vec<u8>,
    /// Per call: its stored (packed) size in bytes.
    pub sizes: Vec<u32>,
    /// Per call: its time to live in ms; 0: the destination's default.
    pub ttl_ms: Vec<u64>,
    /// Every call's idempotency key, concatenated (UTF-8).
    pub keys: String,
    /// Per call: the byte length of its key within `keys`; 0: no key.
    pub key_lengths: Vec<u32>,
}

/// The decisions for [`AdmitColumns`], by call index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmittedColumns {
    /// Per call: the id to store it under when admitted; 0 otherwise.
    pub ids: Vec<u64>,
    /// Per call: its absolute expiry in ms; 0 when it never expires or was not admitted.
    pub expires_at_ms: Vec<u64>,
    /// Every call whose decision is not a plain admission (a duplicate, a
    /// refusal, or an admission that evicted other calls), with its index.
    pub exceptions: Vec<(u32, Decision)>,
}

impl Scheduler {
    /// Decides every call of the columns in order (later calls see earlier
    /// ones, as in [`Scheduler::admit_many`]). Columns of unequal length, or
    /// a key length that runs past `keys`, refuse every call as unpackable:
    /// nothing is guessed.
    pub fn admit_columns(&mut self, c: &AdmitColumns, now_ms: u64) -> AdmittedColumns {
        let n = c.sizes.len();
        let mut out = AdmittedColumns { ids: vec![0; n], expires_at_ms: vec![0; n], exceptions: Vec::new() };
        if let Err(why) = check_shape(c) {
            out.exceptions = (0..n).map(|i| (i as u32, Decision::Reject(RejectReason::Unpackable(why.clone())))).collect();
            return out;
        }
        let mut at = 0usize;
        for i in 0..n {
            let end = at + c.key_lengths[i] as usize;
            let key = c.keys.get(at..end);
            at = end;
            let decision = match call_at(c, i, key) {
                Ok(r) => self.admit_ref(&r, now_ms),
                Err(why) => Decision::Reject(RejectReason::Unpackable(why)),
            };
            match decision {
                Decision::Admit { id, expires_at_ms, evicted } if evicted.is_empty() => {
                    out.ids[i] = id;
                    out.expires_at_ms[i] = expires_at_ms.unwrap_or(0);
                }
                d => {
                    if let Decision::Admit { id, expires_at_ms, .. } = &d {
                        out.ids[i] = *id;
                        out.expires_at_ms[i] = expires_at_ms.unwrap_or(0);
                    }
                    out.exceptions.push((i as u32, d));
                }
            }
        }
        out
    }
}

fn check_shape(c: &AdmitColumns) -> Result<(), String> {
    let n = c.sizes.len();
    if c.destination.len() != n || c.priorities.len() != n || c.ttl_ms.len() != n || c.key_lengths.len() != n {
        return Err("the admit columns disagree in length".into());
    }
    let total: u64 = c.key_lengths.iter().map(|&l| u64::from(l)).sum();
    if total != c.keys.len() as u64 {
        return Err("the key lengths do not add up to the keys".into());
    }
    Ok(())
}

/// Call `i` as a reference, or why it cannot be read.
fn call_at<'a>(c: &'a AdmitColumns, i: usize, key: Option<&'a str>) -> Result<AdmitRef<'a>, String> {
    let destination = c.destinations.get(usize::from(c.destination[i])).ok_or_else(|| format!("destination index {} is out of range", c.destination[i]))?;
    let priority = Priority::from_code(c.priorities[i]).ok_or_else(|| format!("priority code {} is not 0-3", c.priorities[i]))?;
    // A length that splits a UTF-8 sequence makes the key unreadable: refuse rather than guess.
    let key = match (c.key_lengths[i], key) {
        (0, _) => None,
        (_, Some(k)) => Some(k),
        (_, None) => return Err("the key is not valid UTF-8 at its boundaries".into()),
    };
    let ttl_ms = Some(c.ttl_ms[i]).filter(|&t| t != 0);
    Ok(AdmitRef { destination, priority, bytes: u64::from(c.sizes[i]), key, ttl_ms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{AdmitRequest, Config, Limits, OverflowPolicy};

    fn columns(n: usize, keys: &[&str]) -> AdmitColumns {
        let mut c = AdmitColumns { destinations: vec!["cloud".into(), "peer".into()], ..Default::default() };
        for i in 0..n {
            c.destination.push((i % 2) as u16);
            c.priorities.push((i % 4) as u8);
            c.sizes.push(100 + i as u32);
            c.ttl_ms.push(if i % 3 == 0 { 0 } else { 5_000 });
            let k = keys.get(i).copied().unwrap_or("");
            c.keys.push_str(k);
            c.key_lengths.push(k.len() as u32);
        }
        c
    }

    #[test]
    fn columns_decide_exactly_like_one_call_at_a_time() {
        let keys = ["a", "", "b", "", "a", "é"];
        let c = columns(6, &keys);
        let mut by_columns = Scheduler::new(Config { seed: 7, ..Config::default() });
        let mut one_by_one = Scheduler::new(Config { seed: 7, ..Config::default() });
        let out = by_columns.admit_columns(&c, 1_000);
        for i in 0..6 {
            let req = AdmitRequest {
                destination: c.destinations[usize::from(c.destination[i])].clone(),
                priority: Priority::from_code(c.priorities[i]).unwrap(),
                bytes: u64::from(c.sizes[i]),
                idempotency_key: Some(keys[i].to_string()).filter(|k| !k.is_empty()),
                ttl_ms: Some(c.ttl_ms[i]).filter(|&t| t != 0),
            };
            match one_by_one.admit(&req, 1_000) {
                Decision::Admit { id, expires_at_ms, evicted } => {
                    assert!(evicted.is_empty());
                    assert_eq!((out.ids[i], out.expires_at_ms[i]), (id, expires_at_ms.unwrap_or(0)), "call {i}");
                }
                d => assert!(out.exceptions.contains(&(i as u32, d)), "call {i}"),
            }
        }
        // Calls 0 and 4 both go to cloud with key "a": the second is a duplicate.
        assert_eq!(out.exceptions, vec![(4, Decision::Duplicate)]);
        assert_eq!(by_columns.status(), one_by_one.status());
    }

    #[test]
    fn evictions_and_refusals_come_back_as_exceptions() {
        let mut s = Scheduler::new(Config::default());
        let tight = Limits { max_items: 1, max_bytes: 1 << 20, overflow: OverflowPolicy::DropOldestLowestPriority, default_ttl_ms: None };
        s.configure("cloud", tight).unwrap();
        let mut c = columns(2, &[]);
        c.destination = vec![0, 0];
        c.priorities = vec![1, 1];
        c.sizes = vec![10, u32::MAX];
        let out = s.admit_columns(&c, 0);
        assert_eq!(out.ids[0], 1);
        assert!(matches!(out.exceptions[..], [(1, Decision::Reject(RejectReason::TooLarge { .. }))]));
        c.sizes = vec![10, 10];
        let out = s.admit_columns(&c, 0);
        assert_eq!(out.ids, vec![2, 3]);
        let evicted: Vec<u64> = out.exceptions.iter().flat_map(|(_, d)| match d {
            Decision::Admit { evicted, .. } => evicted.iter().map(|r| r.id).collect(),
            _ => Vec::new(),
        }).collect();
        assert_eq!(evicted, vec![1, 2]);
    }

    #[test]
    fn malformed_columns_refuse_every_call_and_change_nothing() {
        let mut s = Scheduler::new(Config::default());
        let mut c = columns(3, &["k"]);
        c.priorities.pop();
        let out = s.admit_columns(&c, 0);
        assert_eq!(out.exceptions.len(), 3);
        assert!(s.is_empty());
        let mut c = columns(2, &["é"]);
        c.key_lengths[0] = 1; // splits the two-byte character
        c.keys.push('x');
        c.key_lengths[1] = 2;
        let out = s.admit_columns(&c, 0);
        assert!(matches!(&out.exceptions[0], (0, Decision::Reject(RejectReason::Unpackable(_)))));
        let mut c = columns(2, &[]);
        c.destination[1] = 9;
        c.priorities[0] = 4;
        let out = s.admit_columns(&c, 0);
        assert_eq!(out.exceptions.len(), 2);
        assert!(s.is_empty());
    }
}
