//! Sends stored letters by e-mail over SMTP when a relay is configured. The applicant's
//! address is personal data: it is read from intake (`GetAppeal`) at send time, used for
//! the one message and never stored, logged or put in an event. Letters to applicants
//! without an e-mail stay stored (`no_address`) for postal delivery.
//!
//! Messages are built and sent with `lettre` (MIME, RFC 2047 subjects, SMTP dialogue),
//! over plain TCP to the office's relay, which does TLS and authentication towards the
//! Internet.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bakylau_platform::CancellationToken;
use bakylau_proto::intake::v1 as intake;
use bakylau_proto::intake::v1::intake_service_client::IntakeServiceClient;
use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, Message, SinglePart};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use uuid::Uuid;

use crate::settings::NotifierSettings;
use crate::storage;
use crate::workflow::{Control, SYSTEM};

/// Why a letter was not sent. The texts never carry the address nor the relay's reply
/// text (which may echo it): they are logged and stored as the letter's last error.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid {0} address")]
    Address(&'static str),
    #[error("message: {0}")]
    Message(String),
    #[error("smtp: {0}")]
    Smtp(String),
    #[error("smtp: timed out")]
    Timeout,
    #[error("intake: {0}")]
    Intake(String),
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        if e.is_timeout() {
            return SendError::Timeout;
        }
        if let Some(code) = e.status() {
            let kind = if e.is_permanent() {
                "refused (permanent)"
            } else {
                "refused (transient)"
            };
            return SendError::Smtp(format!("relay {kind}: {code}"));
        }
        if e.is_response() {
            return SendError::Smtp("malformed reply from the relay".into());
        }
        // Network, connection and client errors carry no text from the relay.
        SendError::Smtp(e.to_string())
    }
}

/// One e-mail.
pub struct Mail<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
}

/// The message: UTF-8 subject as encoded words, the body as base64 `text/plain; utf-8`
/// (Kazakh and Russian letters pass any relay, 7-bit or not). `from` may carry a display
/// name (`Department <addr>`); `to` is a bare address.
pub fn build_message(m: &Mail<'_>) -> Result<Message, SendError> {
    let from: Mailbox = m
        .from
        .trim()
        .parse()
        .map_err(|_| SendError::Address("sender"))?;
    let to: Address =
        m.to.trim()
            .parse()
            .map_err(|_| SendError::Address("recipient"))?;
    let body = Body::new_with_encoding(m.body.to_owned(), ContentTransferEncoding::Base64)
        .map_err(|_| SendError::Message("body cannot be encoded".into()))?;
    Message::builder()
        .from(from)
        .to(Mailbox::new(None, to))
        .subject(m.subject)
        .date(SystemTime::from(m.date))
        .message_id(Some(format!("<{}>", m.message_id)))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body),
        )
        .map_err(|e| SendError::Message(e.to_string()))
}

/// The relay: one connection per message, no TLS (the office's relay does it), EHLO with
/// the configured name.
pub fn relay(settings: &NotifierSettings) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.smtp_host.trim())
        .port(settings.smtp_port)
        .hello_name(ClientId::Domain(settings.helo_name.clone()))
        .timeout(Some(Duration::from_millis(settings.timeout_ms)))
        .build()
}

/// Sends one message through `relay`, within `timeout` for the whole dialogue.
pub async fn send(
    relay: &AsyncSmtpTransport<Tokio1Executor>,
    mail: &Mail<'_>,
    timeout: Duration,
) -> Result<(), SendError> {
    let message = build_message(mail)?;
    tokio::time::timeout(timeout, relay.send(message))
        .await
        .map_err(|_| SendError::Timeout)??;
    Ok(())
}

/// The applicant's e-mail from intake; `None` when the appeal has none.
async fn applicant_email(
    client: &mut IntakeServiceClient<tonic::transport::Channel>,
    identity: &bakylau_platform::auth::ServiceIdentity,
    appeal: Uuid,
) -> Result<Option<String>, SendError> {
    // Control's own service identity (a `system` token), not a forwarded user.
    let req = identity
        .authorize(tonic::Request::new(intake::GetAppealRequest {
            key: Some(intake::get_appeal_request::Key::Id(appeal.to_string())),
        }))
        .map_err(|s| SendError::Intake(format!("{:?}: {}", s.code(), s.message())))?;
    let appeal = client
        .get_appeal(req)
        .await
        .map_err(|s| SendError::Intake(format!("{:?}: {}", s.code(), s.message())))?
        .into_inner();
    let email = match appeal.applicant.and_then(|a| a.party) {
        Some(intake::applicant::Party::Individual(i)) => i.email,
        Some(intake::applicant::Party::LegalEntity(l)) => l.email,
        None => String::new(),
    };
    Ok(Some(email).filter(|e| !e.trim().is_empty()))
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: Uuid,
    appeal_id: Uuid,
    subject: String,
    body: String,
    attempts: i32,
}

pub struct Notifier {
    pub control: Arc<Control>,
    pub settings: NotifierSettings,
    /// Control's token for its calls to intake.
    pub identity: Arc<bakylau_platform::auth::ServiceIdentity>,
    /// TLS for its calls to intake.
    pub tls: bakylau_platform::tls::ClientTlsSettings,
}

impl Notifier {
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(50));
        let relay = relay(&self.settings);
        let mut client: Option<IntakeServiceClient<tonic::transport::Channel>> = None;
        loop {
            if client.is_none() {
                match bakylau_platform::tls::endpoint(&self.settings.intake_addr, &self.tls) {
                    Ok(ep) => client = Some(IntakeServiceClient::new(ep.connect_lazy())),
                    Err(e) => {
                        tracing::error!(error = %e, "notifier: bad intake address; not sending");
                        return;
                    }
                }
            }
            if let Some(c) = client.as_mut()
                && let Err(e) = self.tick(c, &relay).await
            {
                tracing::warn!(error = %e, "notifier step failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Sends one batch of stored letters.
    pub async fn tick(
        &self,
        client: &mut IntakeServiceClient<tonic::transport::Channel>,
        relay: &AsyncSmtpTransport<Tokio1Executor>,
    ) -> Result<usize, sqlx::Error> {
        let now = self.control.now();
        let mut tx = self.control.pool.begin().await?;
        let batch: Vec<Pending> = sqlx::query_as(
            "SELECT id, appeal_id, subject, body, attempts FROM letters \
             WHERE delivery = 'stored' AND next_try_at <= $1 ORDER BY next_try_at LIMIT 10 \
             FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let s = &self.settings;
        let timeout = Duration::from_millis(s.timeout_ms);
        for letter in &batch {
            let result = match applicant_email(client, &self.identity, letter.appeal_id).await {
                Ok(Some(to)) => {
                    let mail = Mail {
                        from: &s.from,
                        to: &to,
                        subject: &letter.subject,
                        body: &letter.body,
                        message_id: &format!("{}@bakylau", letter.id),
                        date: now,
                    };
                    send(relay, &mail, timeout).await.map(|_| true)
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            let (delivery, note) = match result {
                Ok(true) => {
                    metrics::counter!("control_letters_sent_total").increment(1);
                    ("sent", "letter e-mailed".to_owned())
                }
                Ok(false) => (
                    "no_address",
                    "no e-mail address: deliver by post".to_owned(),
                ),
                Err(e) => {
                    let attempts = letter.attempts + 1;
                    metrics::counter!("control_letters_failed_total").increment(1);
                    tracing::warn!(letter_id = %letter.id, appeal_id = %letter.appeal_id, attempts, error = %e, "letter not sent");
                    if attempts < s.max_attempts {
                        let pause =
                            chrono::Duration::seconds(30 * 2i64.pow(attempts.min(8) as u32));
                        sqlx::query(
                            "UPDATE letters SET attempts = $2, last_error = $3, next_try_at = $4 WHERE id = $1",
                        )
                        .bind(letter.id)
                        .bind(attempts)
                        .bind(e.to_string())
                        .bind(now + pause)
                        .execute(&mut *tx)
                        .await?;
                        continue;
                    }
                    sqlx::query("UPDATE letters SET attempts = $2, last_error = $3 WHERE id = $1")
                        .bind(letter.id)
                        .bind(attempts)
                        .bind(e.to_string())
                        .execute(&mut *tx)
                        .await?;
                    ("failed", format!("letter could not be sent: {e}"))
                }
            };
            sqlx::query(
                "UPDATE letters SET delivery = $2, sent_at = CASE WHEN $2 = 'sent' THEN $3 ELSE sent_at END \
                 WHERE id = $1",
            )
            .bind(letter.id)
            .bind(delivery)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            storage::add_timeline(
                &mut tx,
                letter.appeal_id,
                now,
                SYSTEM,
                &format!("letter_{delivery}"),
                &format!("{note} ({})", letter.id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(batch.len())
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn mail<'a>(to: &'a str, subject: &'a str, body: &'a str) -> Mail<'a> {
        Mail {
            from: "Бақылау <control@akimat.example.kz>",
            to,
            subject,
            body,
            message_id: "0190f0e0-0000-7000-8000-000000000001@bakylau",
            date: Utc::now(),
        }
    }

    fn formatted(m: &Mail<'_>) -> String {
        String::from_utf8(build_message(m).unwrap().formatted()).unwrap()
    }

    #[test]
    fn cyrillic_subjects_are_encoded_words() {
        let text = formatted(&mail(
            "c@d.kz",
            "Өтінішке жауап / Ответ на обращение ALM-2026-000001",
            "Тест",
        ));
        let (headers, _) = text.split_once("\r\n\r\n").unwrap();
        // The subject, unfolded, is ASCII encoded words only.
        let subject = headers
            .split("\r\n")
            .skip_while(|l| !l.starts_with("Subject:"))
            .take_while(|l| l.starts_with("Subject:") || l.starts_with(' '))
            .collect::<Vec<_>>();
        assert!(!subject.is_empty());
        assert!(subject.iter().all(|l| l.is_ascii() && l.len() <= 78));
        assert!(subject[0].to_ascii_lowercase().contains("=?utf-8?b?"));
        assert!(headers.contains("Message-ID: <0190f0e0-0000-7000-8000-000000000001@bakylau>"));
        assert!(headers.is_ascii());
    }

    #[test]
    fn the_body_is_utf8_base64_in_short_lines() {
        let body = "Құрметті өтініш беруші! ".repeat(20);
        let text = formatted(&mail("c@d.kz", "Тест", &body));
        let (headers, encoded) = text.split_once("\r\n\r\n").unwrap();
        assert!(headers.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(headers.contains("Content-Transfer-Encoding: base64"));
        assert!(
            encoded
                .split("\r\n")
                .all(|l| l.len() <= 76 && !l.starts_with('.'))
        );
        let joined: String = encoded.split("\r\n").collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(joined.trim())
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), body);
    }

    #[test]
    fn addresses_with_smtp_syntax_are_refused() {
        assert!(build_message(&mail("a@b.kz", "s", "b")).is_ok());
        for bad in ["a@b.kz>\r\nRCPT TO:<x@y", "no-at", "", "a b@c.kz"] {
            assert!(
                matches!(
                    build_message(&mail(bad, "s", "b")),
                    Err(SendError::Address("recipient"))
                ),
                "{bad:?}"
            );
        }
        let mut m = mail("a@b.kz", "s", "b");
        m.from = "not an address";
        assert!(matches!(
            build_message(&m),
            Err(SendError::Address("sender"))
        ));
    }

    #[test]
    fn errors_never_carry_the_address() {
        let e = build_message(&mail("aigerim@@example.kz", "s", "b")).unwrap_err();
        assert!(!e.to_string().contains("aigerim"));
    }
}
