//! Personal data at rest (Law of the Republic of Kazakhstan "On personal data and their
//! protection"). An identity number (IIN/BIN) is kept twice: as a keyed pseudonym, so that
//! lookups (repeats, a visitor's bookings) still work, and sealed with names and contacts
//! under AES-256-GCM, so that someone with table access alone reads neither.
//!
//! A sealed value names the key it was sealed with, so keys rotate: new values take the
//! current key, values under a retired key still open, and a service re-seals them in the
//! background ([`PersonalDataVault::is_current`]). The caller binds each value to its row
//! (`context`, e.g. the appeal id): a sealed value copied to another row does not open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::read_secret;

const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;
/// Keys a development stack runs with when nothing is configured; never trusted in a
/// deployment (the Kubernetes configuration mounts real ones), and said so at start.
const DEVELOPMENT_PSEUDONYM_KEY: &str = "bakylau-development-only-key";
const DEVELOPMENT_SEALING_KEY: &str = "YmFreWxhdS1kZXZlbG9wbWVudC1vbmx5LWtleS0zMmI=";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonalDataSettings {
    /// HMAC key of identity-number pseudonyms. Changing it breaks the link between old and
    /// new pseudonyms, so it does not rotate like the sealing keys.
    pub pseudonym_key: String,
    pub pseudonym_key_file: Option<PathBuf>,
    /// Id of the current sealing key, stored beside every value it seals.
    pub sealing_key_id: String,
    /// The current sealing key: 32 random bytes, base64 (`openssl rand -base64 32`).
    pub sealing_key: String,
    pub sealing_key_file: Option<PathBuf>,
    /// Earlier sealing keys, id → file holding the base64 key: values sealed under them
    /// still open and are re-sealed under the current key.
    pub retired_sealing_key_files: BTreeMap<String, PathBuf>,
}

impl Default for PersonalDataSettings {
    fn default() -> Self {
        Self {
            pseudonym_key: DEVELOPMENT_PSEUDONYM_KEY.into(),
            pseudonym_key_file: None,
            sealing_key_id: "dev-1".into(),
            sealing_key: DEVELOPMENT_SEALING_KEY.into(),
            sealing_key_file: None,
            retired_sealing_key_files: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    #[error(transparent)]
    Secret(#[from] crate::config::ConfigError),
    #[error("sealing key {id}: {reason}")]
    BadKey { id: String, reason: &'static str },
    #[error("sealed value: {0}")]
    Malformed(&'static str),
    #[error("sealed value names key {0}, which is not configured")]
    UnknownKey(String),
    #[error("sealed value does not open: wrong key, wrong row, or altered")]
    DoesNotOpen,
    #[error("sealed value opened but is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Seals and opens personal data, and derives pseudonyms of identity numbers.
pub struct PersonalDataVault {
    pseudonym_key: Vec<u8>,
    current_id: String,
    keys: BTreeMap<String, Aes256Gcm>,
    development: bool,
}

impl std::fmt::Debug for PersonalDataVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalDataVault")
            .field("current_id", &self.current_id)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl PersonalDataVault {
    pub fn from_settings(s: &PersonalDataSettings) -> Result<Self, PersonalDataError> {
        let pseudonym_key = match read_secret(s.pseudonym_key_file.as_deref())? {
            Some(k) => k.trim().as_bytes().to_vec(),
            None => s.pseudonym_key.as_bytes().to_vec(),
        };
        let current =
            read_secret(s.sealing_key_file.as_deref())?.unwrap_or_else(|| s.sealing_key.clone());
        let development = pseudonym_key == DEVELOPMENT_PSEUDONYM_KEY.as_bytes()
            || current.trim() == DEVELOPMENT_SEALING_KEY;
        let mut keys = BTreeMap::new();
        check_key_id(&s.sealing_key_id)?;
        keys.insert(
            s.sealing_key_id.clone(),
            cipher(&s.sealing_key_id, &current)?,
        );
        for (id, path) in &s.retired_sealing_key_files {
            check_key_id(id)?;
            if id == &s.sealing_key_id {
                return Err(PersonalDataError::BadKey {
                    id: id.clone(),
                    reason: "is both current and retired",
                });
            }
            let key = read_secret(Some(path))?.unwrap_or_default();
            keys.insert(id.clone(), cipher(id, &key)?);
        }
        Ok(Self {
            pseudonym_key,
            current_id: s.sealing_key_id.clone(),
            keys,
            development,
        })
    }

    /// True when a development key is in use: a deployment must configure its own.
    pub fn uses_development_keys(&self) -> bool {
        self.development
    }

    pub fn current_key_id(&self) -> &str {
        &self.current_id
    }

    /// The keyed pseudonym of an identity number: equal numbers, equal pseudonyms.
    pub fn pseudonym(&self, identity_number: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.pseudonym_key)
            .expect("HMAC takes keys of any length");
        mac.update(identity_number.trim().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `plain` sealed under the current key, bound to `context`.
    pub fn seal(&self, plain: &[u8], context: &[u8]) -> Vec<u8> {
        let id = self.current_id.as_bytes();
        let mut out = Vec::with_capacity(2 + id.len() + NONCE_LEN + plain.len() + 16);
        out.push(FORMAT_VERSION);
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        let header_len = out.len();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(&out[..header_len], context);
        let sealed = self.keys[&self.current_id]
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &aad,
                },
            )
            .expect("AES-GCM seals any length this service stores");
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, PersonalDataError> {
        let (id, header_len) = parse_header(sealed)?;
        let key = self
            .keys
            .get(id)
            .ok_or_else(|| PersonalDataError::UnknownKey(id.to_owned()))?;
        let rest = &sealed[header_len..];
        if rest.len() < NONCE_LEN + 16 {
            return Err(PersonalDataError::Malformed("too short"));
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
        let aad = associated_data(&sealed[..header_len], context);
        key.decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: body,
                aad: &aad,
            },
        )
        .map_err(|_| PersonalDataError::DoesNotOpen)
    }

    pub fn seal_json<T: Serialize>(&self, value: &T, context: &[u8]) -> Vec<u8> {
        let plain = serde_json::to_vec(value).expect("personal data serialises to JSON");
        self.seal(&plain, context)
    }

    pub fn open_json<T: DeserializeOwned>(
        &self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<T, PersonalDataError> {
        Ok(serde_json::from_slice(&self.open(sealed, context)?)?)
    }

    /// The key id a sealed value names, without opening it.
    pub fn key_id_of(sealed: &[u8]) -> Result<&str, PersonalDataError> {
        parse_header(sealed).map(|(id, _)| id)
    }

    /// Whether a sealed value is under the current key (else it is re-sealed).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        Self::key_id_of(sealed).is_ok_and(|id| id == self.current_id)
    }
}

fn check_key_id(id: &str) -> Result<(), PersonalDataError> {
    if id.is_empty() || id.len() > 64 || !id.is_ascii() {
        return Err(PersonalDataError::BadKey {
            id: id.to_owned(),
            reason: "an id is 1-64 ASCII characters",
        });
    }
    Ok(())
}

fn cipher(id: &str, base64_key: &str) -> Result<Aes256Gcm, PersonalDataError> {
    let bad = |reason| PersonalDataError::BadKey {
        id: id.to_owned(),
        reason,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_key.trim())
        .map_err(|_| bad("not base64"))?;
    if bytes.len() != KEY_LEN {
        return Err(bad("must be 32 bytes (base64 of 32 random bytes)"));
    }
    Aes256Gcm::new_from_slice(&bytes).map_err(|_| bad("not an AES-256 key"))
}

fn parse_header(sealed: &[u8]) -> Result<(&str, usize), PersonalDataError> {
    match sealed {
        [FORMAT_VERSION, n, rest @ ..] if rest.len() >= usize::from(*n) && *n > 0 => {
            let id = std::str::from_utf8(&rest[..usize::from(*n)])
                .map_err(|_| PersonalDataError::Malformed("key id is not UTF-8"))?;
            Ok((id, 2 + usize::from(*n)))
        }
        [] => Err(PersonalDataError::Malformed("empty")),
        _ => Err(PersonalDataError::Malformed("unknown format")),
    }
}

/// The header (version, key id) and the row's context are both authenticated.
fn associated_data(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file(dir: &std::path::Path, name: &str, byte: u8) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(
            &path,
            base64::engine::general_purpose::STANDARD.encode([byte; 32]),
        )
        .unwrap();
        path
    }

    fn vault_with(id: &str, file: PathBuf, retired: &[(&str, PathBuf)]) -> PersonalDataVault {
        PersonalDataVault::from_settings(&PersonalDataSettings {
            pseudonym_key_file: None,
            pseudonym_key: "k".into(),
            sealing_key_id: id.into(),
            sealing_key: String::new(),
            sealing_key_file: Some(file),
            retired_sealing_key_files: retired
                .iter()
                .map(|(i, p)| (i.to_string(), p.clone()))
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn seals_and_opens_bound_to_the_row() {
        let v = PersonalDataVault::from_settings(&PersonalDataSettings::default()).unwrap();
        assert!(v.uses_development_keys());
        let sealed = v.seal(b"900101300017", b"appeal-1");
        assert!(!sealed.windows(12).any(|w| w == b"900101300017"));
        assert_eq!(v.open(&sealed, b"appeal-1").unwrap(), b"900101300017");
        assert!(matches!(
            v.open(&sealed, b"appeal-2"),
            Err(PersonalDataError::DoesNotOpen)
        ));
        // Two seals of the same value differ (fresh nonce), so equal numbers are not visible.
        assert_ne!(sealed, v.seal(b"900101300017", b"appeal-1"));
    }

    #[test]
    fn an_altered_value_does_not_open() {
        let v = PersonalDataVault::from_settings(&PersonalDataSettings::default()).unwrap();
        let mut sealed = v.seal(b"secret", b"row");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            v.open(&sealed, b"row"),
            Err(PersonalDataError::DoesNotOpen)
        ));
        assert!(matches!(
            v.open(&[7, 1, b'x'], b"row"),
            Err(PersonalDataError::Malformed(_))
        ));
        assert!(matches!(
            v.open(&[], b"row"),
            Err(PersonalDataError::Malformed(_))
        ));
    }

    #[test]
    fn retired_keys_still_open_and_are_not_current() {
        let dir = tempdir();
        let old = key_file(&dir, "old", 1);
        let new = key_file(&dir, "new", 2);
        let before = vault_with("2026-01", old.clone(), &[]);
        let sealed = before.seal_json(&vec!["Айгерім"], b"r");
        let after = vault_with("2026-07", new, &[("2026-01", old)]);
        assert!(!after.is_current(&sealed));
        assert_eq!(
            after.open_json::<Vec<String>>(&sealed, b"r").unwrap(),
            vec!["Айгерім".to_owned()]
        );
        assert!(after.is_current(&after.seal(b"x", b"r")));
        // A vault that never had the old key says which key is missing.
        let stranger = vault_with("other", key_file(&dir, "s", 3), &[]);
        assert!(matches!(
            stranger.open(&sealed, b"r"),
            Err(PersonalDataError::UnknownKey(id)) if id == "2026-01"
        ));
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let v = PersonalDataVault::from_settings(&PersonalDataSettings::default()).unwrap();
        assert_eq!(v.pseudonym("900101300017"), v.pseudonym(" 900101300017"));
        assert_ne!(v.pseudonym("900101300017"), v.pseudonym("900101300018"));
        let other = PersonalDataVault::from_settings(&PersonalDataSettings {
            pseudonym_key: "another".into(),
            ..Default::default()
        })
        .unwrap();
        assert_ne!(v.pseudonym("900101300017"), other.pseudonym("900101300017"));
    }

    #[test]
    fn bad_keys_are_refused_with_the_reason() {
        let s = PersonalDataSettings {
            sealing_key: "c2hvcnQ=".into(),
            ..Default::default()
        };
        let e = PersonalDataVault::from_settings(&s).unwrap_err();
        assert!(e.to_string().contains("32 bytes"), "{e}");
        let s = PersonalDataSettings {
            sealing_key: "not base64!".into(),
            ..Default::default()
        };
        assert!(
            PersonalDataVault::from_settings(&s)
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bakylau-pd-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
