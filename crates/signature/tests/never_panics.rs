//! `verify` must return a status, never panic, whatever it is fed.

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;

use bakylau_signature::{SignatureStatus, TrustStore, verify};
use common::{CONTENT, Pki, now};

/// `verify` turns an internal panic into this reason; seeing it means a bug.
const INTERNAL_ERROR: &str = "internal error while processing the signature";

struct Samples {
    trust: TrustStore,
    attached: Vec<u8>,
    detached: Vec<u8>,
    ber: Vec<u8>,
}

fn samples() -> &'static Samples {
    static SAMPLES: OnceLock<Samples> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let pki = Pki::get();
        Samples {
            trust: pki.trust(),
            attached: pki.rsa_attached(),
            detached: pki.ec_detached(),
            ber: common::to_ber(&pki.rsa_attached()),
        }
    })
}

/// A byte-level edit of a valid signature.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Set { at: usize, value: u8 },
    Truncate { len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Remove { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Mutation::Remove { at, len }),
    ]
}

fn apply(original: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut data = original.to_vec();
    for m in mutations {
        if data.is_empty() {
            break;
        }
        let n = data.len();
        match m {
            Mutation::Flip { at, mask } => data[at % n] ^= mask,
            Mutation::Set { at, value } => data[at % n] = *value,
            Mutation::Truncate { len } => data.truncate(len % n),
            Mutation::Insert { at, bytes } => {
                let at = at % n;
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove { at, len } => {
                let at = at % n;
                let end = (at + len).min(n);
                data.drain(at..end);
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_verify(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let s = samples();
        let v = verify(&bytes, None, &s.trust, now());
        prop_assert_ne!(v.status, SignatureStatus::Valid);
        prop_assert_ne!(v.reason.as_str(), INTERNAL_ERROR);
        let v = verify(&bytes, Some(CONTENT), &s.trust, now());
        prop_assert_ne!(v.status, SignatureStatus::Valid);
        prop_assert_ne!(v.reason.as_str(), INTERNAL_ERROR);
    }

    #[test]
    fn der_shaped_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        // Start like a SEQUENCE so the parsers get further than the first byte.
        let mut bytes = vec![0x30, 0x82, (body.len() >> 8) as u8, body.len() as u8];
        bytes.extend(body);
        let v = verify(&bytes, Some(CONTENT), &samples().trust, now());
        prop_assert_ne!(v.status, SignatureStatus::Valid);
        prop_assert_ne!(v.reason.as_str(), INTERNAL_ERROR);
    }

    #[test]
    fn mutated_signatures_never_panic(
        which in 0..3usize,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let s = samples();
        let original = [&s.attached, &s.detached, &s.ber][which];
        let mutated = apply(original, &mutations);
        let v = verify(&mutated, Some(CONTENT), &s.trust, now());
        prop_assert_ne!(v.reason.as_str(), INTERNAL_ERROR);
        // Edits outside the signed parts (e.g. the unsigned digestAlgorithms
        // set) may leave a valid signature, but never over other content.
        if v.status == SignatureStatus::Valid {
            prop_assert!(v.content.is_none() || v.content.as_deref() == Some(CONTENT));
        }
        let v = verify(&mutated, None, &s.trust, now());
        prop_assert_ne!(v.reason.as_str(), INTERNAL_ERROR);
        if v.status == SignatureStatus::Valid {
            prop_assert_eq!(v.content.as_deref(), Some(CONTENT));
        }
    }
}
