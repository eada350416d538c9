//! Algorithm identifiers we understand and the signature primitives.
//!
//! Only RSA (PKCS#1 v1.5, PSS) and ECDSA on P-256 with SHA-2 are accepted.
//! Everything else, notably the GOST family used by Kazakhstan's NCA, is
//! reported as unsupported rather than guessed at.

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::RsaPssParams;
use rsa::{Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

pub(crate) const ID_SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
pub(crate) const ID_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
pub(crate) const ID_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
pub(crate) const ID_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");

const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
const SHA224: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.4");
const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const SHA1_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.5");
const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
const SHA224_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.14");
const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");

const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
const ECDSA_SHA1: Oid = Oid::new_unwrap("1.2.840.10045.4.1");
const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");

/// Kazakh GOST 34.310/34.311 (NCA RK) arc.
const GOST_KZ_PREFIX: &str = "1.2.398.3.10.1.";
/// Russian GOST R 34.10/34.11 arc (CryptoPro, TC 26).
const GOST_RU_PREFIX: &str = "1.2.643.";

/// Why an algorithm check or signature check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigError {
    /// Algorithm (or key type) we do not implement; carries a readable name.
    Unsupported(String),
    /// The signature (or its encoding) does not verify.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn from_alg(alg: &AlgorithmIdentifierOwned) -> Result<Self, SigError> {
        Self::from_oid(&alg.oid)
    }

    fn from_oid(oid: &Oid) -> Result<Self, SigError> {
        match *oid {
            SHA256 => Ok(Self::Sha256),
            SHA384 => Ok(Self::Sha384),
            SHA512 => Ok(Self::Sha512),
            other => Err(SigError::Unsupported(name_of(&other))),
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn pkcs1v15(self) -> Pkcs1v15Sign {
        match self {
            Self::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
            Self::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
            Self::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
        }
    }

    fn pss(self, salt_len: usize) -> Pss {
        match self {
            Self::Sha256 => Pss::new_with_salt::<Sha256>(salt_len),
            Self::Sha384 => Pss::new_with_salt::<Sha384>(salt_len),
            Self::Sha512 => Pss::new_with_salt::<Sha512>(salt_len),
        }
    }
}

/// A signature scheme; `None` hash means "take it from the CMS digestAlgorithm"
/// (bare rsaEncryption / id-ecPublicKey in a SignerInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigAlg {
    RsaPkcs1(Option<Hash>),
    RsaPss { hash: Hash, salt_len: usize },
    Ecdsa(Option<Hash>),
}

impl SigAlg {
    pub(crate) fn from_alg(alg: &AlgorithmIdentifierOwned) -> Result<Self, SigError> {
        match alg.oid {
            RSA_ENCRYPTION => Ok(Self::RsaPkcs1(None)),
            SHA256_WITH_RSA => Ok(Self::RsaPkcs1(Some(Hash::Sha256))),
            SHA384_WITH_RSA => Ok(Self::RsaPkcs1(Some(Hash::Sha384))),
            SHA512_WITH_RSA => Ok(Self::RsaPkcs1(Some(Hash::Sha512))),
            RSASSA_PSS => parse_pss(alg),
            EC_PUBLIC_KEY => Ok(Self::Ecdsa(None)),
            ECDSA_SHA256 => Ok(Self::Ecdsa(Some(Hash::Sha256))),
            ECDSA_SHA384 => Ok(Self::Ecdsa(Some(Hash::Sha384))),
            ECDSA_SHA512 => Ok(Self::Ecdsa(Some(Hash::Sha512))),
            other => Err(SigError::Unsupported(name_of(&other))),
        }
    }

    /// The hash the scheme fixes, if any.
    pub(crate) fn hash(self) -> Option<Hash> {
        match self {
            Self::RsaPkcs1(h) | Self::Ecdsa(h) => h,
            Self::RsaPss { hash, .. } => Some(hash),
        }
    }
}

fn parse_pss(alg: &AlgorithmIdentifierOwned) -> Result<SigAlg, SigError> {
    let unsupported = || SigError::Unsupported("RSASSA-PSS with unsupported parameters".into());
    // Absent parameters mean SHA-1 defaults, which we do not accept.
    let params = alg.parameters.as_ref().ok_or_else(unsupported)?;
    let der = params.to_der().map_err(|_| unsupported())?;
    let params = RsaPssParams::from_der(&der).map_err(|_| unsupported())?;
    let hash = Hash::from_oid(&params.hash.oid)?;
    let mgf_hash = params.mask_gen.parameters.map(|p| p.oid);
    if params.mask_gen.oid != MGF1 || mgf_hash != Some(params.hash.oid) {
        return Err(unsupported());
    }
    Ok(SigAlg::RsaPss {
        hash,
        salt_len: usize::from(params.salt_len),
    })
}

/// A public key we can verify with.
pub(crate) enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self, SigError> {
        let oid = spki.algorithm.oid;
        if oid == RSA_ENCRYPTION || oid == RSASSA_PSS {
            // Both OIDs wrap the same PKCS#1 RSAPublicKey in the bit string.
            let key = <RsaPublicKey as rsa::pkcs1::DecodeRsaPublicKey>::from_pkcs1_der(
                spki.subject_public_key.raw_bytes(),
            );
            return key.map(PublicKey::Rsa).map_err(|_| SigError::Invalid);
        }
        if oid == EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<Oid>().ok());
            if curve != Some(PRIME256V1) {
                let name = curve.map_or_else(|| "unknown".to_string(), |c| c.to_string());
                return Err(SigError::Unsupported(format!("elliptic curve {name}")));
            }
            let point = spki.subject_public_key.raw_bytes();
            return p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map(PublicKey::P256)
                .map_err(|_| SigError::Invalid);
        }
        Err(SigError::Unsupported(format!(
            "public key {}",
            name_of(&oid)
        )))
    }

    /// Verifies `signature` over `message` with `alg`; `fallback` supplies the
    /// hash when the algorithm identifier does not name one.
    pub(crate) fn verify(
        &self,
        alg: SigAlg,
        fallback: Option<Hash>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SigError> {
        let hash = alg.hash().or(fallback).ok_or_else(|| {
            SigError::Unsupported("signature algorithm without a hash".to_string())
        })?;
        let hashed = hash.digest(message);
        match (self, alg) {
            (PublicKey::Rsa(key), SigAlg::RsaPkcs1(_)) => key
                .verify(hash.pkcs1v15(), &hashed, signature)
                .map_err(|_| SigError::Invalid),
            (PublicKey::Rsa(key), SigAlg::RsaPss { salt_len, .. }) => {
                // A salt longer than the hash is legal but never used in practice.
                if salt_len > hash.len() * 2 {
                    return Err(SigError::Unsupported("RSASSA-PSS salt length".into()));
                }
                key.verify(hash.pss(salt_len), &hashed, signature)
                    .map_err(|_| SigError::Invalid)
            }
            (PublicKey::P256(key), SigAlg::Ecdsa(_)) => {
                let sig =
                    p256::ecdsa::Signature::from_der(signature).map_err(|_| SigError::Invalid)?;
                key.verify_prehash(&hashed, &sig)
                    .map_err(|_| SigError::Invalid)
            }
            // Algorithm and key family disagree: cannot be a genuine signature.
            _ => Err(SigError::Invalid),
        }
    }
}

/// Readable name of an algorithm OID, or the dotted OID itself.
pub(crate) fn name_of(oid: &Oid) -> String {
    let known = match *oid {
        SHA1 => "SHA-1",
        SHA224 => "SHA-224",
        SHA256 => "SHA-256",
        SHA384 => "SHA-384",
        SHA512 => "SHA-512",
        RSA_ENCRYPTION => "rsaEncryption",
        SHA1_WITH_RSA => "sha1WithRSAEncryption",
        SHA224_WITH_RSA => "sha224WithRSAEncryption",
        SHA256_WITH_RSA => "sha256WithRSAEncryption",
        SHA384_WITH_RSA => "sha384WithRSAEncryption",
        SHA512_WITH_RSA => "sha512WithRSAEncryption",
        RSASSA_PSS => "RSASSA-PSS",
        EC_PUBLIC_KEY => "ecPublicKey",
        ECDSA_SHA1 => "ecdsa-with-SHA1",
        ECDSA_SHA256 => "ecdsa-with-SHA256",
        ECDSA_SHA384 => "ecdsa-with-SHA384",
        ECDSA_SHA512 => "ecdsa-with-SHA512",
        _ => {
            let dotted = oid.to_string();
            if dotted.starts_with(GOST_KZ_PREFIX) {
                return format!("GOST 34.310/34.311 (KZ, {dotted})");
            }
            if dotted.starts_with(GOST_RU_PREFIX) {
                return format!("GOST R 34.10/34.11 ({dotted})");
            }
            return dotted;
        }
    };
    known.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_gost_oids() {
        let kz = Oid::new_unwrap("1.2.398.3.10.1.1.1.2");
        assert!(name_of(&kz).starts_with("GOST 34.310"));
        let ru = Oid::new_unwrap("1.2.643.7.1.1.3.2");
        assert!(name_of(&ru).starts_with("GOST R"));
        assert_eq!(name_of(&SHA256), "SHA-256");
        assert_eq!(
            name_of(&Oid::new_unwrap("1.2.3.4")),
            "1.2.3.4",
            "unknown OIDs stay dotted"
        );
    }
}
