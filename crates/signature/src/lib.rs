//! Verification of CMS / PKCS#7 electronic digital signatures (EDS) on
//! appeals — reg 5.1: an electronic appeal may be filed with an EDS, and the
//! Department must be able to tell a genuine, trusted signature from one
//! that is not.
//!
//! [`verify`] takes a CMS `ContentInfo { SignedData }` (DER, PEM with a
//! `CMS`/`PKCS7` label, or bare base64 of the DER) and, for every
//! `SignerInfo`, checks:
//!
//! 1. the algorithms are ones we implement: RSA PKCS#1 v1.5, RSASSA-PSS, or
//!    ECDSA on P-256, with SHA-256/384/512. GOST 34.310 (NCA RK,
//!    `1.2.398.3.10.1.*`), GOST R 34.10 (`1.2.643.*`), SHA-1 and everything
//!    else are reported, never guessed at;
//! 2. the content is there (attached, or passed as the detached document)
//!    and, when signed attributes are present, their `messageDigest` equals
//!    the content's digest and `contentType` equals the encapsulated type;
//! 3. the signature verifies with the signer certificate's key, over the
//!    signed attributes exactly as transmitted (or over the content when
//!    there are none);
//! 4. the signer certificate may sign documents (keyUsage) and chains, by
//!    signature, to a root in the [`TrustStore`] through CA certificates
//!    taken from the signature itself or the store;
//! 5. every certificate on that chain is valid at the given time.
//!
//! Revocation (CRL/OCSP at the NCA) is **not** checked here: a `valid`
//! result means "mathematically sound and chained to a trusted root at
//! that time", and a caller needing revocation must ask the NCA's OCSP
//! service separately. Nor are certificate policies, name constraints or
//! extended key usage evaluated. BER input (indefinite lengths, segmented
//! content, as Java toolkits emit) is normalised to DER before decoding.
//!
//! `at` is the moment the validity periods are checked for — normally when
//! the appeal was received, since the claimed `signingTime` is only the
//! signer's own clock.
//!
//! # Statuses
//! | status | meaning |
//! |---|---|
//! | `valid` | all of the above hold for every signer |
//! | `invalid` | digest or signature mismatch, missing detached content, no signer, bad signed attributes |
//! | `untrusted` | signer certificate absent, not allowed to sign, or no verifiable chain to a trusted root |
//! | `expired` | the signer or a chain certificate is not valid at the given time (expired or not yet valid) |
//! | `unsupported_algorithm` | GOST or any algorithm other than RSA / ECDSA-P256 with SHA-2 |
//! | `malformed` | the input is not a CMS SignedData |
//!
//! The checks run in the order above and the first failure decides, so an
//! expired certificate from an unknown CA is `untrusted`, not `expired`.
//! With several signers the first non-valid one decides the result. The
//! `reason` text is short and never contains personal data (names, IIN);
//! those are in [`SignerInfoSummary`] only.

mod algs;
mod ber;
mod chain;
mod raw;
mod summary;
mod trust;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Tag, Tagged};
use x509_cert::time::Time;

use crate::algs::{Hash, PublicKey, SigAlg, SigError, name_of};
use crate::chain::Candidate;
use crate::trust::CertEntry;

pub use crate::trust::{TrustStore, TrustStoreError};

/// Outcome class of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureStatus {
    /// Signature, content digest, validity periods and chain all check out.
    Valid,
    /// Digest or signature mismatch, or the detached content is missing.
    Invalid,
    /// No chain to a trusted root, or a chain signature fails.
    Untrusted,
    /// Signer or chain certificate not valid at the verification time.
    Expired,
    /// GOST or another algorithm this crate does not implement.
    UnsupportedAlgorithm,
    /// Not a CMS SignedData at all.
    Malformed,
}

impl SignatureStatus {
    /// Stable snake_case name, for storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Untrusted => "untrusted",
            Self::Expired => "expired",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::Malformed => "malformed",
        }
    }

    /// True only for [`SignatureStatus::Valid`].
    pub fn is_valid(self) -> bool {
        self == Self::Valid
    }
}

impl std::fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Facts about the signer certificate and the algorithms it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfoSummary {
    /// Subject distinguished name (RFC 4514). Personal data.
    pub subject: String,
    /// Certificate serial number, upper-case hex.
    pub serial_number_hex: String,
    /// Issuer distinguished name (RFC 4514).
    pub issuer: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Digest algorithm of the SignerInfo, readable name or dotted OID.
    pub digest_algorithm: String,
    /// Signature algorithm of the SignerInfo, readable name or dotted OID.
    pub signature_algorithm: String,
    /// `signingTime` signed attribute: the signer's own clock, not proof of time.
    pub signing_time: Option<DateTime<Utc>>,
    /// 12-digit IIN from subject serialNumber "IIN…" (NCA convention).
    pub iin: Option<String>,
    /// 12-digit BIN from subject OU "BIN…" (NCA convention, legal entities).
    pub bin: Option<String>,
}

/// Result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub status: SignatureStatus,
    /// Short human-readable explanation without personal data.
    pub reason: String,
    /// The deciding signer (the first failing one, else the first), when its
    /// certificate could be found.
    pub signer: Option<SignerInfoSummary>,
    /// Encapsulated content of an attached signature, whatever the status:
    /// only rely on it when `status` is `Valid`.
    pub content: Option<Vec<u8>>,
}

impl Verification {
    fn new(status: SignatureStatus, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            signer: None,
            content: None,
        }
    }
}

/// Verifies a CMS SignedData at time `at` against `trust`.
///
/// `detached_content` is the signed document for detached signatures; for
/// attached ones it may be omitted, and if given must equal the
/// encapsulated content. Never panics.
pub fn verify(
    signed_data: &[u8],
    detached_content: Option<&[u8]>,
    trust: &TrustStore,
    at: DateTime<Utc>,
) -> Verification {
    // Defence in depth: a bug in a parser below must not take the intake
    // service down with a crafted signature. Inputs are only read.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        verify_inner(signed_data, detached_content, trust, at)
    }))
    .unwrap_or_else(|_| Verification::new(SignatureStatus::Malformed, INTERNAL_ERROR))
}

fn verify_inner(
    input: &[u8],
    detached: Option<&[u8]>,
    trust: &TrustStore,
    at: DateTime<Utc>,
) -> Verification {
    let malformed = |reason: &str| Verification::new(SignatureStatus::Malformed, reason);
    let Some(der) = decode_input(input) else {
        return malformed("not a DER, PEM or base64 CMS structure");
    };
    // Strict DER first; BER (indefinite lengths) only as a fallback.
    let (der, content_info) = match ContentInfo::from_der(&der) {
        Ok(ci) => (der, ci),
        Err(_) => {
            let Some(normalized) = ber::normalize(&der) else {
                return malformed("not a CMS ContentInfo");
            };
            let Ok(ci) = ContentInfo::from_der(&normalized) else {
                return malformed("not a CMS ContentInfo");
            };
            (Cow::Owned(normalized), ci)
        }
    };
    if content_info.content_type != algs::ID_SIGNED_DATA {
        return malformed("CMS content is not SignedData");
    }
    let Ok(signed) = content_info.content.decode_as::<SignedData>() else {
        return malformed("invalid CMS SignedData");
    };
    let Some(raw) = raw::split_signed_data(&der) else {
        return malformed("invalid CMS SignedData");
    };

    let encap = &signed.encap_content_info;
    let attached = match &encap.econtent {
        Some(any) if any.tag() == Tag::OctetString => Some(any.value()),
        Some(_) => return malformed("encapsulated content is not an OCTET STRING"),
        None => None,
    };
    let with_content = |mut v: Verification| {
        v.content = attached.map(<[u8]>::to_vec);
        v
    };
    let content = match (attached, detached) {
        (Some(a), Some(d)) if a != d => {
            return with_content(Verification::new(
                SignatureStatus::Invalid,
                "detached content differs from the encapsulated content",
            ));
        }
        (Some(a), _) => Some(a),
        (None, d) => d,
    };

    let mut certificates = Vec::with_capacity(raw.certificates.len());
    for cert_der in &raw.certificates {
        match CertEntry::from_der(cert_der) {
            Ok(entry) => certificates.push(entry),
            Err(_) => return with_content(malformed("invalid certificate in SignedData")),
        }
    }
    if raw.signer_infos.is_empty() {
        return with_content(Verification::new(
            SignatureStatus::Invalid,
            "SignedData has no signer",
        ));
    }

    let ctx = Context {
        content,
        econtent_type: encap.econtent_type,
        certificates: &certificates,
        trust,
        at,
    };
    let mut first: Option<Verification> = None;
    for signer_der in &raw.signer_infos {
        let outcome = match (
            SignerInfo::from_der(signer_der),
            raw::signed_attrs_for_signature(signer_der),
        ) {
            (Ok(info), Some(signed_attrs)) => ctx.check_signer(&info, signed_attrs.as_deref()),
            _ => malformed("invalid SignerInfo"),
        };
        if outcome.status != SignatureStatus::Valid {
            return with_content(outcome);
        }
        first.get_or_insert(outcome);
    }
    with_content(first.unwrap_or_else(|| malformed("SignedData has no signer")))
}

/// Everything a single SignerInfo is checked against.
struct Context<'a> {
    content: Option<&'a [u8]>,
    econtent_type: ObjectIdentifier,
    certificates: &'a [CertEntry],
    trust: &'a TrustStore,
    at: DateTime<Utc>,
}

impl Context<'_> {
    fn check_signer(&self, info: &SignerInfo, signed_attrs_der: Option<&[u8]>) -> Verification {
        let signer_cert = self.find_signer(&info.sid);
        let summary = signer_cert.map(|entry| {
            summary::summarize(
                &entry.cert,
                name_of(&info.digest_alg.oid),
                name_of(&info.signature_algorithm.oid),
                signing_time(info),
            )
        });
        let mut outcome = self.check_signer_inner(info, signed_attrs_der, signer_cert);
        outcome.signer = summary;
        outcome
    }

    fn check_signer_inner(
        &self,
        info: &SignerInfo,
        signed_attrs_der: Option<&[u8]>,
        signer_cert: Option<&CertEntry>,
    ) -> Verification {
        use SignatureStatus as S;
        let digest = match Hash::from_alg(&info.digest_alg) {
            Ok(h) => h,
            Err(e) => return unsupported("digest", e),
        };
        let sig_alg = match SigAlg::from_alg(&info.signature_algorithm) {
            Ok(a) => a,
            Err(e) => return unsupported("signature", e),
        };
        let Some(signer_cert) = signer_cert else {
            return Verification::new(
                S::Untrusted,
                "signer certificate is neither in the signature nor in the trust store",
            );
        };
        let key =
            match PublicKey::from_spki(&signer_cert.cert.tbs_certificate.subject_public_key_info) {
                Ok(k) => k,
                Err(SigError::Unsupported(name)) => {
                    return Verification::new(
                        S::UnsupportedAlgorithm,
                        format!("signer key type {name} is not supported"),
                    );
                }
                Err(SigError::Invalid) => {
                    return Verification::new(S::Invalid, "signer public key is malformed");
                }
            };
        let Some(content) = self.content else {
            return Verification::new(
                S::Invalid,
                "signed content is missing (detached signature without the document)",
            );
        };

        let message: &[u8] = match (signed_attrs_der, &info.signed_attrs) {
            (Some(raw_attrs), Some(attrs)) => {
                if let Err(reason) = self.check_signed_attrs(attrs, digest, content) {
                    return Verification::new(S::Invalid, reason);
                }
                raw_attrs
            }
            (None, None) => {
                // RFC 5652 §5.3: without signed attributes only id-data may be signed.
                if self.econtent_type != ID_DATA {
                    return Verification::new(
                        S::Invalid,
                        "content type other than data requires signed attributes",
                    );
                }
                content
            }
            _ => return Verification::new(S::Malformed, "invalid SignerInfo"),
        };
        match key.verify(sig_alg, Some(digest), message, info.signature.as_bytes()) {
            Ok(()) => {}
            Err(SigError::Invalid) => {
                return Verification::new(S::Invalid, "signature does not verify");
            }
            Err(e) => return unsupported("signature", e),
        }

        if !chain::may_sign_documents(&signer_cert.cert) {
            return Verification::new(
                S::Untrusted,
                "signer certificate key usage does not allow signing",
            );
        }
        let pool = self.candidates();
        let path = match chain::build_path(signer_cert, &pool) {
            Ok(path) => path,
            Err(failure) => return Verification::new(failure.status, failure.reason),
        };
        for (index, entry) in path.iter().enumerate() {
            if let Some(problem) = chain::validity_problem(&entry.cert, self.at) {
                let which = if index == 0 {
                    "signer certificate"
                } else {
                    "CA certificate in the chain"
                };
                return Verification::new(S::Expired, format!("{which} is {problem}"));
            }
        }
        Verification::new(
            S::Valid,
            "signature verified, certificate chain trusted and in validity period",
        )
    }

    fn check_signed_attrs(
        &self,
        attrs: &cms::signed_data::SignedAttributes,
        digest: Hash,
        content: &[u8],
    ) -> Result<(), &'static str> {
        let digest_value = single_value(attrs, algs::ID_MESSAGE_DIGEST).map_err(|e| match e {
            AttrProblem::Missing => "messageDigest signed attribute is missing",
            AttrProblem::Ambiguous => "messageDigest attribute is ambiguous",
        })?;
        let Ok(expected) = digest_value.decode_as::<OctetString>() else {
            return Err("messageDigest attribute is not an OCTET STRING");
        };
        if expected.as_bytes() != digest.digest(content).as_slice() {
            return Err("content digest does not match the signed messageDigest");
        }
        // RFC 5652 §11.1: contentType must be present and match eContentType.
        let type_value = single_value(attrs, algs::ID_CONTENT_TYPE).map_err(|e| match e {
            AttrProblem::Missing => "contentType signed attribute is missing",
            AttrProblem::Ambiguous => "contentType attribute is ambiguous",
        })?;
        match type_value.decode_as::<ObjectIdentifier>() {
            Ok(oid) if oid == self.econtent_type => Ok(()),
            _ => Err("contentType attribute does not match the content"),
        }
    }

    /// The signer's certificate, from the signature first, then the store.
    fn find_signer(&self, sid: &SignerIdentifier) -> Option<&CertEntry> {
        let mut all = self
            .certificates
            .iter()
            .chain(&self.trust.intermediates)
            .chain(&self.trust.roots);
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => all.find(|e| {
                let tbs = &e.cert.tbs_certificate;
                tbs.serial_number == isn.serial_number && tbs.issuer == isn.issuer
            }),
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                all.find(|e| chain::subject_key_id(&e.cert).as_deref() == Some(ski.0.as_bytes()))
            }
        }
    }

    /// Path-building pool, anchors first (see `chain::build_path`).
    fn candidates(&self) -> Vec<Candidate<'_>> {
        let anchors = self.trust.roots.iter().map(|entry| Candidate {
            entry,
            anchor: true,
        });
        let others = self
            .certificates
            .iter()
            .chain(&self.trust.intermediates)
            .map(|entry| Candidate {
                entry,
                anchor: false,
            });
        anchors.chain(others).collect()
    }
}

enum AttrProblem {
    Missing,
    Ambiguous,
}

/// The one value of the one attribute `oid`; RFC 5652 §11 forbids repeats.
fn single_value(
    attrs: &cms::signed_data::SignedAttributes,
    oid: ObjectIdentifier,
) -> Result<&x509_cert::attr::AttributeValue, AttrProblem> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    match (found.next(), found.next()) {
        (None, _) => Err(AttrProblem::Missing),
        (Some(attr), None) if attr.values.len() == 1 => {
            attr.values.get(0).ok_or(AttrProblem::Missing)
        }
        _ => Err(AttrProblem::Ambiguous),
    }
}

/// Reason reported if a parser below panicked (a bug, not a verdict on the input).
const INTERNAL_ERROR: &str = "internal error while processing the signature";

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

fn unsupported(what: &str, error: SigError) -> Verification {
    match error {
        SigError::Unsupported(name) => Verification::new(
            SignatureStatus::UnsupportedAlgorithm,
            format!("{what} algorithm {name} is not supported"),
        ),
        SigError::Invalid => Verification::new(
            SignatureStatus::Invalid,
            format!("{what} algorithm parameters are invalid"),
        ),
    }
}

/// The `signingTime` signed attribute, if present and well-formed.
fn signing_time(info: &SignerInfo) -> Option<DateTime<Utc>> {
    let attr = info
        .signed_attrs
        .as_ref()?
        .iter()
        .find(|a| a.oid == algs::ID_SIGNING_TIME)?;
    let der = summary::value_der(attr.values.get(0)?)?;
    let time = Time::from_der(&der).ok()?;
    Some(chain::to_chrono(time, DateTime::<Utc>::MIN_UTC))
}

/// Accepts DER, PEM (`CMS`, `PKCS7`, `PKCS #7 SIGNED DATA`) or bare base64.
fn decode_input(input: &[u8]) -> Option<Cow<'_, [u8]>> {
    if input.first() == Some(&0x30) {
        return Some(Cow::Borrowed(input));
    }
    if trust::looks_like_pem(input) {
        let block = trust::pem_blocks(input).into_iter().next()?;
        let (label, der) = der::pem::decode_vec(block).ok()?;
        return matches!(label, "CMS" | "PKCS7" | "PKCS #7 SIGNED DATA").then_some(Cow::Owned(der));
    }
    // NCA tooling (Kalkan, NCALayer) usually hands out CMS as bare base64.
    let compact: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()?;
    (der.first() == Some(&0x30)).then_some(Cow::Owned(der))
}
