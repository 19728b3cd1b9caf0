//! Admission and framing in one step: the host hands over a group of calls
//! with their payloads, and gets back each decision with the payload already
//! packed by the core codec. One boundary crossing per group commit instead of
//! one per call; the frame's size is what the bounds count.

use super::{AdmitRequest, Decision, RejectReason, Scheduler};
use crate::codec::PackOptions;

/// A decision, with the frame to store when the call was admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framed {
    pub decision: Decision,
    pub frame: Option<Vec<u8>>,
}

impl Scheduler {
    /// Packs each payload and decides its call, in order. `requests[i].bytes`
    /// is ignored: the packed frame's length is used. A request without a
    /// payload, or whose payload the codec refuses, is rejected as unpackable.
    pub fn admit_framed(&mut self, requests: &[AdmitRequest], payloads: &[Vec<u8>], options: PackOptions, now_ms: u64) -> Vec<Framed> {
        requests.iter().enumerate().map(|(i, req)| self.admit_one_framed(req, payloads.get(i), options, now_ms)).collect()
    }

    fn admit_one_framed(&mut self, req: &AdmitRequest, payload: Option<&Vec<u8>>, options: PackOptions, now_ms: u64) -> Framed {
        let reject = |reason| Framed { decision: Decision::Reject(reason), frame: None };
        let Some(payload) = payload else {
            return reject(RejectReason::Unpackable("no payload for this request".into()));
        };
        // Refuse before compressing: a huge payload should cost nothing.
        let limit = u64::from(self.max_item_bytes());
        if payload.len() as u64 > limit.saturating_mul(2).saturating_add(64) {
            return reject(RejectReason::TooLarge { bytes: payload.len() as u64, limit });
        }
        let frame = match self.codec.pack(payload, options) {
            Ok(f) => f,
            Err(e) => return reject(RejectReason::Unpackable(e.to_string())),
        };
        let sized = AdmitRequest { bytes: frame.len() as u64, ..req.clone() };
        let decision = self.admit(&sized, now_ms);
        let frame = matches!(decision, Decision::Admit { .. }).then_some(frame);
        Framed { decision, frame }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{self, Algorithm};
    use crate::queue::{Config, Priority};

    fn r_req() -> AdmitRequest {
        AdmitRequest { destination: "cloud".into(), priority: Priority::Low, bytes: 0, idempotency_key: None, ttl_ms: None }
    }

    #[test]
    fn frames_count_against_bounds_and_refusals_carry_no_frame() {
        let mut s = Scheduler::new(Config { max_item_bytes: 100, ..Config::default() });
        let req = AdmitRequest { destination: "cloud".into(), priority: Priority::Normal, bytes: 0, idempotency_key: None, ttl_ms: None };
        let stored = PackOptions { algorithm: Algorithm::Stored, level: None };
        let out = s.admit_framed(&[req.clone(), req.clone(), req.clone()], &[b"hello".to_vec(), vec![0; 1000]], stored, 0);
        let frame = out[0].frame.clone().unwrap();
        assert_eq!(codec::unpack(&frame, 5).unwrap(), b"hello");
        assert_eq!(s.status()[0].bytes, frame.len() as u64);
        assert!(matches!(out[1].decision, Decision::Reject(RejectReason::TooLarge { .. })) && out[1].frame.is_none());
        assert!(matches!(out[2].decision, Decision::Reject(RejectReason::Unpackable(_))));
        let zstd = PackOptions { algorithm: Algorithm::Zstd, level: None };
        let r = s.admit_framed(&[req], &[b"x".to_vec()], zstd, 0);
        let frame = r[0].frame.clone().expect("zstd is in the codec");
        assert_eq!(codec::inspect(&frame).unwrap().algorithm, Algorithm::Zstd);
        let bad_level = PackOptions { algorithm: Algorithm::Zstd, level: Some(1000) };
        let r = s.admit_framed(&[r_req()], &[b"x".to_vec()], bad_level, 0);
        assert!(matches!(r[0].decision, Decision::Reject(RejectReason::Unpackable(_))) && r[0].frame.is_none());
    }
}
