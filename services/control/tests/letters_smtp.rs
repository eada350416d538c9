//! Letters by e-mail: an appeal registered in a real intake (in-process) reaches control
//! as `appeal.registered`; control writes the registration coupon in the applicant's
//! language and the notifier sends it over SMTP to a small sink on a real socket, reading
//! the address from intake at send time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bakylau_control::clock::ManualClock;
use bakylau_platform::CancellationToken;
use bakylau_platform::health::Readiness;
use bakylau_proto::control::v1 as pb;
use bakylau_proto::intake::v1 as intake;
use bakylau_testkit::TestEnv;
use base64::Engine as _;
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message as the sink saw it: the client's commands before DATA, the envelope
/// recipient and the data.
#[derive(Clone, Debug)]
struct Received {
    commands: Vec<String>,
    to: String,
    data: String,
}

/// A minimal SMTP server on a real socket (ESMTP as a relay answers it: multi-line EHLO
/// reply with extensions). It accepts every message, or with `refuse_recipients` refuses
/// every recipient permanently, echoing the address as real relays do.
async fn smtp_sink(refuse_recipients: bool) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut to, mut data, mut in_data) = (String::new(), String::new(), false);
                let mut commands = Vec::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if in_data {
                        if line == ".\r\n" {
                            in_data = false;
                            store.lock().unwrap().push(Received {
                                commands: std::mem::take(&mut commands),
                                to: to.clone(),
                                data: data.clone(),
                            });
                            w.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                        }
                        continue;
                    }
                    commands.push(line.trim_end().to_owned());
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to = line[8..].trim().trim_matches(['<', '>']).to_owned();
                        if refuse_recipients {
                            let refusal =
                                format!("550 5.1.1 <{to}>: Recipient address rejected\r\n");
                            w.write_all(refusal.as_bytes()).await.unwrap();
                            continue;
                        }
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        data.clear();
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, got)
}

/// The `Subject` header, unfolded, decoded as RFC 2047 says: `=?utf-8?b?...?=` words
/// decoded, the space between two encoded words dropped, other words kept.
fn decode_subject(headers: &str) -> String {
    let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", " ");
    let value = unfolded
        .split("\r\n")
        .find_map(|l| l.strip_prefix("Subject: "))
        .expect("a Subject header");
    let (mut out, mut pending, mut last_encoded) = (String::new(), Vec::new(), false);
    for word in value.split(' ') {
        let encoded = word
            .get(..10)
            .filter(|p| p.eq_ignore_ascii_case("=?utf-8?b?"))
            .and_then(|_| word[10..].strip_suffix("?="));
        match encoded {
            Some(e) => {
                if !last_encoded && !out.is_empty() {
                    out.push(' ');
                }
                pending.extend(base64::engine::general_purpose::STANDARD.decode(e).unwrap());
                last_encoded = true;
            }
            None => {
                out.push_str(&String::from_utf8(std::mem::take(&mut pending)).unwrap());
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
                last_encoded = false;
            }
        }
    }
    out.push_str(&String::from_utf8(pending).unwrap());
    out
}

/// Intake, for real, on the same database (its own schema) and vhost.
async fn start_intake(
    env: &TestEnv,
) -> (
    String,
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let mut is = bakylau_intake::settings::Settings::default();
    bakylau_testkit::auth::secure(&mut is.grpc);
    is.database.url = env.database_url.clone();
    is.broker.url = env.amqp_url.clone();
    is.metrics.listen = String::new();
    let intake_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let intake_addr = format!("http://{}", intake_listener.local_addr().unwrap());
    let intake_stop = CancellationToken::new();
    let intake_task = tokio::spawn(bakylau_intake::run(
        is,
        intake_listener,
        intake_stop.clone(),
        Arc::new(Readiness::new()),
    ));
    (intake_addr, intake_stop, intake_task)
}

/// Registers a Kazakh-language complaint in intake; `email` may be empty.
async fn register(intake_addr: &str, serial: u32, email: &str) -> intake::Appeal {
    let mut intake_client = None;
    for _ in 0..300 {
        if let Ok(c) = bakylau_testkit::auth::client(
            bakylau_testkit::auth::Role::Registrar,
            intake::intake_service_client::IntakeServiceClient::new,
            intake_addr.to_owned(),
        )
        .await
        {
            intake_client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut intake_client = intake_client.expect("intake did not start");
    let registered = intake_client
        .register_appeal(intake::RegisterAppealRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            kind: intake::AppealKind::Complaint as i32,
            channel: intake::Channel::PaperInPerson as i32,
            language: intake::Language::Kk as i32,
            applicant: Some(intake::Applicant {
                party: Some(intake::applicant::Party::Individual(intake::Individual {
                    iin: iin_from(serial),
                    full_name: "Сапарова Айгерім".into(),
                    phone: "+77015550000".into(),
                    email: email.into(),
                    address: "Талғар қ.".into(),
                })),
            }),
            locality: Some(intake::Locality {
                kato: String::new(),
                region: "Алматы облысы".into(),
                district: "talgar".into(),
                rural_district: String::new(),
            }),
            subject: "Жол".into(),
            text: "Көшедегі жол бұзылған, жөндеуді сұраймын.".into(),
            received_by: Some(intake::Officer {
                full_name: "Registrar One".into(),
                position: "chief specialist".into(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    registered.appeal.unwrap()
}

/// The delivery state of the appeal's registration coupon: (delivery, attempts, last error).
async fn coupon_state(
    pool: &sqlx::PgPool,
    appeal_id: &str,
) -> Option<(String, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT delivery, attempts, last_error FROM letters \
         WHERE appeal_id = $1::uuid AND kind = 'registration_coupon'",
    )
    .bind(appeal_id)
    .fetch_optional(pool)
    .await
    .unwrap()
}

fn iin_from(serial: u32) -> String {
    (serial..)
        .find_map(|s| {
            bakylau_intake::domain::identity::with_check_digit(&format!("9001013{:04}", s % 10_000))
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coupon_is_emailed_in_kazakh_with_the_address_from_intake() {
    let env = TestEnv::new().await.unwrap();
    let (intake_addr, intake_stop, intake_task) = start_intake(&env).await;

    let (port, sink) = smtp_sink(false).await;
    let mut s = settings_for(&env);
    s.control.notifier.smtp_host = "127.0.0.1".into();
    s.control.notifier.smtp_port = port;
    s.control.notifier.intake_addr = intake_addr.clone();
    s.control.notifier.poll_ms = 200;
    s.control.notifier.from = "control@akimat.example.kz".into();
    // Letters are due "now": the notifier must see them, so use the real time.
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let running = start(&env, s, clock.clone()).await;
    let pool = pool(&env).await;

    let appeal = register(&intake_addr, 1, "aigerim@example.kz").await;

    // The coupon reaches the sink. An attempt that failed (a slow moment on a loaded
    // machine) is retried when its time comes, and the clock only moves when told to.
    let ok = bakylau_testkit::eventually(WAIT, || async {
        if !sink.lock().unwrap().is_empty() {
            return true;
        }
        if let Some((_, attempts, error)) = coupon_state(&pool, &appeal.id).await
            && attempts > 0
        {
            eprintln!("coupon attempt {attempts} failed: {error:?}; moving the clock on");
            clock.advance(chrono::Duration::minutes(10));
        }
        false
    })
    .await;
    assert!(
        ok,
        "no e-mail arrived; coupon (delivery, attempts, last error): {:?}",
        coupon_state(&pool, &appeal.id).await
    );
    let Received { commands, to, data } = sink.lock().unwrap()[0].clone();
    assert_eq!(to, "aigerim@example.kz");
    assert_eq!(commands[0], "EHLO bakylau-control");
    assert!(
        commands[1].starts_with("MAIL FROM:<control@akimat.example.kz>"),
        "{commands:?}"
    );
    assert!(commands[2].starts_with("RCPT TO:<aigerim@example.kz>"));
    let (headers, body) = data.split_once("\r\n\r\n").unwrap();
    assert!(headers.is_ascii(), "{headers}");
    assert!(headers.contains("Content-Transfer-Encoding: base64"));
    assert!(headers.contains("charset=utf-8"));
    // The Kazakh subject travels as RFC 2047 encoded words and decodes back.
    let subject = decode_subject(headers);
    assert_eq!(
        subject,
        format!("Өтінішіңіз тіркелді: {}", appeal.registration_number)
    );
    let body: String = body.split("\r\n").collect();
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(body.trim())
            .unwrap(),
    )
    .unwrap();
    assert!(text.contains("Құрметті"), "{text}");
    assert!(text.contains(&appeal.registration_number));

    // The letter is stored as sent; no address is kept in control.
    let client = running.client().await;
    let ok = bakylau_testkit::eventually(WAIT, || {
        let mut c = client.clone();
        let id = appeal.id.clone();
        async move {
            c.list_letters(as_user(
                pb::ListLettersRequest {
                    appeal_id: id,
                    ..Default::default()
                },
                "ctl",
                "controller",
                None,
            ))
            .await
            .map(|r| {
                r.into_inner()
                    .letters
                    .iter()
                    .any(|l| l.kind == "registration_coupon" && l.delivery == "sent")
            })
            .unwrap_or(false)
        }
    })
    .await;
    assert!(ok, "letter not marked sent");
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM letters WHERE body LIKE '%aigerim@%' OR subject LIKE '%aigerim@%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
    let timeline = client
        .clone()
        .get_timeline(as_user(
            pb::GetTimelineRequest {
                appeal_id: appeal.id.clone(),
            },
            "ctl",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(timeline.entries.iter().any(|e| e.action == "letter_sent"));

    running.stop().await;
    intake_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), intake_task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_letter_is_retried_then_failed_and_no_address_means_post() {
    let env = TestEnv::new().await.unwrap();
    let (intake_addr, intake_stop, intake_task) = start_intake(&env).await;
    let (port, sink) = smtp_sink(true).await;
    let mut s = settings_for(&env);
    s.control.notifier.smtp_host = "127.0.0.1".into();
    s.control.notifier.smtp_port = port;
    s.control.notifier.intake_addr = intake_addr.clone();
    s.control.notifier.poll_ms = 200;
    s.control.notifier.from = "control@akimat.example.kz".into();
    s.control.notifier.max_attempts = 2;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let running = start(&env, s, clock.clone()).await;
    let pool = pool(&env).await;

    let refused = register(&intake_addr, 1, "aigerim@example.kz").await;
    let without = register(&intake_addr, 100, "").await;

    // No e-mail in intake: the letter stays for postal delivery, no SMTP call for it.
    let ok = bakylau_testkit::eventually(WAIT, || async {
        coupon_state(&pool, &without.id)
            .await
            .is_some_and(|(d, _, _)| d == "no_address")
    })
    .await;
    assert!(ok, "letter without an address not marked no_address");

    // The relay refuses the recipient: one attempt, then a pause (the clock stands still).
    let ok = bakylau_testkit::eventually(WAIT, || async {
        coupon_state(&pool, &refused.id)
            .await
            .is_some_and(|(d, a, _)| d == "stored" && a == 1)
    })
    .await;
    assert!(ok, "first attempt not recorded");
    let (_, _, error) = coupon_state(&pool, &refused.id).await.unwrap();
    let error = error.expect("the error is kept");
    assert!(error.contains("550"), "{error}");
    // The relay's reply echoes the address; it is neither stored nor logged.
    assert!(!error.contains("aigerim"), "{error}");

    // After the back-off the second and last attempt fails: the letter is failed.
    clock.advance(chrono::Duration::minutes(10));
    let ok = bakylau_testkit::eventually(WAIT, || async {
        coupon_state(&pool, &refused.id)
            .await
            .is_some_and(|(d, a, _)| d == "failed" && a == 2)
    })
    .await;
    assert!(ok, "letter not marked failed after max attempts");
    assert!(sink.lock().unwrap().is_empty(), "nothing was accepted");
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM letters WHERE coalesce(last_error, '') LIKE '%aigerim%' \
         OR body LIKE '%aigerim@%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(leaked, 0);
    let timeline = running
        .client()
        .await
        .get_timeline(as_user(
            pb::GetTimelineRequest {
                appeal_id: refused.id.clone(),
            },
            "ctl",
            "controller",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(timeline.entries.iter().any(|e| e.action == "letter_failed"));

    running.stop().await;
    intake_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), intake_task).await;
}
