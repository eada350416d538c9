//! Readable facts about the signer certificate, including the Kazakh
//! IIN/BIN that NCA certificates embed in the subject name.

use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier as Oid;
use der::{Encode, Tag, Tagged};
use x509_cert::Certificate;
use x509_cert::attr::AttributeValue;
use x509_cert::name::Name;

use crate::SignerInfoSummary;
use crate::chain::to_chrono;

const SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
const ORGANIZATIONAL_UNIT: Oid = Oid::new_unwrap("2.5.4.11");

pub(crate) fn summarize(
    cert: &Certificate,
    digest_algorithm: String,
    signature_algorithm: String,
    signing_time: Option<DateTime<Utc>>,
) -> SignerInfoSummary {
    let tbs = &cert.tbs_certificate;
    SignerInfoSummary {
        subject: tbs.subject.to_string(),
        serial_number_hex: hex_upper(tbs.serial_number.as_bytes()),
        issuer: tbs.issuer.to_string(),
        not_before: to_chrono(tbs.validity.not_before, DateTime::<Utc>::MAX_UTC),
        not_after: to_chrono(tbs.validity.not_after, DateTime::<Utc>::MIN_UTC),
        digest_algorithm,
        signature_algorithm,
        signing_time,
        iin: tagged_number(&tbs.subject, SERIAL_NUMBER, "IIN"),
        bin: tagged_number(&tbs.subject, ORGANIZATIONAL_UNIT, "BIN"),
    }
}

/// First `<prefix><12 digits>` value of attribute `oid` in `name`, digits only.
/// NCA puts "IIN123456789012" in serialNumber and "BIN123456789012" in OU.
pub(crate) fn tagged_number(name: &Name, oid: Oid, prefix: &str) -> Option<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .filter_map(|atv| attribute_text(&atv.value))
        .find_map(|text| {
            let digits = text.trim().strip_prefix(prefix)?;
            (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.to_string())
        })
}

/// Directory-string value as text, whatever string type the CA chose.
fn attribute_text(value: &AttributeValue) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::VisibleString
        | Tag::TeletexString => std::str::from_utf8(bytes).ok().map(str::to_string),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

/// DER of an attribute value, for CHOICE types `decode_as` cannot handle.
pub(crate) fn value_der(value: &AttributeValue) -> Option<Vec<u8>> {
    value.to_der().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn extracts_iin_and_bin() {
        let name =
            Name::from_str("CN=TEST,SERIALNUMBER=IIN123456789012,OU=BIN987654321098,O=Org,C=KZ")
                .expect("valid name");
        assert_eq!(
            tagged_number(&name, SERIAL_NUMBER, "IIN").as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            tagged_number(&name, ORGANIZATIONAL_UNIT, "BIN").as_deref(),
            Some("987654321098")
        );
    }

    #[test]
    fn ignores_malformed_iin() {
        let name = Name::from_str("CN=X,SERIALNUMBER=IIN12345").expect("valid name");
        assert_eq!(tagged_number(&name, SERIAL_NUMBER, "IIN"), None);
        let name = Name::from_str("CN=X,SERIALNUMBER=IIN12345678901A").expect("valid name");
        assert_eq!(tagged_number(&name, SERIAL_NUMBER, "IIN"), None);
    }

    #[test]
    fn hex_is_upper() {
        assert_eq!(hex_upper(&[0x0a, 0xff]), "0AFF");
    }
}
