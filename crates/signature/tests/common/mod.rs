//! Test PKI generated at test time: an RSA root, a P-256 intermediate,
//! signers under both, an expired signer and an unrelated CA.
#![allow(dead_code)] // each test binary uses a different subset

use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use cms::builder::{SignedDataBuilder, SignerInfoBuilder, create_signing_time_attribute};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier};
use der::asn1::{GeneralizedTime, ObjectIdentifier};
use der::{Any, Encode, EncodePem, Tag};
use rand_core::OsRng;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use bakylau_signature::TrustStore;

pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const SHA256_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

pub const CONTENT: &[u8] = "Өтініш: прошу отремонтировать дорогу на ул. Абая".as_bytes();

/// Verification time used by the tests: inside every "current" validity period.
pub fn now() -> DateTime<Utc> {
    ymd(2026, 1, 15)
}

pub fn ymd(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("valid test date")
}

fn validity(from: DateTime<Utc>, to: DateTime<Utc>) -> Validity {
    let time = |t: DateTime<Utc>| {
        let secs = u64::try_from(t.timestamp()).expect("post-1970");
        Time::GeneralTime(
            GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).expect("valid time"),
        )
    };
    Validity {
        not_before: time(from),
        not_after: time(to),
    }
}

/// RSA keygen is slow in debug builds: two keys per test binary.
fn rsa_key(slot: usize) -> RsaPrivateKey {
    static KEYS: [OnceLock<RsaPrivateKey>; 2] = [OnceLock::new(), OnceLock::new()];
    KEYS[slot]
        .get_or_init(|| RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA keygen"))
        .clone()
}

#[derive(Clone)]
pub enum Key {
    Rsa(Box<RsaPrivateKey>),
    Ec(p256::ecdsa::SigningKey),
}

impl Key {
    pub fn new_ec() -> Self {
        Key::Ec(p256::ecdsa::SigningKey::random(&mut OsRng))
    }

    pub fn rsa_signer(&self) -> rsa::pkcs1v15::SigningKey<Sha256> {
        match self {
            Key::Rsa(k) => rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone()),
            Key::Ec(_) => panic!("not an RSA key"),
        }
    }

    pub fn spki(&self) -> SubjectPublicKeyInfoOwned {
        match self {
            Key::Rsa(k) => SubjectPublicKeyInfoOwned::from_key(k.to_public_key()),
            Key::Ec(k) => SubjectPublicKeyInfoOwned::from_key(*k.verifying_key()),
        }
        .expect("encode SPKI")
    }

    /// Issues a certificate for `spki`, signed by this key.
    pub fn issue(
        &self,
        profile: Profile,
        serial: u32,
        valid: Validity,
        subject: &str,
        spki: SubjectPublicKeyInfoOwned,
    ) -> Certificate {
        let subject = Name::from_str(subject).expect("subject");
        let serial = SerialNumber::from(serial);
        match self {
            Key::Rsa(_) => {
                let signer = self.rsa_signer();
                CertificateBuilder::new(profile, serial, valid, subject, spki, &signer)
                    .expect("builder")
                    .build::<rsa::pkcs1v15::Signature>()
                    .expect("RSA cert")
            }
            Key::Ec(k) => CertificateBuilder::new(profile, serial, valid, subject, spki, k)
                .expect("builder")
                .build::<p256::ecdsa::DerSignature>()
                .expect("EC cert"),
        }
    }

    /// A CMS SignedData (DER) over `content`, signed by this key with `cert`.
    pub fn sign_cms(
        &self,
        cert: &Certificate,
        content: &[u8],
        detached: bool,
        extra_certs: &[&Certificate],
    ) -> Vec<u8> {
        let econtent = (!detached).then(|| Any::new(Tag::OctetString, content).expect("any"));
        let eci = EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent,
        };
        let digest = Sha256::digest(content);
        let external = detached.then_some(&digest[..]);
        let digest_alg = AlgorithmIdentifierOwned {
            oid: SHA256_OID,
            parameters: None,
        };
        let mut builder = SignedDataBuilder::new(&eci);
        builder
            .add_digest_algorithm(digest_alg.clone())
            .expect("digest alg")
            .add_certificate(CertificateChoices::Certificate(cert.clone()))
            .expect("cert");
        for extra in extra_certs {
            builder
                .add_certificate(CertificateChoices::Certificate((*extra).clone()))
                .expect("extra cert");
        }
        match self {
            Key::Rsa(_) => {
                let signer = self.rsa_signer();
                let mut sib =
                    SignerInfoBuilder::new(&signer, sid(cert), digest_alg, &eci, external)
                        .expect("signer info");
                sib.add_signed_attribute(create_signing_time_attribute().expect("time"))
                    .expect("attr");
                builder
                    .add_signer_info::<_, rsa::pkcs1v15::Signature>(sib)
                    .expect("sign");
            }
            Key::Ec(k) => {
                let mut sib = SignerInfoBuilder::new(k, sid(cert), digest_alg, &eci, external)
                    .expect("signer info");
                sib.add_signed_attribute(create_signing_time_attribute().expect("time"))
                    .expect("attr");
                builder
                    .add_signer_info::<_, p256::ecdsa::DerSignature>(sib)
                    .expect("sign");
            }
        }
        builder.build().expect("build").to_der().expect("encode")
    }
}

pub fn sid(cert: &Certificate) -> SignerIdentifier {
    SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
        issuer: cert.tbs_certificate.issuer.clone(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    })
}

pub fn pem(cert: &Certificate) -> String {
    cert.to_pem(der::pem::LineEnding::LF).expect("pem")
}

pub struct Party {
    pub key: Key,
    pub cert: Certificate,
}

pub struct Pki {
    pub root: Party,
    pub intermediate: Party,
    /// RSA, issued directly by the root; NCA-style subject with IIN/BIN.
    pub rsa_signer: Party,
    /// P-256, issued by the intermediate.
    pub ec_signer: Party,
    /// P-256, issued by the intermediate, validity 2020-2022.
    pub expired_signer: Party,
    pub other_root: Party,
    pub other_signer: Party,
}

pub const ROOT_DN: &str = "CN=Test NCA Root,O=Test,C=KZ";
pub const INTERMEDIATE_DN: &str = "CN=Test NCA Intermediate,O=Test,C=KZ";
pub const RSA_SIGNER_DN: &str =
    "CN=ASANOV ASAN,serialNumber=IIN123456789012,OU=BIN987654321098,O=Test LLP,C=KZ";

impl Pki {
    pub fn get() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(Pki::generate)
    }

    fn generate() -> Pki {
        let ca_validity = || validity(ymd(2020, 1, 1), ymd(2040, 1, 1));
        let leaf_validity = || validity(ymd(2024, 1, 1), ymd(2030, 1, 1));
        let leaf = |issuer: &Certificate| Profile::Leaf {
            issuer: issuer.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        };

        let root_key = Key::Rsa(Box::new(rsa_key(0)));
        let root_cert = root_key.issue(Profile::Root, 1, ca_validity(), ROOT_DN, root_key.spki());

        let inter_key = Key::new_ec();
        let inter_cert = root_key.issue(
            Profile::SubCA {
                issuer: root_cert.tbs_certificate.subject.clone(),
                path_len_constraint: Some(0),
            },
            2,
            ca_validity(),
            INTERMEDIATE_DN,
            inter_key.spki(),
        );

        let rsa_signer_key = Key::Rsa(Box::new(rsa_key(1)));
        let rsa_signer_cert = root_key.issue(
            leaf(&root_cert),
            0x1234_5678,
            leaf_validity(),
            RSA_SIGNER_DN,
            rsa_signer_key.spki(),
        );

        let ec_signer_key = Key::new_ec();
        let ec_signer_cert = inter_key.issue(
            leaf(&inter_cert),
            10,
            leaf_validity(),
            "CN=EC SIGNER,serialNumber=IIN000000000001,C=KZ",
            ec_signer_key.spki(),
        );

        let expired_key = Key::new_ec();
        let expired_cert = inter_key.issue(
            leaf(&inter_cert),
            11,
            validity(ymd(2020, 1, 1), ymd(2022, 1, 1)),
            "CN=EXPIRED SIGNER,C=KZ",
            expired_key.spki(),
        );

        let other_root_key = Key::new_ec();
        let other_root_cert = other_root_key.issue(
            Profile::Root,
            1,
            ca_validity(),
            "CN=Other Root,C=KZ",
            other_root_key.spki(),
        );
        let other_signer_key = Key::new_ec();
        let other_signer_cert = other_root_key.issue(
            leaf(&other_root_cert),
            20,
            leaf_validity(),
            "CN=OTHER SIGNER,C=KZ",
            other_signer_key.spki(),
        );

        Pki {
            root: Party {
                key: root_key,
                cert: root_cert,
            },
            intermediate: Party {
                key: inter_key,
                cert: inter_cert,
            },
            rsa_signer: Party {
                key: rsa_signer_key,
                cert: rsa_signer_cert,
            },
            ec_signer: Party {
                key: ec_signer_key,
                cert: ec_signer_cert,
            },
            expired_signer: Party {
                key: expired_key,
                cert: expired_cert,
            },
            other_root: Party {
                key: other_root_key,
                cert: other_root_cert,
            },
            other_signer: Party {
                key: other_signer_key,
                cert: other_signer_cert,
            },
        }
    }

    /// Trusts only the test root.
    pub fn trust(&self) -> TrustStore {
        TrustStore::from_pem(pem(&self.root.cert).as_bytes()).expect("trust store")
    }

    /// RSA attached signature over [`CONTENT`].
    pub fn rsa_attached(&self) -> Vec<u8> {
        self.rsa_signer
            .key
            .sign_cms(&self.rsa_signer.cert, CONTENT, false, &[])
    }

    /// P-256 detached signature over [`CONTENT`], intermediate included.
    pub fn ec_detached(&self) -> Vec<u8> {
        self.ec_signer.key.sign_cms(
            &self.ec_signer.cert,
            CONTENT,
            true,
            &[&self.intermediate.cert],
        )
    }
}

/// Re-encodes DER the way streaming (Java) encoders do: every constructed
/// element with indefinite length, every longer OCTET STRING in two segments.
pub fn to_ber(der: &[u8]) -> Vec<u8> {
    fn tlv(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
        out.push(tag);
        match contents.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(contents);
    }
    fn element<'a>(input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        let tag = input[0];
        let (len, header) = if input[1] < 0x80 {
            (usize::from(input[1]), 2)
        } else {
            let n = usize::from(input[1] & 0x7f);
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | usize::from(*b));
            (len, 2 + n)
        };
        let contents = &input[header..header + len];
        if tag & 0x20 != 0 {
            out.extend([tag, 0x80]);
            let mut rest = contents;
            while !rest.is_empty() {
                rest = element(rest, out);
            }
            out.extend([0, 0]);
        } else if tag == 0x04 && len > 1 {
            out.extend([0x24, 0x80]);
            let (a, b) = contents.split_at(len / 2);
            tlv(out, 0x04, a);
            tlv(out, 0x04, b);
            out.extend([0, 0]);
        } else {
            out.extend_from_slice(&input[..header + len]);
        }
        &input[header + len..]
    }
    let mut out = Vec::new();
    let rest = element(der, &mut out);
    assert!(rest.is_empty());
    out
}
