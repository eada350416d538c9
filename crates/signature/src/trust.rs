//! Trusted certificates: the roots a signer's chain must end at, plus
//! optional intermediates that help build the chain when a signature does
//! not carry them.

use std::path::{Path, PathBuf};

use der::Decode;
use x509_cert::Certificate;

use crate::raw;

/// A decoded certificate together with the bytes it was decoded from
/// (needed to verify its signature over the exact `tbsCertificate`).
#[derive(Debug, Clone)]
pub(crate) struct CertEntry {
    pub cert: Certificate,
    pub der: Vec<u8>,
}

impl CertEntry {
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, der::Error> {
        let cert = Certificate::from_der(der)?;
        Ok(Self {
            cert,
            der: der.to_vec(),
        })
    }

    pub(crate) fn tbs(&self) -> Option<&[u8]> {
        raw::tbs_certificate(&self.der)
    }

    fn is_self_issued(&self) -> bool {
        self.cert.tbs_certificate.subject == self.cert.tbs_certificate.issuer
    }
}

/// Why a trust store could not be built. Configuration errors: the operator
/// should see them at start-up, not as "untrusted" signatures later.
#[derive(Debug, thiserror::Error)]
pub enum TrustStoreError {
    #[error("cannot read trust store file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: invalid PEM block #{index}: {detail}")]
    Pem {
        origin: String,
        index: usize,
        detail: String,
    },
    #[error("{origin}: PEM block #{index} is {label:?}, not a CERTIFICATE")]
    NotACertificate {
        origin: String,
        index: usize,
        label: String,
    },
    #[error("{origin}: certificate #{index} cannot be decoded: {detail}")]
    BadCertificate {
        origin: String,
        index: usize,
        detail: String,
    },
    #[error("{origin}: no certificate found")]
    NoCertificate { origin: String },
}

/// Trusted roots and helper intermediates.
///
/// Self-issued certificates (subject = issuer) loaded through
/// [`TrustStore::from_pem`] / [`TrustStore::from_pem_files`] become trust
/// anchors; the others are kept as intermediates, usable for building a
/// chain but never trusted on their own. Use [`TrustStore::add_root_pem`] to
/// anchor trust at a non-self-issued CA deliberately.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    pub(crate) roots: Vec<CertEntry>,
    pub(crate) intermediates: Vec<CertEntry>,
}

impl TrustStore {
    /// A store that trusts nothing: every signature is at best `untrusted`.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds a store from one PEM bundle (or a single DER certificate).
    pub fn from_pem(pem: &[u8]) -> Result<Self, TrustStoreError> {
        let mut store = Self::empty();
        store.add_bundle(pem, "<memory>", Placement::BySelfIssued)?;
        Ok(store)
    }

    /// Builds a store from PEM (or DER) files, e.g. the NCA RK root and
    /// intermediate certificates.
    pub fn from_pem_files(paths: &[PathBuf]) -> Result<Self, TrustStoreError> {
        let mut store = Self::empty();
        for path in paths {
            store.add_file(path, Placement::BySelfIssued)?;
        }
        Ok(store)
    }

    /// Adds every certificate in `pem` as a trust anchor, self-issued or not.
    /// Returns how many were added.
    pub fn add_root_pem(&mut self, pem: &[u8]) -> Result<usize, TrustStoreError> {
        self.add_bundle(pem, "<memory>", Placement::Root)
    }

    /// Adds every certificate in `pem` as an untrusted intermediate.
    /// Returns how many were added.
    pub fn add_intermediate_pem(&mut self, pem: &[u8]) -> Result<usize, TrustStoreError> {
        self.add_bundle(pem, "<memory>", Placement::Intermediate)
    }

    /// Number of trust anchors.
    pub fn root_count(&self) -> usize {
        self.roots.len()
    }

    /// Number of helper intermediates.
    pub fn intermediate_count(&self) -> usize {
        self.intermediates.len()
    }

    /// True when nothing is trusted.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    fn add_file(&mut self, path: &Path, placement: Placement) -> Result<usize, TrustStoreError> {
        let bytes = std::fs::read(path).map_err(|source| TrustStoreError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_bundle(&bytes, &path.display().to_string(), placement)
    }

    fn add_bundle(
        &mut self,
        bytes: &[u8],
        origin: &str,
        placement: Placement,
    ) -> Result<usize, TrustStoreError> {
        let ders = if bytes.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else if looks_like_pem(bytes) {
            let mut ders = Vec::new();
            for (index, block) in pem_blocks(bytes).into_iter().enumerate() {
                let (label, der) =
                    der::pem::decode_vec(block).map_err(|e| TrustStoreError::Pem {
                        origin: origin.to_string(),
                        index,
                        detail: e.to_string(),
                    })?;
                if label != "CERTIFICATE" && label != "X509 CERTIFICATE" {
                    return Err(TrustStoreError::NotACertificate {
                        origin: origin.to_string(),
                        index,
                        label: label.to_string(),
                    });
                }
                ders.push(der);
            }
            ders
        } else {
            // A lone DER certificate (.cer files from the NCA site are often DER).
            vec![bytes.to_vec()]
        };
        if ders.is_empty() {
            return Err(TrustStoreError::NoCertificate {
                origin: origin.to_string(),
            });
        }
        let mut entries = Vec::with_capacity(ders.len());
        for (index, der) in ders.iter().enumerate() {
            let entry = CertEntry::from_der(der).map_err(|e| TrustStoreError::BadCertificate {
                origin: origin.to_string(),
                index,
                detail: e.to_string(),
            })?;
            entries.push(entry);
        }
        let added = entries.len();
        for entry in entries {
            let as_root = match placement {
                Placement::Root => true,
                Placement::Intermediate => false,
                Placement::BySelfIssued => entry.is_self_issued(),
            };
            if as_root {
                self.roots.push(entry);
            } else {
                self.intermediates.push(entry);
            }
        }
        Ok(added)
    }
}

#[derive(Clone, Copy)]
enum Placement {
    Root,
    Intermediate,
    BySelfIssued,
}

pub(crate) fn looks_like_pem(bytes: &[u8]) -> bool {
    find(bytes, b"-----BEGIN ").is_some()
}

/// Splits text into `-----BEGIN ...-----` .. `-----END ...-----` blocks,
/// ignoring anything around them (OpenSSL bundles carry comment lines).
pub(crate) fn pem_blocks(bytes: &[u8]) -> Vec<&[u8]> {
    let mut blocks = Vec::new();
    let mut rest = bytes;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let from_begin = &rest[start..];
        let Some(end_marker) = find(from_begin, b"-----END ") else {
            // Unterminated: hand it to the decoder so the error says so.
            blocks.push(from_begin);
            break;
        };
        let after_end = &from_begin[end_marker + b"-----END ".len()..];
        let block_len = match find(after_end, b"-----") {
            Some(close) => end_marker + b"-----END ".len() + close + b"-----".len(),
            None => from_begin.len(),
        };
        blocks.push(&from_begin[..block_len]);
        rest = &from_begin[block_len..];
    }
    blocks
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_pem_blocks_and_ignores_comments() {
        let text = b"subject=CN=x\n-----BEGIN A-----\nAAAA\n-----END A-----\njunk\n-----BEGIN B-----\nBBBB\n-----END B-----\n";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].starts_with(b"-----BEGIN A-----"));
        assert!(blocks[0].ends_with(b"-----END A-----"));
        assert!(blocks[1].ends_with(b"-----END B-----"));
    }

    #[test]
    fn empty_store_trusts_nothing() {
        let store = TrustStore::empty();
        assert!(store.is_empty());
        assert_eq!(store.root_count(), 0);
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            TrustStore::from_pem(b"not a certificate"),
            Err(TrustStoreError::BadCertificate { .. })
        ));
        assert!(matches!(
            TrustStore::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(TrustStoreError::NotACertificate { .. })
        ));
    }
}
