//! `bakylau appeal …`: register an appeal and hand out its coupon, look one up, list them.

use std::path::PathBuf;

use anyhow::Result;
use bakylau_proto::intake::v1 as pb;
use clap::{Args, Subcommand};
use tonic::{Code, Status};
use uuid::Uuid;

use crate::Global;
use crate::client;
use crate::error::Retryable;
use crate::input;
use crate::localtime;
use crate::output::{self, OutputFormat};
use crate::vocab::{Channel, Kind, Language, Status as AppealStatus};

#[derive(Subcommand, Debug)]
pub enum AppealCommand {
    /// Register an appeal and print its coupon (талон) for the applicant
    Submit(Box<SubmitArgs>),
    /// Show one appeal in full, by registration number (ALM-2026-000123) or id
    Show(ShowArgs),
    /// List registered appeals for a period, filtered by kind, channel, status or district
    List(ListArgs),
}

#[derive(Args, Debug, Default)]
pub struct SubmitArgs {
    /// Read the appeal from a JSON file (the `data` shape of the inbound contract); flags given too override it
    #[arg(long, value_name = "appeal.json")]
    pub file: Option<PathBuf>,
    /// Kind of appeal
    #[arg(long, value_enum, required_unless_present = "file")]
    pub kind: Option<Kind>,
    /// How the appeal arrived [default: paper_in_person]
    #[arg(long, value_enum)]
    pub channel: Option<Channel>,
    /// Language the appeal is written in [default: ru]
    #[arg(long, value_enum)]
    pub language: Option<Language>,

    /// Applicant's IIN (12 digits)
    #[arg(long, help_heading = "Applicant: a person", conflicts_with_all = ["bin", "org_name", "rep_name", "rep_iin"])]
    pub iin: Option<String>,
    /// Applicant's full name
    #[arg(long, help_heading = "Applicant: a person", conflicts_with_all = ["bin", "org_name", "rep_name", "rep_iin"])]
    pub name: Option<String>,
    /// Company's BIN (12 digits)
    #[arg(long, help_heading = "Applicant: a company")]
    pub bin: Option<String>,
    /// Company's name
    #[arg(long, help_heading = "Applicant: a company")]
    pub org_name: Option<String>,
    /// Full name of the company's representative
    #[arg(long, help_heading = "Applicant: a company")]
    pub rep_name: Option<String>,
    /// IIN of the company's representative
    #[arg(long, help_heading = "Applicant: a company")]
    pub rep_iin: Option<String>,
    /// Applicant's phone, +7XXXXXXXXXX
    #[arg(long, help_heading = "Applicant contacts")]
    pub phone: Option<String>,
    /// Applicant's e-mail
    #[arg(long, help_heading = "Applicant contacts")]
    pub email: Option<String>,
    /// Applicant's postal address
    #[arg(long, help_heading = "Applicant contacts")]
    pub address: Option<String>,
    /// The applicant did not give a name (considered only if it reports corruption)
    #[arg(long)]
    pub anonymous: bool,
    /// The appeal reports corruption
    #[arg(long)]
    pub corruption: bool,

    /// District or city the appeal concerns
    #[arg(long, help_heading = "Where")]
    pub district: Option<String>,
    /// Region (oblast)
    #[arg(long, help_heading = "Where")]
    pub region: Option<String>,
    /// Rural district (auylny okrug)
    #[arg(long, help_heading = "Where")]
    pub rural_district: Option<String>,
    /// KATO code of the place (9 digits)
    #[arg(long, help_heading = "Where")]
    pub kato: Option<String>,
    /// Latitude of the place, e.g. 43.25 (give --lon too)
    #[arg(
        long,
        help_heading = "Where",
        requires = "lon",
        allow_negative_numbers = true
    )]
    pub lat: Option<f64>,
    /// Longitude of the place, e.g. 76.95 (give --lat too)
    #[arg(
        long,
        help_heading = "Where",
        requires = "lat",
        allow_negative_numbers = true
    )]
    pub lon: Option<f64>,

    /// Short subject line
    #[arg(long, help_heading = "Content")]
    pub subject: Option<String>,
    /// Text of the appeal
    #[arg(long, help_heading = "Content", conflicts_with = "text_file")]
    pub text: Option<String>,
    /// Read the text from a UTF-8 file (`-` for standard input)
    #[arg(long, help_heading = "Content", value_name = "PATH")]
    pub text_file: Option<PathBuf>,
    /// Attach a file (pdf, jpg, png, tif, txt, doc, docx, odt, xls, xlsx); repeat for more
    #[arg(long = "attach", help_heading = "Content", value_name = "PATH")]
    pub attach: Vec<PathBuf>,
    /// Electronic signature of the appeal: CMS/PKCS#7 file, DER or PEM
    #[arg(long, help_heading = "Content", value_name = "PATH")]
    pub signature: Option<PathBuf>,

    /// Name of the officer receiving the appeal, printed on the coupon [env: BAKYLAU_OFFICER_NAME]
    #[arg(long, help_heading = "Registration")]
    pub officer_name: Option<String>,
    /// Position of the receiving officer [env: BAKYLAU_OFFICER_POSITION]
    #[arg(long, help_heading = "Registration")]
    pub officer_position: Option<String>,
    /// When the appeal arrived (post stamp or hand-in), "2026-03-20 09:15" local [default: now]
    #[arg(long, help_heading = "Registration", value_name = "TIME")]
    pub received_at: Option<String>,
    /// Registration number of an earlier appeal this one repeats
    #[arg(long, help_heading = "Registration", value_name = "NUMBER")]
    pub repeated_of: Option<String>,
    /// Whom the appeal is addressed to (akim, a deputy, a body code)
    #[arg(long, help_heading = "Registration")]
    pub addressee: Option<String>,
    /// Sending system for an external appeal, e.g. urn:kz:eotinish (implies --channel external)
    #[arg(long, help_heading = "Registration")]
    pub source: Option<String>,
    /// The sending system's own reference for the appeal
    #[arg(long, help_heading = "Registration")]
    pub external_id: Option<String>,
    /// Key that makes a retry safe: the same id never registers the appeal twice [default: new]
    #[arg(long, help_heading = "Registration", value_name = "ID")]
    pub request_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Registration number (ALM-2026-000123) or appeal id (UUID)
    #[arg(value_name = "ID-OR-NUMBER")]
    pub key: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// First day, YYYY-MM-DD (local time)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD, included
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this kind of appeal
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Only appeals that arrived this way
    #[arg(long, value_enum)]
    pub channel: Option<Channel>,
    /// Only registered or only declined appeals
    #[arg(long, value_enum)]
    pub status: Option<AppealStatus>,
    /// Only appeals about this district
    #[arg(long)]
    pub district: Option<String>,
    /// How many appeals per page (1-500)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
    /// Fetch every page, not just the first
    #[arg(long, conflicts_with = "page_token")]
    pub all: bool,
    /// Continue from the page token printed by a previous list
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
}

pub async fn run(cmd: AppealCommand, g: &Global) -> Result<()> {
    match cmd {
        AppealCommand::Submit(args) => submit(*args, g).await,
        AppealCommand::Show(args) => show(args, g).await,
        AppealCommand::List(args) => list(args, g).await,
    }
}

/// The officer from the environment, used when neither a flag nor the file names one.
#[derive(Debug, Default, Clone)]
pub struct OfficerEnv {
    pub name: Option<String>,
    pub position: Option<String>,
}

impl OfficerEnv {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            name: var("BAKYLAU_OFFICER_NAME"),
            position: var("BAKYLAU_OFFICER_POSITION"),
        }
    }
}

async fn submit(args: SubmitArgs, g: &Global) -> Result<()> {
    let base = match &args.file {
        Some(path) => input::load_appeal_file(path)?,
        None => pb::RegisterAppealRequest::default(),
    };
    let req = build_request(base, &args, &OfficerEnv::from_env())?;
    let request_id = req.request_id.clone();
    let mut intake = client::intake(&g.intake).await?;
    let resp = intake
        .register_appeal(req)
        .await
        .map_err(|s| retry_hint(s, &request_id))?
        .into_inner();
    match g.output {
        OutputFormat::Text => output::print(&output::coupon_text(&resp)),
        OutputFormat::Json => output::print_json(&output::register_response_json(&resp)),
    }
}

/// A failure after which the appeal may or may not be registered: say how to retry safely.
fn retry_hint(status: Status, request_id: &str) -> anyhow::Error {
    match status.code() {
        Code::Unavailable
        | Code::DeadlineExceeded
        | Code::Unknown
        | Code::Internal
        | Code::Cancelled
        | Code::Aborted => Retryable {
            status,
            hint: format!(
                "the appeal may not be registered; run the same command again with \
                 --request-id {request_id} (it never registers the appeal twice)"
            ),
        }
        .into(),
        _ => status.into(),
    }
}

/// Lays the flags over the request read from `--file` (or an empty one) and fills the
/// defaults: channel paper_in_person, language ru, a fresh request id.
pub fn build_request(
    mut req: pb::RegisterAppealRequest,
    args: &SubmitArgs,
    officer_env: &OfficerEnv,
) -> Result<pb::RegisterAppealRequest> {
    fn set(target: &mut String, value: &Option<String>) {
        if let Some(v) = value {
            *target = v.clone();
        }
    }

    if let Some(k) = args.kind {
        req.kind = k.number();
    }
    set(&mut req.source, &args.source);
    set(&mut req.external_id, &args.external_id);
    if let Some(c) = args.channel {
        req.channel = c.number();
    } else if req.channel == 0 && (args.source.is_some() || args.external_id.is_some()) {
        req.channel = Channel::External.number();
    }
    if req.channel == 0 {
        req.channel = Channel::PaperInPerson.number();
    }
    if let Some(l) = args.language {
        req.language = l.number();
    }
    if req.language == 0 {
        req.language = Language::Ru.number();
    }

    apply_applicant(&mut req, args);
    req.anonymous |= args.anonymous;
    req.corruption_report |= args.corruption;

    if args.district.is_some()
        || args.region.is_some()
        || args.rural_district.is_some()
        || args.kato.is_some()
    {
        let l = req.locality.get_or_insert_default();
        set(&mut l.district, &args.district);
        set(&mut l.region, &args.region);
        set(&mut l.rural_district, &args.rural_district);
        set(&mut l.kato, &args.kato);
    }
    if let (Some(lat), Some(lon)) = (args.lat, args.lon) {
        req.location = Some(pb::GeoPoint { lat, lon });
    }

    set(&mut req.subject, &args.subject);
    set(&mut req.text, &args.text);
    if let Some(path) = &args.text_file {
        req.text = input::read_text(path)?;
    }
    for path in &args.attach {
        req.attachments.push(input::read_attachment(path)?);
    }
    if let Some(path) = &args.signature {
        req.signature = Some(input::read_signature(path)?);
    }

    set(&mut req.repeated_of, &args.repeated_of);
    set(&mut req.addressee, &args.addressee);
    if let Some(t) = &args.received_at {
        req.received_at = Some(localtime::timestamp(localtime::parse_moment(
            t,
            "--received-at",
        )?));
    }

    let mut officer = req.received_by.take().unwrap_or_default();
    set(&mut officer.full_name, &args.officer_name);
    set(&mut officer.position, &args.officer_position);
    if officer.full_name.is_empty()
        && let Some(n) = &officer_env.name
    {
        officer.full_name = n.clone();
    }
    if officer.position.is_empty()
        && let Some(p) = &officer_env.position
    {
        officer.position = p.clone();
    }
    if !(officer.full_name.is_empty() && officer.position.is_empty()) {
        req.received_by = Some(officer);
    }

    set(&mut req.request_id, &args.request_id);
    if req.request_id.trim().is_empty() {
        req.request_id = Uuid::new_v4().to_string();
    }
    Ok(req)
}

/// Applicant flags: `--iin/--name` make a person, `--bin/--org-name/--rep-*` a company;
/// contacts go to whichever applicant there is (a person if none yet).
fn apply_applicant(req: &mut pb::RegisterAppealRequest, args: &SubmitArgs) {
    use pb::applicant::Party;

    let person = args.iin.is_some() || args.name.is_some();
    let company = args.bin.is_some()
        || args.org_name.is_some()
        || args.rep_name.is_some()
        || args.rep_iin.is_some();
    let contacts = args.phone.is_some() || args.email.is_some() || args.address.is_some();
    if !(person || company || contacts) {
        return;
    }
    let existing = req.applicant.take().and_then(|a| a.party);
    let mut party = match existing {
        Some(Party::Individual(i)) if !company => Party::Individual(i),
        Some(Party::LegalEntity(e)) if !person => Party::LegalEntity(e),
        _ if company => Party::LegalEntity(pb::LegalEntity::default()),
        _ => Party::Individual(pb::Individual::default()),
    };
    let put = |target: &mut String, value: &Option<String>| {
        if let Some(v) = value {
            *target = v.clone();
        }
    };
    match &mut party {
        Party::Individual(i) => {
            put(&mut i.iin, &args.iin);
            put(&mut i.full_name, &args.name);
            put(&mut i.phone, &args.phone);
            put(&mut i.email, &args.email);
            put(&mut i.address, &args.address);
        }
        Party::LegalEntity(e) => {
            put(&mut e.bin, &args.bin);
            put(&mut e.name, &args.org_name);
            if args.rep_name.is_some() || args.rep_iin.is_some() {
                let r = e.representative.get_or_insert_default();
                put(&mut r.full_name, &args.rep_name);
                put(&mut r.iin, &args.rep_iin);
            }
            put(&mut e.phone, &args.phone);
            put(&mut e.email, &args.email);
            put(&mut e.address, &args.address);
        }
    }
    req.applicant = Some(pb::Applicant { party: Some(party) });
}

/// A UUID looks an appeal up by id; anything else is a registration number.
pub fn lookup_key(key: &str) -> pb::get_appeal_request::Key {
    let key = key.trim();
    match Uuid::parse_str(key) {
        Ok(id) => pb::get_appeal_request::Key::Id(id.to_string()),
        Err(_) => pb::get_appeal_request::Key::RegistrationNumber(key.to_owned()),
    }
}

async fn show(args: ShowArgs, g: &Global) -> Result<()> {
    let mut intake = client::intake(&g.intake).await?;
    let appeal = intake
        .get_appeal(pb::GetAppealRequest {
            key: Some(lookup_key(&args.key)),
        })
        .await?
        .into_inner();
    match g.output {
        OutputFormat::Text => output::print(&output::appeal_text(&appeal)),
        OutputFormat::Json => output::print_json(&output::appeal_json(&appeal)),
    }
}

pub fn list_request(args: &ListArgs) -> Result<pb::ListAppealsRequest> {
    let (registered_from, registered_to) =
        localtime::date_window(args.from.as_deref(), args.to.as_deref())?;
    Ok(pb::ListAppealsRequest {
        registered_from,
        registered_to,
        kind: args.kind.map(Kind::number).unwrap_or_default(),
        channel: args.channel.map(Channel::number).unwrap_or_default(),
        status: args.status.map(AppealStatus::number).unwrap_or_default(),
        district: args.district.clone().unwrap_or_default(),
        page_size: args.limit,
        page_token: args.page_token.clone().unwrap_or_default(),
    })
}

async fn list(args: ListArgs, g: &Global) -> Result<()> {
    let req = list_request(&args)?;
    let mut intake = client::intake(&g.intake).await?;
    let (appeals, next) = output::collect_pages(req.page_token.clone(), args.all, async |token| {
        let page = intake
            .list_appeals(pb::ListAppealsRequest {
                page_token: token,
                ..req.clone()
            })
            .await?
            .into_inner();
        Ok((page.appeals, page.next_page_token))
    })
    .await?;
    output::print_page(
        g.output,
        output::appeals_table(&appeals),
        || output::appeals_page_json(&appeals, &next),
        &next,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use pb::applicant::Party;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: AppealCommand,
    }

    fn submit_args(argv: &[&str]) -> SubmitArgs {
        let mut full = vec!["t", "submit"];
        full.extend_from_slice(argv);
        match T::try_parse_from(full).unwrap().cmd {
            AppealCommand::Submit(a) => *a,
            _ => unreachable!(),
        }
    }

    fn build(base: pb::RegisterAppealRequest, argv: &[&str]) -> pb::RegisterAppealRequest {
        build_request(base, &submit_args(argv), &OfficerEnv::default()).unwrap()
    }

    #[test]
    fn flags_alone_make_a_complete_request_with_defaults() {
        let req = build(
            Default::default(),
            &[
                "--kind",
                "complaint",
                "--iin",
                "900101300123",
                "--name",
                "Асанов Асан",
                "--phone",
                "+77010000000",
                "--district",
                "Медеуский",
                "--lat",
                "43.25",
                "--lon",
                "76.95",
                "--text",
                "Нет отопления",
                "--officer-name",
                "Серикова Д.",
            ],
        );
        assert_eq!(req.kind, pb::AppealKind::Complaint as i32);
        assert_eq!(req.channel, pb::Channel::PaperInPerson as i32);
        assert_eq!(req.language, pb::Language::Ru as i32);
        let Some(Party::Individual(i)) = req.applicant.unwrap().party else {
            panic!("a person expected");
        };
        assert_eq!(
            (i.iin.as_str(), i.full_name.as_str(), i.phone.as_str()),
            ("900101300123", "Асанов Асан", "+77010000000")
        );
        assert_eq!(req.locality.unwrap().district, "Медеуский");
        assert_eq!(
            req.location,
            Some(pb::GeoPoint {
                lat: 43.25,
                lon: 76.95
            })
        );
        assert_eq!(req.text, "Нет отопления");
        assert_eq!(req.received_by.unwrap().full_name, "Серикова Д.");
        assert!(Uuid::parse_str(&req.request_id).is_ok());
    }

    #[test]
    fn an_explicit_request_id_is_kept_so_retries_are_idempotent() {
        let a = build(
            Default::default(),
            &["--kind", "request", "--request-id", "r-42"],
        );
        let b = build(
            Default::default(),
            &["--kind", "request", "--request-id", "r-42"],
        );
        assert_eq!(a.request_id, "r-42");
        assert_eq!(a, b);
        let c = build(Default::default(), &["--kind", "request"]);
        let d = build(Default::default(), &["--kind", "request"]);
        assert_ne!(c.request_id, d.request_id);
    }

    #[test]
    fn flags_override_the_file() {
        let file = input::parse_appeal_json(
            r#"{"kind":"complaint","channel":"paper_post","language":"kk","request_id":"f-1",
                "applicant":{"type":"individual","iin":"900101300123","full_name":"A"},
                "locality":{"district":"Алмалинский","region":"Алматы"},
                "text":"from file","received_by":{"full_name":"File Officer","position":"clerk"}}"#,
            std::path::Path::new("."),
        )
        .unwrap();
        let env = OfficerEnv {
            name: Some("Env Officer".into()),
            position: Some("env position".into()),
        };
        let req = build_request(
            file.clone(),
            &submit_args(&[
                "--file",
                "x.json",
                "--kind",
                "proposal",
                "--district",
                "Медеуский",
                "--name",
                "B",
            ]),
            &env,
        )
        .unwrap();
        assert_eq!(req.kind, pb::AppealKind::Proposal as i32);
        assert_eq!(
            req.channel,
            pb::Channel::PaperPost as i32,
            "kept from the file"
        );
        assert_eq!(req.language, pb::Language::Kk as i32, "kept from the file");
        assert_eq!(req.request_id, "f-1");
        let l = req.locality.unwrap();
        assert_eq!(
            (l.district.as_str(), l.region.as_str()),
            ("Медеуский", "Алматы")
        );
        let Some(Party::Individual(i)) = req.applicant.unwrap().party else {
            panic!("a person expected");
        };
        assert_eq!(
            (i.iin.as_str(), i.full_name.as_str()),
            ("900101300123", "B")
        );
        assert_eq!(req.text, "from file");
        // The file's officer wins over the environment; a flag wins over both.
        let o = req.received_by.unwrap();
        assert_eq!(
            (o.full_name.as_str(), o.position.as_str()),
            ("File Officer", "clerk")
        );
        let req = build_request(
            file,
            &submit_args(&["--file", "x.json", "--officer-name", "Flag"]),
            &env,
        )
        .unwrap();
        let o = req.received_by.unwrap();
        assert_eq!(
            (o.full_name.as_str(), o.position.as_str()),
            ("Flag", "clerk")
        );
    }

    #[test]
    fn officer_comes_from_the_environment_when_not_given() {
        let env = OfficerEnv {
            name: Some("Env Officer".into()),
            position: Some("registrar".into()),
        };
        let req = build_request(
            Default::default(),
            &submit_args(&["--kind", "report"]),
            &env,
        )
        .unwrap();
        let o = req.received_by.unwrap();
        assert_eq!(
            (o.full_name.as_str(), o.position.as_str()),
            ("Env Officer", "registrar")
        );
        let req = build(Default::default(), &["--kind", "report"]);
        assert_eq!(req.received_by, None);
    }

    #[test]
    fn a_company_with_its_representative() {
        let req = build(
            Default::default(),
            &[
                "--kind",
                "request",
                "--bin",
                "123456789012",
                "--org-name",
                "ТОО Пример",
                "--rep-name",
                "Ким В.",
                "--rep-iin",
                "800101300456",
                "--email",
                "info@example.kz",
            ],
        );
        let Some(Party::LegalEntity(e)) = req.applicant.unwrap().party else {
            panic!("a company expected");
        };
        assert_eq!(
            (e.bin.as_str(), e.name.as_str()),
            ("123456789012", "ТОО Пример")
        );
        assert_eq!(e.email, "info@example.kz");
        let r = e.representative.unwrap();
        assert_eq!(
            (r.full_name.as_str(), r.iin.as_str()),
            ("Ким В.", "800101300456")
        );
    }

    #[test]
    fn person_and_company_flags_do_not_mix() {
        let r = T::try_parse_from([
            "t", "submit", "--kind", "report", "--iin", "1", "--bin", "2",
        ]);
        assert!(r.is_err());
        // Without --file, the kind is required.
        assert!(T::try_parse_from(["t", "submit", "--text", "x"]).is_err());
        assert!(T::try_parse_from(["t", "submit", "--file", "a.json"]).is_ok());
        // Coordinates come in pairs.
        assert!(T::try_parse_from(["t", "submit", "--kind", "report", "--lat", "43.2"]).is_err());
    }

    #[test]
    fn anonymous_corruption_reports_and_external_appeals() {
        let req = build(
            Default::default(),
            &[
                "--kind",
                "report",
                "--anonymous",
                "--corruption",
                "--source",
                "urn:kz:eotinish",
                "--external-id",
                "EO-1",
            ],
        );
        assert!(req.anonymous && req.corruption_report);
        assert_eq!(req.applicant, None);
        assert_eq!(req.channel, pb::Channel::External as i32);
        assert_eq!(
            (req.source.as_str(), req.external_id.as_str()),
            ("urn:kz:eotinish", "EO-1")
        );
        let req = build(
            Default::default(),
            &[
                "--kind",
                "report",
                "--channel",
                "electronic",
                "--received-at",
                "2026-03-20 09:15",
                "--repeated-of",
                "ALM-2026-000001",
            ],
        );
        assert_eq!(req.channel, pb::Channel::Electronic as i32);
        assert_eq!(
            localtime::format_local(req.received_at.as_ref()),
            "2026-03-20 09:15"
        );
        assert_eq!(req.repeated_of, "ALM-2026-000001");
    }

    #[test]
    fn uuids_go_by_id_anything_else_by_number() {
        assert_eq!(
            lookup_key("0195B0A0-0000-7000-8000-000000000001"),
            pb::get_appeal_request::Key::Id("0195b0a0-0000-7000-8000-000000000001".into())
        );
        assert_eq!(
            lookup_key(" ALM-2026-000123 "),
            pb::get_appeal_request::Key::RegistrationNumber("ALM-2026-000123".into())
        );
    }

    #[test]
    fn list_filters_map_to_the_request() {
        let T { cmd } = T::try_parse_from([
            "t",
            "list",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--kind",
            "complaint",
            "--status",
            "declined",
            "--district",
            "Медеуский",
            "--limit",
            "10",
        ])
        .unwrap();
        let AppealCommand::List(args) = cmd else {
            unreachable!()
        };
        let req = list_request(&args).unwrap();
        assert_eq!(
            localtime::format_local(req.registered_from.as_ref()),
            "2026-03-01 00:00"
        );
        assert_eq!(
            localtime::format_local(req.registered_to.as_ref()),
            "2026-04-01 00:00"
        );
        assert_eq!(req.kind, pb::AppealKind::Complaint as i32);
        assert_eq!(req.status, pb::AppealStatus::Declined as i32);
        assert_eq!(req.channel, 0);
        assert_eq!(req.page_size, 10);
        assert!(T::try_parse_from(["t", "list", "--limit", "0"]).is_err());
        assert!(T::try_parse_from(["t", "list", "--limit", "501"]).is_err());
    }

    #[test]
    fn retry_hint_only_where_the_outcome_is_unknown() {
        let e = retry_hint(Status::unavailable("down"), "r-1");
        let r = e.downcast_ref::<Retryable>().unwrap();
        assert!(r.hint.contains("--request-id r-1"));
        let e = retry_hint(Status::invalid_argument("bad"), "r-1");
        assert!(e.downcast_ref::<Retryable>().is_none());
        assert!(e.downcast_ref::<Status>().is_some());
    }
}
