//! End-to-end verification against a PKI generated at test time.

mod common;

use std::str::FromStr;

use cms::builder::{create_content_type_attribute, create_message_digest_attribute};
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Tag};
use rand_core::OsRng;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, DynSignatureAlgorithmIdentifier};
use x509_cert::Certificate;
use x509_cert::builder::Profile;

use bakylau_signature::{SignatureStatus, TrustStore, TrustStoreError, verify};
use common::{CONTENT, ID_DATA, Key, Pki, SHA256_OID, now, pem, sid, to_ber, ymd};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");

fn decode_signed(der: &[u8]) -> SignedData {
    ContentInfo::from_der(der)
        .expect("content info")
        .content
        .decode_as::<SignedData>()
        .expect("signed data")
}

fn wrap(sd: &SignedData) -> Vec<u8> {
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(sd).expect("any"),
    }
    .to_der()
    .expect("der")
}

fn map_signer_info(der: &[u8], f: impl FnOnce(&mut SignerInfo)) -> Vec<u8> {
    let mut sd = decode_signed(der);
    let mut infos = sd.signer_infos.0.into_vec();
    f(&mut infos[0]);
    sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).expect("set"));
    wrap(&sd)
}

fn sha256_alg() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: SHA256_OID,
        parameters: None,
    }
}

/// Hand-assembled SignedData, for shapes the cms builder cannot produce
/// (no signed attributes, RSASSA-PSS).
fn manual_cms(
    cert: &Certificate,
    content: &[u8],
    with_attrs: bool,
    signature_algorithm: AlgorithmIdentifierOwned,
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> Vec<u8> {
    let signed_attrs: Option<SignedAttributes> = with_attrs.then(|| {
        SetOfVec::try_from(vec![
            create_content_type_attribute(ID_DATA).expect("ct"),
            create_message_digest_attribute(&Sha256::digest(content)).expect("md"),
        ])
        .expect("attrs")
    });
    let message = match &signed_attrs {
        Some(attrs) => attrs.to_der().expect("attrs der"),
        None => content.to_vec(),
    };
    let info = SignerInfo {
        version: CmsVersion::V1,
        sid: sid(cert),
        digest_alg: sha256_alg(),
        signed_attrs,
        signature_algorithm,
        signature: OctetString::new(sign(&message)).expect("sig"),
        unsigned_attrs: None,
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_alg()]).expect("algs"),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: Some(Any::new(Tag::OctetString, content).expect("content")),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(cert.clone())]).expect("certs"),
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![info]).expect("infos")),
    };
    wrap(&sd)
}

#[test]
fn rsa_attached_signature_is_valid() {
    let pki = Pki::get();
    let v = verify(&pki.rsa_attached(), None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
    assert_eq!(v.content.as_deref(), Some(CONTENT));
    let signer = v.signer.expect("signer summary");
    assert_eq!(signer.iin.as_deref(), Some("123456789012"));
    assert_eq!(signer.bin.as_deref(), Some("987654321098"));
    assert_eq!(signer.serial_number_hex, "12345678");
    assert_eq!(signer.digest_algorithm, "SHA-256");
    assert_eq!(signer.signature_algorithm, "sha256WithRSAEncryption");
    assert!(signer.subject.contains("CN=ASANOV ASAN"));
    assert!(signer.issuer.contains("CN=Test NCA Root"));
    assert_eq!(signer.not_before, ymd(2024, 1, 1));
    assert!(signer.signing_time.is_some());
    // The reason must not leak personal data.
    assert!(!v.reason.contains("ASANOV") && !v.reason.contains("123456789012"));
}

#[test]
fn attached_signature_with_equal_detached_copy_is_valid() {
    let pki = Pki::get();
    let v = verify(&pki.rsa_attached(), Some(CONTENT), &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
}

#[test]
fn p256_detached_signature_is_valid() {
    let pki = Pki::get();
    let v = verify(&pki.ec_detached(), Some(CONTENT), &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
    assert_eq!(v.content, None);
    let signer = v.signer.expect("signer summary");
    assert_eq!(signer.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(signer.iin.as_deref(), Some("000000000001"));
    assert_eq!(signer.bin, None);
}

#[test]
fn intermediate_may_come_from_the_trust_store() {
    let pki = Pki::get();
    let der = pki
        .ec_signer
        .key
        .sign_cms(&pki.ec_signer.cert, CONTENT, true, &[]);
    // Without the intermediate anywhere, no chain.
    let v = verify(&der, Some(CONTENT), &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    // Bundle with root + intermediate: the root is anchored, the other helps.
    let bundle = format!("{}{}", pem(&pki.root.cert), pem(&pki.intermediate.cert));
    let trust = TrustStore::from_pem(bundle.as_bytes()).expect("bundle");
    assert_eq!((trust.root_count(), trust.intermediate_count()), (1, 1));
    let v = verify(&der, Some(CONTENT), &trust, now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
}

#[test]
fn intermediate_alone_is_not_a_trust_anchor() {
    let pki = Pki::get();
    let trust = TrustStore::from_pem(pem(&pki.intermediate.cert).as_bytes()).expect("store");
    assert!(trust.is_empty());
    let v = verify(&pki.ec_detached(), Some(CONTENT), &trust, now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    // ...unless anchored deliberately.
    let mut trust = TrustStore::empty();
    trust
        .add_root_pem(pem(&pki.intermediate.cert).as_bytes())
        .expect("anchor");
    let v = verify(&pki.ec_detached(), Some(CONTENT), &trust, now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
}

#[test]
fn detached_signature_without_content_is_invalid() {
    let pki = Pki::get();
    let v = verify(&pki.ec_detached(), None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
    assert!(v.signer.is_some(), "the signer is still reported");
}

#[test]
fn tampered_detached_content_is_invalid() {
    let pki = Pki::get();
    let v = verify(
        &pki.ec_detached(),
        Some(b"another text"),
        &pki.trust(),
        now(),
    );
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
}

#[test]
fn tampered_attached_content_is_invalid() {
    let pki = Pki::get();
    let mut sd = decode_signed(&pki.rsa_attached());
    let mut tampered = CONTENT.to_vec();
    tampered[0] ^= 1;
    sd.encap_content_info.econtent = Some(Any::new(Tag::OctetString, tampered).expect("any"));
    let v = verify(&wrap(&sd), None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
}

#[test]
fn detached_copy_differing_from_attached_content_is_invalid() {
    let pki = Pki::get();
    let v = verify(&pki.rsa_attached(), Some(b"other"), &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
}

#[test]
fn tampered_signature_value_is_invalid() {
    let pki = Pki::get();
    for der in [pki.rsa_attached(), pki.ec_detached()] {
        let der = map_signer_info(&der, |si| {
            let mut sig = si.signature.as_bytes().to_vec();
            let last = sig.len() - 1;
            sig[last] ^= 0x01;
            si.signature = OctetString::new(sig).expect("sig");
        });
        let v = verify(&der, Some(CONTENT), &pki.trust(), now());
        assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
    }
}

#[test]
fn tampered_signed_attribute_is_invalid() {
    let pki = Pki::get();
    // Replace the (signed) signingTime: digest still matches, signature does not.
    let der = map_signer_info(&pki.rsa_attached(), |si| {
        let attrs = si.signed_attrs.take().expect("attrs");
        let mut attrs: Vec<_> = attrs.into_vec();
        let signing_time = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
        let original = attrs
            .iter()
            .position(|a| a.oid == signing_time)
            .expect("signing time present");
        let time = x509_cert::time::Time::UtcTime(
            der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(1_000_000_000))
                .expect("time"),
        );
        attrs[original].values =
            SetOfVec::try_from(vec![Any::encode_from(&time).expect("any")]).expect("values");
        si.signed_attrs = Some(SetOfVec::try_from(attrs).expect("attrs"));
    });
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
    assert!(
        v.reason.contains("signature does not verify"),
        "{}",
        v.reason
    );
}

#[test]
fn message_digest_of_other_content_is_invalid() {
    let pki = Pki::get();
    let der = map_signer_info(&pki.rsa_attached(), |si| {
        let attrs = si.signed_attrs.take().expect("attrs");
        let mut attrs: Vec<_> = attrs.into_vec();
        let md = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
        attrs.retain(|a| a.oid != md);
        attrs.push(create_message_digest_attribute(&Sha256::digest(b"x")).expect("md"));
        si.signed_attrs = Some(SetOfVec::try_from(attrs).expect("attrs"));
    });
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
    assert!(v.reason.contains("digest"), "{}", v.reason);
}

#[test]
fn signer_from_another_ca_is_untrusted() {
    let pki = Pki::get();
    let der = pki.other_signer.key.sign_cms(
        &pki.other_signer.cert,
        CONTENT,
        false,
        &[&pki.other_root.cert],
    );
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    assert!(v.signer.is_some());
    // The same signature is fine for whoever trusts that CA.
    let other_trust = TrustStore::from_pem(pem(&pki.other_root.cert).as_bytes()).expect("store");
    let v = verify(&der, None, &other_trust, now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
}

#[test]
fn empty_trust_store_trusts_nothing() {
    let pki = Pki::get();
    let v = verify(&pki.rsa_attached(), None, &TrustStore::empty(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
}

#[test]
fn forged_issuer_name_is_untrusted() {
    // A self-made CA reusing the trusted root's name: names match, signature does not.
    let pki = Pki::get();
    let fake_root = Key::new_ec();
    let fake_root_cert = fake_root.issue(
        Profile::Root,
        1,
        pki.root.cert.tbs_certificate.validity,
        common::ROOT_DN,
        fake_root.spki(),
    );
    let signer = Key::new_ec();
    let cert = fake_root.issue(
        Profile::Leaf {
            issuer: fake_root_cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        99,
        pki.ec_signer.cert.tbs_certificate.validity,
        "CN=FORGER,C=KZ",
        signer.spki(),
    );
    let der = signer.sign_cms(&cert, CONTENT, false, &[&fake_root_cert]);
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    assert!(v.reason.contains("does not verify"), "{}", v.reason);
}

#[test]
fn end_entity_cannot_act_as_ca() {
    let pki = Pki::get();
    let key = Key::new_ec();
    // Issued by the (non-CA) EC signer certificate's key.
    let cert = pki.ec_signer.key.issue(
        Profile::Leaf {
            issuer: pki.ec_signer.cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        100,
        pki.ec_signer.cert.tbs_certificate.validity,
        "CN=SUB OF LEAF,C=KZ",
        key.spki(),
    );
    let der = key.sign_cms(
        &cert,
        CONTENT,
        false,
        &[&pki.ec_signer.cert, &pki.intermediate.cert],
    );
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
}

#[test]
fn ca_certificate_without_signing_key_usage_cannot_sign_documents() {
    let pki = Pki::get();
    // The intermediate's keyUsage is keyCertSign|cRLSign only.
    let der = pki
        .intermediate
        .key
        .sign_cms(&pki.intermediate.cert, CONTENT, false, &[]);
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    assert!(v.reason.contains("key usage"), "{}", v.reason);
}

#[test]
fn expired_signer_certificate_is_expired() {
    let pki = Pki::get();
    let der = pki.expired_signer.key.sign_cms(
        &pki.expired_signer.cert,
        CONTENT,
        false,
        &[&pki.intermediate.cert],
    );
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Expired, "{}", v.reason);
    // At a time inside its validity it is fine.
    let v = verify(&der, None, &pki.trust(), ymd(2021, 6, 1));
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
}

#[test]
fn verification_time_outside_validity_is_expired() {
    let pki = Pki::get();
    let der = pki.rsa_attached();
    let after = verify(&der, None, &pki.trust(), ymd(2031, 1, 1));
    assert_eq!(after.status, SignatureStatus::Expired, "{}", after.reason);
    assert!(after.reason.contains("expired"), "{}", after.reason);
    let before = verify(&der, None, &pki.trust(), ymd(2023, 1, 1));
    assert_eq!(before.status, SignatureStatus::Expired, "{}", before.reason);
    assert!(before.reason.contains("not yet valid"), "{}", before.reason);
    // Root expired too: reported, with the chain position.
    let late = verify(&der, None, &pki.trust(), ymd(2045, 1, 1));
    assert_eq!(late.status, SignatureStatus::Expired);
}

#[test]
fn gost_algorithms_are_unsupported() {
    let pki = Pki::get();
    let kz_digest = ObjectIdentifier::new_unwrap("1.2.398.3.10.1.3.1");
    let kz_sign = ObjectIdentifier::new_unwrap("1.2.398.3.10.1.1.1.2");
    let der = map_signer_info(&pki.rsa_attached(), |si| {
        si.digest_alg.oid = kz_digest;
        si.signature_algorithm = AlgorithmIdentifierOwned {
            oid: kz_sign,
            parameters: None,
        };
    });
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(
        v.status,
        SignatureStatus::UnsupportedAlgorithm,
        "{}",
        v.reason
    );
    assert!(v.reason.contains("GOST"), "{}", v.reason);
    let signer = v.signer.expect("signer still summarised");
    assert!(signer.digest_algorithm.contains("GOST"));
    assert_eq!(signer.iin.as_deref(), Some("123456789012"));

    // Russian GOST R 34.10-2012 signature with a SHA-256 digest.
    let ru_sign = ObjectIdentifier::new_unwrap("1.2.643.7.1.1.3.2");
    let der = map_signer_info(&pki.rsa_attached(), |si| {
        si.signature_algorithm.oid = ru_sign;
    });
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(
        v.status,
        SignatureStatus::UnsupportedAlgorithm,
        "{}",
        v.reason
    );
}

#[test]
fn sha1_digest_is_unsupported() {
    let pki = Pki::get();
    let der = map_signer_info(&pki.rsa_attached(), |si| {
        si.digest_alg.oid = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
    });
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(
        v.status,
        SignatureStatus::UnsupportedAlgorithm,
        "{}",
        v.reason
    );
}

#[test]
fn garbage_is_malformed() {
    let pki = Pki::get();
    let trust = pki.trust();
    let cert_der = pki.root.cert.to_der().expect("der");
    let not_signed_data = ContentInfo {
        content_type: ID_DATA,
        content: Any::new(Tag::OctetString, b"x".as_slice()).expect("any"),
    }
    .to_der()
    .expect("der");
    let random: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for input in [
        &b""[..],
        b"hello",
        &random,
        &cert_der,
        &not_signed_data,
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        let v = verify(input, None, &trust, now());
        assert_eq!(v.status, SignatureStatus::Malformed, "{}", v.reason);
        assert_eq!(v.signer, None);
    }
}

#[test]
fn pem_and_base64_inputs_are_accepted() {
    use base64::Engine as _;
    let pki = Pki::get();
    let der = pki.rsa_attached();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let wrapped: String = b64
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
        .collect();
    for label in ["CMS", "PKCS7"] {
        let pem = format!("-----BEGIN {label}-----\n{wrapped}-----END {label}-----\n");
        let v = verify(pem.as_bytes(), None, &pki.trust(), now());
        assert_eq!(v.status, SignatureStatus::Valid, "{label}: {}", v.reason);
    }
    let v = verify(wrapped.as_bytes(), None, &pki.trust(), now());
    assert_eq!(
        v.status,
        SignatureStatus::Valid,
        "bare base64: {}",
        v.reason
    );
}

#[test]
fn signature_without_signed_attributes_covers_the_content() {
    let pki = Pki::get();
    let signer = pki.rsa_signer.key.rsa_signer();
    let alg = signer.signature_algorithm_identifier().expect("alg");
    let sign = |msg: &[u8]| signer.sign(msg).to_vec();
    let der = manual_cms(&pki.rsa_signer.cert, CONTENT, false, alg.clone(), sign);
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
    assert_eq!(v.signer.expect("signer").signing_time, None);
    // Signed over something else: invalid.
    let der = manual_cms(&pki.rsa_signer.cert, CONTENT, false, alg, |_| {
        signer.sign(b"other").to_vec()
    });
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
}

#[test]
fn rsa_pss_signature_is_valid() {
    let pki = Pki::get();
    let Key::Rsa(private) = &pki.rsa_signer.key else {
        unreachable!("RSA signer")
    };
    let signer = rsa::pss::SigningKey::<Sha256>::new((**private).clone());
    let alg = signer.signature_algorithm_identifier().expect("alg");
    let sign = |msg: &[u8]| signer.sign_with_rng(&mut OsRng, msg).to_vec();
    let der = manual_cms(&pki.rsa_signer.cert, CONTENT, true, alg, sign);
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
    assert_eq!(v.signer.expect("signer").signature_algorithm, "RSASSA-PSS");
}

#[test]
fn signer_certificate_missing_everywhere_is_untrusted() {
    let pki = Pki::get();
    let der = pki.rsa_attached();
    let mut sd = decode_signed(&der);
    sd.certificates = None;
    let stripped = wrap(&sd);
    let v = verify(&stripped, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    assert_eq!(v.signer, None);
    // Known from the store instead: fine.
    let mut trust = pki.trust();
    trust
        .add_intermediate_pem(pem(&pki.rsa_signer.cert).as_bytes())
        .expect("add");
    let v = verify(&stripped, None, &trust, now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
}

#[test]
fn one_bad_signer_spoils_the_document() {
    let pki = Pki::get();
    let good = decode_signed(&pki.rsa_attached());
    let foreign = decode_signed(&pki.other_signer.key.sign_cms(
        &pki.other_signer.cert,
        CONTENT,
        false,
        &[],
    ));
    let mut sd = good.clone();
    let mut infos = good.signer_infos.0.into_vec();
    infos.extend(foreign.signer_infos.0.into_vec());
    sd.signer_infos = SignerInfos(SetOfVec::try_from(infos).expect("infos"));
    let mut certs = good.certificates.expect("certs").0.into_vec();
    certs.extend(foreign.certificates.expect("certs").0.into_vec());
    sd.certificates = Some(CertificateSet(SetOfVec::try_from(certs).expect("certs")));
    let v = verify(&wrap(&sd), None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Untrusted, "{}", v.reason);
    assert!(v.signer.expect("signer").subject.contains("OTHER SIGNER"));
}

#[test]
fn trust_store_reports_unreadable_and_non_certificate_files() {
    let pki = Pki::get();
    let dir = std::env::temp_dir().join(format!("bakylau-sig-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let root_pem = dir.join("root.pem");
    let root_der = dir.join("root.cer");
    let key_pem = dir.join("key.pem");
    std::fs::write(&root_pem, pem(&pki.root.cert)).expect("write");
    std::fs::write(&root_der, pki.root.cert.to_der().expect("der")).expect("write");
    std::fs::write(
        &key_pem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");

    let store = TrustStore::from_pem_files(&[root_pem.clone(), root_der.clone()]).expect("store");
    assert_eq!(store.root_count(), 2);
    let v = verify(&pki.rsa_attached(), None, &store, now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);

    let missing = dir.join("missing.pem");
    assert!(matches!(
        TrustStore::from_pem_files(&[root_pem.clone(), missing]),
        Err(TrustStoreError::Read { .. })
    ));
    assert!(matches!(
        TrustStore::from_pem_files(&[key_pem]),
        Err(TrustStoreError::NotACertificate { .. })
    ));
    assert!(matches!(
        TrustStore::from_pem(b""),
        Err(TrustStoreError::NoCertificate { .. })
    ));
    assert!(matches!(
        TrustStore::from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(TrustStoreError::BadCertificate { .. })
    ));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn status_names_are_snake_case() {
    let all = [
        (SignatureStatus::Valid, "valid"),
        (SignatureStatus::Invalid, "invalid"),
        (SignatureStatus::Untrusted, "untrusted"),
        (SignatureStatus::Expired, "expired"),
        (
            SignatureStatus::UnsupportedAlgorithm,
            "unsupported_algorithm",
        ),
        (SignatureStatus::Malformed, "malformed"),
    ];
    for (status, name) in all {
        assert_eq!(status.as_str(), name);
        assert_eq!(status.to_string(), name);
        assert_eq!(status.is_valid(), status == SignatureStatus::Valid);
    }
}

#[test]
fn iin_is_extracted_from_subject_serial_number() {
    let pki = Pki::get();
    let key = Key::new_ec();
    let cert = pki.intermediate.key.issue(
        Profile::Leaf {
            issuer: pki.intermediate.cert.tbs_certificate.subject.clone(),
            enable_key_agreement: false,
            enable_key_encipherment: false,
        },
        55,
        pki.ec_signer.cert.tbs_certificate.validity,
        "CN=TEST PERSON,SURNAME=PERSON,serialNumber=IIN123456789012,C=KZ",
        key.spki(),
    );
    assert!(x509_cert::name::Name::from_str("serialNumber=IIN123456789012").is_ok());
    let der = key.sign_cms(&cert, CONTENT, false, &[&pki.intermediate.cert]);
    let v = verify(&der, None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
    let signer = v.signer.expect("signer");
    assert_eq!(signer.iin.as_deref(), Some("123456789012"));
    assert_eq!(signer.bin, None);
}

#[test]
fn ber_encoded_signatures_are_normalised() {
    let pki = Pki::get();
    for (der, detached) in [
        (pki.rsa_attached(), None),
        (pki.ec_detached(), Some(CONTENT)),
    ] {
        let ber = to_ber(&der);
        assert_ne!(ber, der);
        assert!(
            ContentInfo::from_der(&ber).is_err(),
            "the der crate alone refuses BER"
        );
        let v = verify(&ber, detached, &pki.trust(), now());
        assert_eq!(v.status, SignatureStatus::Valid, "{}", v.reason);
    }
    // Normalising does not launder tampering.
    let mut sd = decode_signed(&pki.rsa_attached());
    sd.encap_content_info.econtent =
        Some(Any::new(Tag::OctetString, b"forged".as_slice()).expect("any"));
    let v = verify(&to_ber(&wrap(&sd)), None, &pki.trust(), now());
    assert_eq!(v.status, SignatureStatus::Invalid, "{}", v.reason);
}
