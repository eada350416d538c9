//! Certification path building from the signer to a trust anchor.
//!
//! Deliberately small: issuer/subject name matching, signature checks,
//! basicConstraints/keyUsage/pathLen on issuers, and validity at the
//! verification time. No revocation (CRL/OCSP) — see the crate docs.

use chrono::{DateTime, Utc};
use der::Decode;
use der::oid::AssociatedOid;
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectKeyIdentifier};
use x509_cert::time::Time;

use crate::SignatureStatus;
use crate::algs::{PublicKey, SigAlg, SigError};
use crate::trust::CertEntry;

/// Longest chain we follow (leaf + CAs); real NCA chains are 2-3 long.
const MAX_PATH_LEN: usize = 8;
/// Cap on certificate signature checks so a signature stuffed with
/// thousands of look-alike certificates cannot stall the verifier.
const MAX_SIGNATURE_CHECKS: usize = 64;

#[derive(Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub entry: &'a CertEntry,
    pub anchor: bool,
}

#[derive(Debug)]
pub(crate) struct ChainFailure {
    pub status: SignatureStatus,
    pub reason: String,
}

#[derive(Default)]
struct Search {
    checks_left: usize,
    unsupported: Option<String>,
    bad_signature: bool,
    issuer_not_ca: bool,
}

/// Finds a path leaf → … → anchor. `pool` should list anchors first so a
/// CA present both in the signature and the trust store is taken as trusted.
pub(crate) fn build_path<'a>(
    leaf: &'a CertEntry,
    pool: &[Candidate<'a>],
) -> Result<Vec<&'a CertEntry>, ChainFailure> {
    if pool.iter().any(|c| c.anchor && c.entry.der == leaf.der) {
        return Ok(vec![leaf]);
    }
    let mut search = Search {
        checks_left: MAX_SIGNATURE_CHECKS,
        ..Search::default()
    };
    let mut path = vec![leaf];
    if extend(&mut path, pool, &mut search) {
        return Ok(path);
    }
    Err(match search.unsupported {
        Some(name) => ChainFailure {
            status: SignatureStatus::UnsupportedAlgorithm,
            reason: format!("certificate chain uses unsupported algorithm {name}"),
        },
        None => ChainFailure {
            status: SignatureStatus::Untrusted,
            reason: if search.bad_signature {
                "certificate chain signature does not verify".to_string()
            } else if search.issuer_not_ca {
                "issuer certificate is not a certification authority".to_string()
            } else {
                "no certificate chain to a trusted root".to_string()
            },
        },
    })
}

fn extend<'a>(path: &mut Vec<&'a CertEntry>, pool: &[Candidate<'a>], search: &mut Search) -> bool {
    let Some(current) = path.last().copied() else {
        return false;
    };
    for cand in pool {
        if cand.entry.cert.tbs_certificate.subject != current.cert.tbs_certificate.issuer {
            continue;
        }
        if path.iter().any(|p| p.der == cand.entry.der) {
            continue;
        }
        // Trust anchors are trusted by configuration; other issuers must prove CA status.
        if !may_issue(&cand.entry.cert, cand.anchor, path.len() - 1) {
            search.issuer_not_ca = true;
            continue;
        }
        if search.checks_left == 0 {
            return false;
        }
        search.checks_left -= 1;
        match verify_issued_by(current, cand.entry) {
            Ok(()) => {}
            Err(SigError::Unsupported(name)) => {
                search.unsupported = Some(name);
                continue;
            }
            Err(SigError::Invalid) => {
                search.bad_signature = true;
                continue;
            }
        }
        path.push(cand.entry);
        if cand.anchor {
            return true;
        }
        if path.len() < MAX_PATH_LEN && extend(path, pool, search) {
            return true;
        }
        path.pop();
    }
    false
}

/// Whether `issuer` may sign a certificate that has `cas_below` CA
/// certificates between it and the leaf.
fn may_issue(issuer: &Certificate, anchor: bool, cas_below: usize) -> bool {
    let bc = extension::<BasicConstraints>(issuer);
    match bc {
        Ok(Some(bc)) => {
            if !anchor && !bc.ca {
                return false;
            }
            if let Some(limit) = bc.path_len_constraint
                && cas_below > usize::from(limit)
            {
                return false;
            }
        }
        // A v1 root without extensions is acceptable only as an anchor.
        Ok(None) if anchor => {}
        _ => return false,
    }
    match extension::<KeyUsage>(issuer) {
        Ok(Some(ku)) => ku.key_cert_sign(),
        Ok(None) => true,
        Err(()) => false,
    }
}

/// Checks that `issuer`'s key signed `child`.
pub(crate) fn verify_issued_by(child: &CertEntry, issuer: &CertEntry) -> Result<(), SigError> {
    let cert = &child.cert;
    // The outer and inner algorithm must agree (RFC 5280 §4.1.1.2).
    if cert.signature_algorithm != cert.tbs_certificate.signature {
        return Err(SigError::Invalid);
    }
    let alg = SigAlg::from_alg(&cert.signature_algorithm)?;
    let key = PublicKey::from_spki(&issuer.cert.tbs_certificate.subject_public_key_info)?;
    let tbs = child.tbs().ok_or(SigError::Invalid)?;
    let signature = cert.signature.as_bytes().ok_or(SigError::Invalid)?;
    key.verify(alg, None, tbs, signature)
}

/// Signer key usage: a document signature needs digitalSignature or
/// nonRepudiation (NCA signing certificates carry both).
pub(crate) fn may_sign_documents(cert: &Certificate) -> bool {
    match extension::<KeyUsage>(cert) {
        Ok(Some(ku)) => ku.digital_signature() || ku.non_repudiation(),
        Ok(None) => true,
        Err(()) => false,
    }
}

pub(crate) fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    extension::<SubjectKeyIdentifier>(cert)
        .ok()
        .flatten()
        .map(|ski| ski.0.as_bytes().to_vec())
}

/// Decodes the extension of type `T`; `Err` when present but undecodable.
fn extension<T>(cert: &Certificate) -> Result<Option<T>, ()>
where
    T: AssociatedOid + for<'a> Decode<'a>,
{
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .as_ref()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == T::OID))
    else {
        return Ok(None);
    };
    T::from_der(ext.extn_value.as_bytes())
        .map(Some)
        .map_err(|_| ())
}

/// Why a certificate is not valid at `at`, if it is not.
pub(crate) fn validity_problem(cert: &Certificate, at: DateTime<Utc>) -> Option<&'static str> {
    let validity = &cert.tbs_certificate.validity;
    // Fallbacks fail closed: an unrepresentable date makes the cert invalid.
    if at < to_chrono(validity.not_before, DateTime::<Utc>::MAX_UTC) {
        return Some("not yet valid");
    }
    if at > to_chrono(validity.not_after, DateTime::<Utc>::MIN_UTC) {
        return Some("expired");
    }
    None
}

pub(crate) fn to_chrono(time: Time, fallback: DateTime<Utc>) -> DateTime<Utc> {
    i64::try_from(time.to_unix_duration().as_secs())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .unwrap_or(fallback)
}
