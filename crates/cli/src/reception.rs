//! `bakylau reception …`: officials' personal receptions by pre-registration, video and
//! field receptions (reg 6, 8.7): officials, schedules, slots, booking, the waiting list,
//! holding (check-in, no-show, outcome, minutes) and monitoring (reg 6.5, 6.6).

use anyhow::Result;
use bakylau_proto::reception::v1 as pb;
use bakylau_proto::reception::v1::reception_service_client::ReceptionServiceClient;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Global;
use crate::client;
use crate::error::usage;
use crate::localtime::format_local;
use crate::output::{self, OutputFormat};

#[derive(Subcommand, Debug)]
pub enum ReceptionCommand {
    /// List the officials who receive people, by body or topic
    Officials(OfficialsArgs),
    /// Show or change an official's reception schedule, sessions and leave
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// List an official's free (or all) slots
    Slots(SlotsArgs),
    /// Check an issue before booking: topics of the official, an earlier appeal
    Screen(ScreenArgs),
    /// Book a slot for a visitor (pre-registration, reg 6.1)
    Book(Box<BookArgs>),
    /// Show one booking with its outcomes
    Show(BookingArg),
    /// List the bookings of an official on a day
    Bookings(BookingsArgs),
    /// Cancel a booking; the slot goes to the first person on the waiting list
    Cancel(CancelArgs),
    /// Move a booking to another free slot of the same official
    Reschedule(RescheduleArgs),
    /// Put a person on an official's waiting list, or show the list
    #[command(subcommand)]
    Waitlist(WaitlistCommand),
    /// Check a visitor in on the day of the reception
    Checkin(BookingArg),
    /// Mark a visitor who did not come
    Noshow(BookingArg),
    /// Record the outcome for a visitor: explained, appeal registered, instruction given
    Outcome(Box<OutcomeArgs>),
    /// Record or show the minutes of an official's reception on a day
    Minutes(MinutesArgs),
    /// Monitor receptions per official and body: held, no-shows, cancellations, waits
    Monitor(MonitorArgs),
    /// Show the confirmations and reminders stored for visitors
    Notifications(NotificationsArgs),
}

#[derive(Args, Debug)]
pub struct OfficialsArgs {
    /// Only officials of this body (e.g. akimat.talgar)
    #[arg(long)]
    pub body: Option<String>,
    /// Only officials covering this taxonomy code (e.g. land.plot_allocation)
    #[arg(long)]
    pub topic: Option<String>,
    /// Include officials who no longer receive
    #[arg(long)]
    pub all: bool,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Show the weekly hours, dated sessions and leave of an official
    Show(OfficialArg),
    /// Replace the weekly hours: --hours "2 10:00-13:00 20 in_person" (weekday 1 = Monday)
    Set(SetArgs),
    /// Add a dated session: a field reception, a video reception or a reg 8.7 meeting
    AddSession(Box<SessionArgs>),
    /// Remove a dated session
    RemoveSession(RemoveArgs),
    /// Add the official's leave (no slots on those days)
    AddLeave(LeaveArgs),
    /// Remove a leave
    RemoveLeave(RemoveArgs),
}

#[derive(Args, Debug)]
pub struct OfficialArg {
    /// Official id (e.g. akim.talgar)
    pub official: String,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// Official id
    pub official: String,
    /// Weekly hours "WEEKDAY HH:MM-HH:MM SLOT_MINUTES FORMAT[/KIND]", repeatable
    #[arg(long = "hours", required = true)]
    pub hours: Vec<String>,
    /// Meeting room of these hours
    #[arg(long)]
    pub room: Option<String>,
    /// Video-conference link (video format)
    #[arg(long)]
    pub link: Option<String>,
    /// Days ahead that slots are published
    #[arg(long, default_value_t = 30)]
    pub publish_days: u32,
}

#[derive(Args, Debug)]
pub struct SessionArgs {
    /// Official id
    pub official: String,
    /// Date, YYYY-MM-DD
    #[arg(long)]
    pub date: String,
    /// Start, HH:MM
    #[arg(long)]
    pub start: String,
    /// End, HH:MM
    #[arg(long)]
    pub end: String,
    /// Slot length in minutes
    #[arg(long, default_value_t = 20)]
    pub slot_minutes: u32,
    /// How the reception is held
    #[arg(long, value_enum, default_value = "field")]
    pub format: Format,
    /// Personal reception, or a reg 8.7 meeting with bodies, NGOs and media
    #[arg(long, value_enum, default_value = "personal")]
    pub kind: Kind,
    /// Meeting room
    #[arg(long)]
    pub room: Option<String>,
    /// Video-conference link
    #[arg(long)]
    pub link: Option<String>,
    /// Place of a field reception
    #[arg(long)]
    pub place: Option<String>,
    /// District code of a field reception
    #[arg(long)]
    pub district: Option<String>,
    /// Official travelling along (id), repeatable
    #[arg(long = "travelling")]
    pub travelling: Vec<String>,
    /// Note on the session
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Official id
    pub official: String,
    /// Id of the session or leave
    pub id: String,
}

#[derive(Args, Debug)]
pub struct LeaveArgs {
    /// Official id
    pub official: String,
    /// First day, YYYY-MM-DD
    #[arg(long)]
    pub from: String,
    /// Last day, YYYY-MM-DD
    #[arg(long)]
    pub to: String,
    /// Why (leave, business trip)
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// in person
    InPerson,
    /// video conference
    Video,
    /// field (visiting) reception in a district
    Field,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind {
    /// personal reception (reg 6.1)
    Personal,
    /// meeting with bodies, NGOs, media (reg 8.7)
    Meeting,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::InPerson => "in_person",
        Format::Video => "video",
        Format::Field => "field",
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Personal => "personal",
        Kind::Meeting => "meeting",
    }
}

#[derive(Args, Debug)]
pub struct SlotsArgs {
    /// Official id
    pub official: String,
    /// First day, YYYY-MM-DD [default: now]
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD, included [default: as far as published]
    #[arg(long)]
    pub to: Option<String>,
    /// Show taken slots too
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// Official id
    pub official: String,
    /// Taxonomy code of the issue
    #[arg(long)]
    pub category: Option<String>,
    /// Registration number (or id) of an earlier appeal on the issue
    #[arg(long)]
    pub earlier: Option<String>,
}

#[derive(Args, Debug)]
pub struct BookArgs {
    /// Slot id from `bakylau reception slots` (official@YYYY-MM-DDTHH:MM)
    #[arg(long)]
    pub slot: String,
    /// Visitor's full name
    #[arg(long)]
    pub name: String,
    /// Visitor's IIN (12 digits)
    #[arg(long)]
    pub iin: String,
    /// Visitor's phone, +7XXXXXXXXXX (confirmation and reminders)
    #[arg(long)]
    pub phone: String,
    /// Organisation represented (reg 8.7 meetings)
    #[arg(long)]
    pub organisation: Option<String>,
    /// The issue the visitor brings
    #[arg(long)]
    pub issue: String,
    /// Taxonomy code of the issue
    #[arg(long)]
    pub category: Option<String>,
    /// Registration number of an earlier appeal on the issue
    #[arg(long)]
    pub earlier: Option<String>,
    /// Language of the visitor: kk, ru or en
    #[arg(long, default_value = "ru")]
    pub language: String,
    /// District code the issue concerns
    #[arg(long)]
    pub district: Option<String>,
    /// Official taking part (reg 6.2), repeatable
    #[arg(long = "participant")]
    pub participants: Vec<String>,
    /// Key that makes a retry safe [default: new]
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Args, Debug)]
pub struct BookingArg {
    /// Booking id
    pub booking: String,
}

#[derive(Args, Debug)]
pub struct BookingsArgs {
    /// Official id
    pub official: String,
    /// Day, YYYY-MM-DD
    #[arg(long)]
    pub date: Option<String>,
    /// Only this status: booked, checked_in, held, no_show, cancelled
    #[arg(long)]
    pub status: Option<String>,
}

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// Booking id
    pub booking: String,
    /// Why it is cancelled
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Args, Debug)]
pub struct RescheduleArgs {
    /// Booking id
    pub booking: String,
    /// New slot id of the same official
    #[arg(long)]
    pub slot: String,
}

#[derive(Subcommand, Debug)]
pub enum WaitlistCommand {
    /// Put a person on the waiting list for days they can come
    Join(Box<JoinArgs>),
    /// Show an official's waiting list in order
    List(OfficialArg),
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    /// Official id
    pub official: String,
    /// First day the person can come, YYYY-MM-DD
    #[arg(long)]
    pub from: String,
    /// Last day, YYYY-MM-DD
    #[arg(long)]
    pub to: String,
    /// Person's full name
    #[arg(long)]
    pub name: String,
    /// Person's IIN
    #[arg(long)]
    pub iin: String,
    /// Person's phone, +7XXXXXXXXXX
    #[arg(long)]
    pub phone: String,
    /// The issue
    #[arg(long)]
    pub issue: String,
    /// Taxonomy code of the issue
    #[arg(long)]
    pub category: Option<String>,
    /// Language: kk, ru or en
    #[arg(long, default_value = "ru")]
    pub language: String,
    /// District code the issue concerns
    #[arg(long)]
    pub district: Option<String>,
    /// Key that makes a retry safe [default: new]
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutcomeKind {
    /// explained on the spot
    Explained,
    /// an appeal registered in intake (channel reception)
    Appeal,
    /// an instruction created in control
    Instruction,
}

#[derive(Args, Debug)]
pub struct OutcomeArgs {
    /// Booking id
    pub booking: String,
    /// What the official decided
    #[arg(value_enum)]
    pub outcome: OutcomeKind,
    /// Note on the outcome
    #[arg(long)]
    pub note: Option<String>,
    /// Appeal kind: application, report, feedback, proposal, request, complaint
    #[arg(long, default_value = "application")]
    pub appeal_kind: String,
    /// Appeal subject
    #[arg(long)]
    pub subject: Option<String>,
    /// Appeal or instruction text [appeal default: the booking's issue]
    #[arg(long)]
    pub text: Option<String>,
    /// Visitor's postal address for the answer
    #[arg(long)]
    pub address: Option<String>,
    /// District code of the appeal [default: the booking's]
    #[arg(long)]
    pub district: Option<String>,
    /// Executor body code of the instruction, repeatable (the first leads)
    #[arg(long = "executor")]
    pub executors: Vec<String>,
    /// Instruction due date, YYYY-MM-DD
    #[arg(long)]
    pub due: Option<String>,
    /// Appeal id the instruction is given on, repeatable
    #[arg(long = "appeal-id")]
    pub appeal_ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct MinutesArgs {
    /// Official id
    pub official: String,
    /// Day of the reception, YYYY-MM-DD
    #[arg(long)]
    pub date: String,
    /// Text of the minutes (records them; without it they are shown)
    #[arg(long)]
    pub text: Option<String>,
    /// Attendee, repeatable
    #[arg(long = "attendee")]
    pub attendees: Vec<String>,
}

#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// First day, YYYY-MM-DD [default: 30 days ago]
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD [default: 30 days ahead]
    #[arg(long)]
    pub to: Option<String>,
    /// Only this body
    #[arg(long)]
    pub body: Option<String>,
    /// Only this official
    #[arg(long)]
    pub official: Option<String>,
}

#[derive(Args, Debug)]
pub struct NotificationsArgs {
    /// Only this booking's
    #[arg(long)]
    pub booking: Option<String>,
    /// How many, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

type Client = ReceptionServiceClient<client::Authed>;

async fn connect(g: &Global) -> Result<Client> {
    Ok(ReceptionServiceClient::new(
        client::channel("reception", &g.reception).await?,
    ))
}

/// `"2 10:00-13:00 20 in_person/meeting"` → weekly hours.
pub fn parse_hours(s: &str, venue: &pb::Venue) -> Result<pb::WeeklyHours> {
    let bad = || {
        usage(format!(
            "--hours {s:?}: expected \"WEEKDAY HH:MM-HH:MM SLOT_MINUTES FORMAT[/KIND]\", e.g. \"2 10:00-13:00 20 in_person\""
        ))
    };
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [weekday, span, minutes, format] = parts[..] else {
        return Err(bad());
    };
    let (start, end) = span.split_once('-').ok_or_else(bad)?;
    let (format, kind) = format.split_once('/').unwrap_or((format, "personal"));
    Ok(pb::WeeklyHours {
        weekday: weekday.parse().map_err(|_| bad())?,
        start: start.into(),
        end: end.into(),
        slot_minutes: minutes.parse().map_err(|_| bad())?,
        format: format.into(),
        kind: kind.into(),
        venue: Some(venue.clone()),
    })
}

pub async fn run(cmd: ReceptionCommand, g: &Global) -> Result<()> {
    let mut c = connect(g).await?;
    match cmd {
        ReceptionCommand::Officials(a) => {
            let list = c
                .list_officials(req(
                    g,
                    pb::ListOfficialsRequest {
                        body: a.body.unwrap_or_default(),
                        topic: a.topic.unwrap_or_default(),
                        include_inactive: a.all,
                    },
                ))
                .await?
                .into_inner()
                .officials;
            show(
                g,
                officials_table(&list),
                json!(list.iter().map(official_json).collect::<Vec<_>>()),
            )
        }
        ReceptionCommand::Schedule(cmd) => {
            let (official, s) = match cmd {
                ScheduleCommand::Show(a) => {
                    let s = c
                        .get_schedule(req(
                            g,
                            pb::GetScheduleRequest {
                                official_id: a.official.clone(),
                            },
                        ))
                        .await?;
                    (a.official, s.into_inner())
                }
                ScheduleCommand::Set(a) => {
                    let venue = pb::Venue {
                        room: a.room.unwrap_or_default(),
                        link: a.link.unwrap_or_default(),
                        ..Default::default()
                    };
                    let weekly = a
                        .hours
                        .iter()
                        .map(|h| parse_hours(h, &venue))
                        .collect::<Result<Vec<_>>>()?;
                    let s = c
                        .set_schedule(req(
                            g,
                            pb::SetScheduleRequest {
                                official_id: a.official.clone(),
                                weekly,
                                publish_days_ahead: a.publish_days,
                            },
                        ))
                        .await?;
                    (a.official, s.into_inner())
                }
                ScheduleCommand::AddSession(a) => {
                    let a = *a;
                    let s = c
                        .add_session(req(
                            g,
                            pb::AddSessionRequest {
                                official_id: a.official.clone(),
                                session: Some(pb::Session {
                                    id: String::new(),
                                    date: a.date,
                                    start: a.start,
                                    end: a.end,
                                    slot_minutes: a.slot_minutes,
                                    format: format_name(a.format).into(),
                                    kind: kind_name(a.kind).into(),
                                    venue: Some(pb::Venue {
                                        room: a.room.unwrap_or_default(),
                                        link: a.link.unwrap_or_default(),
                                        place: a.place.unwrap_or_default(),
                                        district: a.district.unwrap_or_default(),
                                    }),
                                    travelling_officials: a.travelling,
                                    note: a.note.unwrap_or_default(),
                                }),
                            },
                        ))
                        .await?;
                    (a.official, s.into_inner())
                }
                ScheduleCommand::RemoveSession(a) => {
                    let s = c
                        .remove_session(req(
                            g,
                            pb::RemoveSessionRequest {
                                official_id: a.official.clone(),
                                session_id: a.id,
                            },
                        ))
                        .await?;
                    (a.official, s.into_inner())
                }
                ScheduleCommand::AddLeave(a) => {
                    let s = c
                        .add_leave(req(
                            g,
                            pb::AddLeaveRequest {
                                official_id: a.official.clone(),
                                leave: Some(pb::Leave {
                                    id: String::new(),
                                    from: a.from,
                                    to: a.to,
                                    reason: a.reason.unwrap_or_default(),
                                }),
                            },
                        ))
                        .await?;
                    (a.official, s.into_inner())
                }
                ScheduleCommand::RemoveLeave(a) => {
                    let s = c
                        .remove_leave(req(
                            g,
                            pb::RemoveLeaveRequest {
                                official_id: a.official.clone(),
                                leave_id: a.id,
                            },
                        ))
                        .await?;
                    (a.official, s.into_inner())
                }
            };
            show(g, schedule_text(&official, &s), schedule_json(&s))
        }
        ReceptionCommand::Slots(a) => {
            let (from, to) = crate::localtime::date_window(a.from.as_deref(), a.to.as_deref())?;
            let slots = c
                .list_slots(req(
                    g,
                    pb::ListSlotsRequest {
                        official_id: a.official,
                        from,
                        to,
                        free_only: !a.all,
                    },
                ))
                .await?
                .into_inner()
                .slots;
            show(
                g,
                slots_table(&slots),
                json!(slots.iter().map(slot_json).collect::<Vec<_>>()),
            )
        }
        ReceptionCommand::Screen(a) => {
            let p = c
                .pre_screen(req(
                    g,
                    pb::PreScreenRequest {
                        official_id: a.official,
                        category: a.category.unwrap_or_default(),
                        earlier_appeal: a.earlier.unwrap_or_default(),
                    },
                ))
                .await?
                .into_inner();
            show(g, screening_text(&p), screening_json(&p))
        }
        ReceptionCommand::Book(a) => {
            let a = *a;
            let booked = c
                .book(req(
                    g,
                    pb::BookRequest {
                        request_id: a.request_id.unwrap_or_else(|| Uuid::new_v4().to_string()),
                        slot_id: a.slot,
                        visitor: Some(pb::Visitor {
                            full_name: a.name,
                            iin: a.iin,
                            phone: a.phone,
                            organisation: a.organisation.unwrap_or_default(),
                        }),
                        issue: a.issue,
                        category: a.category.unwrap_or_default(),
                        earlier_appeal: a.earlier.unwrap_or_default(),
                        participants: a.participants,
                        language: a.language,
                        district: a.district.unwrap_or_default(),
                    },
                ))
                .await?
                .into_inner();
            let b = booked.booking.unwrap_or_default();
            let p = booked.pre_screening.unwrap_or_default();
            let mut text = booking_text(&b);
            text.push_str(&screening_text(&p));
            if booked.replayed {
                text.push_str("(this request was made before; the same booking is shown)\n");
            }
            show(
                g,
                text,
                json!({"booking": booking_json(&b), "pre_screening": screening_json(&p), "replayed": booked.replayed}),
            )
        }
        ReceptionCommand::Show(a) => {
            let b = c
                .get_booking(req(g, pb::GetBookingRequest { id: a.booking }))
                .await?
                .into_inner();
            show(g, booking_text(&b), booking_json(&b))
        }
        ReceptionCommand::Bookings(a) => {
            let list = c
                .list_bookings(req(
                    g,
                    pb::ListBookingsRequest {
                        official_id: a.official,
                        date: a.date.unwrap_or_default(),
                        status: a.status.unwrap_or_default(),
                        page_size: 500,
                        page_token: String::new(),
                    },
                ))
                .await?
                .into_inner()
                .bookings;
            show(
                g,
                bookings_table(&list),
                json!(list.iter().map(booking_json).collect::<Vec<_>>()),
            )
        }
        ReceptionCommand::Cancel(a) => {
            let b = c
                .cancel(req(
                    g,
                    pb::CancelRequest {
                        booking_id: a.booking,
                        reason: a.reason.unwrap_or_default(),
                    },
                ))
                .await?
                .into_inner();
            show(g, booking_text(&b), booking_json(&b))
        }
        ReceptionCommand::Reschedule(a) => {
            let b = c
                .reschedule(req(
                    g,
                    pb::RescheduleRequest {
                        booking_id: a.booking,
                        slot_id: a.slot,
                    },
                ))
                .await?
                .into_inner();
            show(g, booking_text(&b), booking_json(&b))
        }
        ReceptionCommand::Waitlist(WaitlistCommand::Join(a)) => {
            let a = *a;
            let w = c
                .join_waiting_list(req(
                    g,
                    pb::JoinWaitingListRequest {
                        request_id: a.request_id.unwrap_or_else(|| Uuid::new_v4().to_string()),
                        official_id: a.official,
                        from: a.from,
                        to: a.to,
                        visitor: Some(pb::Visitor {
                            full_name: a.name,
                            iin: a.iin,
                            phone: a.phone,
                            organisation: String::new(),
                        }),
                        issue: a.issue,
                        category: a.category.unwrap_or_default(),
                        language: a.language,
                        district: a.district.unwrap_or_default(),
                    },
                ))
                .await?
                .into_inner();
            show(g, waiting_table(std::slice::from_ref(&w)), waiting_json(&w))
        }
        ReceptionCommand::Waitlist(WaitlistCommand::List(a)) => {
            let list = c
                .list_waiting_list(req(
                    g,
                    pb::ListWaitingListRequest {
                        official_id: a.official,
                    },
                ))
                .await?
                .into_inner()
                .entries;
            show(
                g,
                waiting_table(&list),
                json!(list.iter().map(waiting_json).collect::<Vec<_>>()),
            )
        }
        ReceptionCommand::Checkin(a) => {
            let b = c
                .check_in(req(
                    g,
                    pb::CheckInRequest {
                        booking_id: a.booking,
                    },
                ))
                .await?
                .into_inner();
            show(g, booking_text(&b), booking_json(&b))
        }
        ReceptionCommand::Noshow(a) => {
            let b = c
                .mark_no_show(req(
                    g,
                    pb::MarkNoShowRequest {
                        booking_id: a.booking,
                    },
                ))
                .await?
                .into_inner();
            show(g, booking_text(&b), booking_json(&b))
        }
        ReceptionCommand::Outcome(a) => {
            let b = c
                .record_outcome(req(g, outcome_request(*a)))
                .await?
                .into_inner();
            show(g, booking_text(&b), booking_json(&b))
        }
        ReceptionCommand::Minutes(a) => {
            let m = match a.text {
                Some(text) => c
                    .record_minutes(req(
                        g,
                        pb::RecordMinutesRequest {
                            official_id: a.official,
                            date: a.date,
                            text,
                            attendees: a.attendees,
                        },
                    ))
                    .await?
                    .into_inner(),
                None => c
                    .get_minutes(req(
                        g,
                        pb::GetMinutesRequest {
                            official_id: a.official,
                            date: a.date,
                        },
                    ))
                    .await?
                    .into_inner(),
            };
            show(g, minutes_text(&m), minutes_json(&m))
        }
        ReceptionCommand::Monitor(a) => {
            let m = c
                .monitor(req(
                    g,
                    pb::MonitorRequest {
                        from: a.from.unwrap_or_default(),
                        to: a.to.unwrap_or_default(),
                        body: a.body.unwrap_or_default(),
                        official_id: a.official.unwrap_or_default(),
                    },
                ))
                .await?
                .into_inner();
            show(g, monitor_text(&m), monitor_json(&m))
        }
        ReceptionCommand::Notifications(a) => {
            let list = c
                .list_notifications(req(
                    g,
                    pb::ListNotificationsRequest {
                        booking_id: a.booking.unwrap_or_default(),
                        limit: a.limit,
                    },
                ))
                .await?
                .into_inner()
                .notifications;
            let rows = list
                .iter()
                .map(|n| {
                    vec![
                        format_local(n.created_at.as_ref()),
                        n.kind.clone(),
                        n.booking_id.clone(),
                        n.phone.clone(),
                        n.text.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            let json = json!(list
                .iter()
                .map(|n| json!({"id": n.id, "booking_id": n.booking_id, "kind": n.kind, "phone": n.phone, "text": n.text,
                    "due_at": format_local(n.due_at.as_ref()), "created_at": format_local(n.created_at.as_ref())}))
                .collect::<Vec<_>>());
            show(
                g,
                output::table(&["CREATED", "KIND", "BOOKING", "PHONE", "TEXT"], &rows),
                json,
            )
        }
    }
}

pub fn outcome_request(a: OutcomeArgs) -> pb::RecordOutcomeRequest {
    let (outcome, appeal, instruction) = match a.outcome {
        OutcomeKind::Explained => ("explained", None, None),
        OutcomeKind::Appeal => (
            "appeal_registered",
            Some(pb::AppealDetails {
                kind: a.appeal_kind,
                subject: a.subject.unwrap_or_default(),
                text: a.text.unwrap_or_default(),
                district: a.district.unwrap_or_default(),
                language: String::new(),
                address: a.address.unwrap_or_default(),
            }),
            None,
        ),
        OutcomeKind::Instruction => (
            "instruction_given",
            None,
            Some(pb::InstructionDetails {
                text: a.text.unwrap_or_default(),
                executors: a.executors,
                due_date: a.due.unwrap_or_default(),
                appeal_ids: a.appeal_ids,
            }),
        ),
    };
    pb::RecordOutcomeRequest {
        booking_id: a.booking,
        outcome: outcome.into(),
        note: a.note.unwrap_or_default(),
        appeal,
        instruction,
    }
}

fn req<T>(g: &Global, message: T) -> tonic::Request<T> {
    client::request(message, g)
}

fn show(g: &Global, text: String, json: Value) -> Result<()> {
    match g.output {
        OutputFormat::Text => output::print(&text),
        OutputFormat::Json => output::print_json(&json),
    }
}

// ---------------------------------------------------------------- rendering

fn venue_text(v: Option<&pb::Venue>) -> String {
    let Some(v) = v else { return String::new() };
    [
        v.room.as_str(),
        v.place.as_str(),
        v.district.as_str(),
        v.link.as_str(),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}

fn venue_json(v: Option<&pb::Venue>) -> Value {
    let v = v.cloned().unwrap_or_default();
    json!({"room": v.room, "link": v.link, "place": v.place, "district": v.district})
}

fn official_json(o: &pb::Official) -> Value {
    json!({"id": o.id, "full_name": o.full_name, "position": o.position, "kind": o.kind, "body": o.body,
        "district": o.district, "topics": o.topics, "supervisor_id": o.supervisor_id, "active": o.active})
}

pub fn officials_table(list: &[pb::Official]) -> String {
    let rows = list
        .iter()
        .map(|o| {
            vec![
                o.id.clone(),
                o.full_name.clone(),
                output::truncate(&o.position, 50),
                o.body.clone(),
                output::truncate(&o.topics.join(","), 60),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["ID", "NAME", "POSITION", "BODY", "TOPICS"], &rows)
}

fn schedule_text(official: &str, s: &pb::Schedule) -> String {
    let mut out = format!(
        "Schedule of {official} (published {} days ahead)\n",
        s.publish_days_ahead
    );
    const DAYS: [&str; 8] = ["?", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let rows = s
        .weekly
        .iter()
        .map(|w| {
            vec![
                DAYS.get(w.weekday as usize)
                    .copied()
                    .unwrap_or("?")
                    .to_owned(),
                format!("{}-{}", w.start, w.end),
                format!("{} min", w.slot_minutes),
                format!("{}/{}", w.format, w.kind),
                venue_text(w.venue.as_ref()),
            ]
        })
        .collect::<Vec<_>>();
    out.push_str(&output::table(
        &["DAY", "HOURS", "SLOT", "FORMAT", "VENUE"],
        &rows,
    ));
    if !s.sessions.is_empty() {
        out.push_str("\nSessions\n");
        let rows = s
            .sessions
            .iter()
            .map(|x| {
                vec![
                    x.id.clone(),
                    x.date.clone(),
                    format!("{}-{}", x.start, x.end),
                    format!("{}/{}", x.format, x.kind),
                    venue_text(x.venue.as_ref()),
                    x.travelling_officials.join(","),
                ]
            })
            .collect::<Vec<_>>();
        out.push_str(&output::table(
            &["ID", "DATE", "HOURS", "FORMAT", "VENUE", "TRAVELLING"],
            &rows,
        ));
    }
    if !s.leaves.is_empty() {
        out.push_str("\nLeave\n");
        let rows = s
            .leaves
            .iter()
            .map(|l| vec![l.id.clone(), l.from.clone(), l.to.clone(), l.reason.clone()])
            .collect::<Vec<_>>();
        out.push_str(&output::table(&["ID", "FROM", "TO", "REASON"], &rows));
    }
    out
}

fn schedule_json(s: &pb::Schedule) -> Value {
    json!({
        "official_id": s.official_id,
        "publish_days_ahead": s.publish_days_ahead,
        "weekly": s.weekly.iter().map(|w| json!({"weekday": w.weekday, "start": w.start, "end": w.end,
            "slot_minutes": w.slot_minutes, "format": w.format, "kind": w.kind, "venue": venue_json(w.venue.as_ref())})).collect::<Vec<_>>(),
        "sessions": s.sessions.iter().map(|x| json!({"id": x.id, "date": x.date, "start": x.start, "end": x.end,
            "slot_minutes": x.slot_minutes, "format": x.format, "kind": x.kind, "venue": venue_json(x.venue.as_ref()),
            "travelling_officials": x.travelling_officials, "note": x.note})).collect::<Vec<_>>(),
        "leaves": s.leaves.iter().map(|l| json!({"id": l.id, "from": l.from, "to": l.to, "reason": l.reason})).collect::<Vec<_>>(),
    })
}

pub fn slots_table(slots: &[pb::Slot]) -> String {
    if slots.is_empty() {
        return "No slots in that window (days off, leave, or not yet published).\n".into();
    }
    let rows = slots
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                format_local(s.starts_at.as_ref()),
                format!("{} min", s.minutes),
                format!("{}/{}", s.format, s.kind),
                if s.free {
                    "free".into()
                } else {
                    "taken".into()
                },
                venue_text(s.venue.as_ref()),
            ]
        })
        .collect::<Vec<_>>();
    output::table(
        &["SLOT", "STARTS", "LENGTH", "FORMAT", "STATE", "VENUE"],
        &rows,
    )
}

fn slot_json(s: &pb::Slot) -> Value {
    json!({"id": s.id, "official_id": s.official_id, "starts_at": format_local(s.starts_at.as_ref()),
        "minutes": s.minutes, "format": s.format, "kind": s.kind, "free": s.free,
        "venue": venue_json(s.venue.as_ref()), "session_id": s.session_id})
}

pub fn screening_text(p: &pb::PreScreening) -> String {
    let mut out = String::new();
    if !p.within_topics {
        let names = p
            .suggested_officials
            .iter()
            .map(|o| format!("{} ({})", o.id, o.position))
            .collect::<Vec<_>>();
        out.push_str(&format!(
            "Outside the official's topics; suggested: {}\n",
            names.join("; ")
        ));
    }
    if !p.suggested_participants.is_empty() {
        let names = p
            .suggested_participants
            .iter()
            .map(|o| format!("{} ({})", o.id, o.position))
            .collect::<Vec<_>>();
        out.push_str(&format!("Should take part: {}\n", names.join("; ")));
    }
    if let Some(e) = &p.earlier_appeal {
        out.push_str(&format!(
            "Earlier appeal: {} {}\n",
            e.registration_number, e.status
        ));
    }
    for n in &p.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    out
}

fn screening_json(p: &pb::PreScreening) -> Value {
    json!({
        "within_topics": p.within_topics,
        "suggested_officials": p.suggested_officials.iter().map(official_json).collect::<Vec<_>>(),
        "suggested_participants": p.suggested_participants.iter().map(official_json).collect::<Vec<_>>(),
        "earlier_appeal": p.earlier_appeal.as_ref().map(|e| json!({"appeal_id": e.appeal_id,
            "registration_number": e.registration_number, "status": e.status, "subject": e.subject, "note": e.note})),
        "notes": p.notes,
    })
}

pub fn booking_text(b: &pb::Booking) -> String {
    let v = b.visitor.clone().unwrap_or_default();
    let mut out = format!(
        "Booking   {}\nStatus    {}\nOfficial  {}\nWhen      {} ({} min, {}/{})\nWhere     {}\nVisitor   {} {}\nIssue     {}\n",
        b.id,
        b.status,
        b.official_id,
        format_local(b.starts_at.as_ref()),
        b.minutes,
        b.format,
        b.kind,
        venue_text(b.venue.as_ref()),
        v.full_name,
        v.phone,
        output::truncate(&b.issue, 200),
    );
    if !b.participants.is_empty() {
        out.push_str(&format!("With      {}\n", b.participants.join(", ")));
    }
    for o in &b.outcomes {
        let what = [o.registration_number.as_str(), o.instruction_id.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!("Outcome   {} {} {}\n", o.kind, what, o.note));
    }
    out
}

fn booking_json(b: &pb::Booking) -> Value {
    let v = b.visitor.clone().unwrap_or_default();
    json!({
        "id": b.id, "slot_id": b.slot_id, "status": b.status, "official_id": b.official_id,
        "starts_at": format_local(b.starts_at.as_ref()), "minutes": b.minutes, "format": b.format, "kind": b.kind,
        "venue": venue_json(b.venue.as_ref()),
        "visitor": {"full_name": v.full_name, "iin": v.iin, "phone": v.phone, "organisation": v.organisation},
        "issue": b.issue, "category": b.category, "earlier_appeal": b.earlier_appeal, "participants": b.participants,
        "language": b.language, "district": b.district,
        "outcomes": b.outcomes.iter().map(|o| json!({"kind": o.kind, "note": o.note, "appeal_id": o.appeal_id,
            "registration_number": o.registration_number, "instruction_id": o.instruction_id,
            "recorded_at": format_local(o.recorded_at.as_ref()), "recorded_by": o.recorded_by})).collect::<Vec<_>>(),
        "cancel_reason": b.cancel_reason, "waiting_list_entry_id": b.waiting_list_entry_id, "session_id": b.session_id,
    })
}

fn bookings_table(list: &[pb::Booking]) -> String {
    let rows = list
        .iter()
        .map(|b| {
            vec![
                format_local(b.starts_at.as_ref()),
                b.status.clone(),
                b.visitor
                    .as_ref()
                    .map(|v| v.full_name.clone())
                    .unwrap_or_default(),
                output::truncate(&b.issue, 40),
                b.id.clone(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["STARTS", "STATUS", "VISITOR", "ISSUE", "BOOKING"], &rows)
}

fn waiting_json(w: &pb::WaitingListEntry) -> Value {
    json!({"id": w.id, "official_id": w.official_id, "from": w.from, "to": w.to, "status": w.status,
        "booking_id": w.booking_id, "position": w.position, "joined_at": format_local(w.joined_at.as_ref())})
}

fn waiting_table(list: &[pb::WaitingListEntry]) -> String {
    let rows = list
        .iter()
        .map(|w| {
            vec![
                if w.position == 0 {
                    "-".into()
                } else {
                    w.position.to_string()
                },
                w.status.clone(),
                format!("{} .. {}", w.from, w.to),
                w.booking_id.clone(),
                w.id.clone(),
            ]
        })
        .collect::<Vec<_>>();
    output::table(&["#", "STATUS", "DAYS", "BOOKING", "ENTRY"], &rows)
}

fn minutes_text(m: &pb::Minutes) -> String {
    format!(
        "Minutes of {} on {} (visitors {}, held {}, no-shows {})\nAttendees: {}\nRecorded by {} at {}\n\n{}\n",
        m.official_id,
        m.date,
        m.visitors,
        m.held,
        m.no_shows,
        m.attendees.join(", "),
        m.recorded_by,
        format_local(m.recorded_at.as_ref()),
        m.text
    )
}

fn minutes_json(m: &pb::Minutes) -> Value {
    json!({"official_id": m.official_id, "date": m.date, "text": m.text, "attendees": m.attendees,
        "recorded_by": m.recorded_by, "recorded_at": format_local(m.recorded_at.as_ref()),
        "visitors": m.visitors, "held": m.held, "no_shows": m.no_shows})
}

fn stats_cells(s: &pb::ReceptionStats) -> Vec<String> {
    vec![
        s.scheduled.to_string(),
        s.held.to_string(),
        s.no_shows.to_string(),
        s.cancelled.to_string(),
        s.pending.to_string(),
        s.free_slots.to_string(),
        if s.days_to_next_free_slot < 0 {
            "none".into()
        } else {
            format!("{} d", s.days_to_next_free_slot)
        },
    ]
}

pub fn monitor_text(m: &pb::MonitorResponse) -> String {
    let headers = [
        "SCHEDULED",
        "HELD",
        "NO-SHOW",
        "CANCELLED",
        "PENDING",
        "FREE",
        "NEXT FREE",
    ];
    let mut out = format!("Receptions {} .. {}\n\nBy official\n", m.from, m.to);
    let rows = m
        .officials
        .iter()
        .map(|o| {
            let mut row = vec![o.official_id.clone(), o.body.clone()];
            row.extend(stats_cells(&o.stats.unwrap_or_default()));
            row
        })
        .collect::<Vec<_>>();
    let mut h = vec!["OFFICIAL", "BODY"];
    h.extend(headers);
    out.push_str(&output::table(&h, &rows));
    out.push_str("\nBy body\n");
    let rows = m
        .bodies
        .iter()
        .map(|b| {
            let mut row = vec![b.body.clone()];
            row.extend(stats_cells(&b.stats.unwrap_or_default()));
            row
        })
        .collect::<Vec<_>>();
    let mut h = vec!["BODY"];
    h.extend(headers);
    out.push_str(&output::table(&h, &rows));
    out
}

fn stats_json(s: &pb::ReceptionStats) -> Value {
    json!({"scheduled": s.scheduled, "held": s.held, "no_shows": s.no_shows, "cancelled": s.cancelled,
        "pending": s.pending, "free_slots": s.free_slots, "days_to_next_free_slot": s.days_to_next_free_slot,
        "next_free_slot": format_local(s.next_free_slot.as_ref())})
}

fn monitor_json(m: &pb::MonitorResponse) -> Value {
    json!({
        "from": m.from, "to": m.to,
        "officials": m.officials.iter().map(|o| json!({"official_id": o.official_id, "full_name": o.full_name,
            "body": o.body, "stats": stats_json(&o.stats.unwrap_or_default())})).collect::<Vec<_>>(),
        "bodies": m.bodies.iter().map(|b| json!({"body": b.body, "stats": stats_json(&b.stats.unwrap_or_default())})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: ReceptionCommand,
    }

    #[test]
    fn hours_are_parsed_with_format_and_kind() {
        let venue = pb::Venue {
            room: "101".into(),
            ..Default::default()
        };
        let h = parse_hours("2 10:00-13:00 20 in_person", &venue).unwrap();
        assert_eq!(
            (h.weekday, h.start.as_str(), h.end.as_str(), h.slot_minutes),
            (2, "10:00", "13:00", 20)
        );
        assert_eq!(
            (h.format.as_str(), h.kind.as_str()),
            ("in_person", "personal")
        );
        let h = parse_hours("4 15:00-17:00 30 in_person/meeting", &venue).unwrap();
        assert_eq!(h.kind, "meeting");
        assert!(parse_hours("Tuesday mornings", &venue).is_err());
    }

    #[test]
    fn an_appeal_outcome_maps_to_the_request() {
        let T { cmd } = T::try_parse_from([
            "t",
            "outcome",
            "0190f0e0-0000-7000-8000-000000000001",
            "appeal",
            "--appeal-kind",
            "complaint",
            "--subject",
            "Beds",
            "--address",
            "Talgar, Abai 1",
        ])
        .unwrap();
        let ReceptionCommand::Outcome(a) = cmd else {
            unreachable!()
        };
        let req = outcome_request(*a);
        assert_eq!(req.outcome, "appeal_registered");
        let appeal = req.appeal.unwrap();
        assert_eq!(
            (appeal.kind.as_str(), appeal.subject.as_str()),
            ("complaint", "Beds")
        );
        assert!(req.instruction.is_none());
    }

    #[test]
    fn an_instruction_outcome_takes_executors_in_order() {
        let T { cmd } = T::try_parse_from([
            "t",
            "outcome",
            "b",
            "instruction",
            "--text",
            "Open beds",
            "--executor",
            "dept.health",
            "--executor",
            "akimat.talgar",
            "--due",
            "2026-12-30",
        ])
        .unwrap();
        let ReceptionCommand::Outcome(a) = cmd else {
            unreachable!()
        };
        let i = outcome_request(*a).instruction.unwrap();
        assert_eq!(i.executors, ["dept.health", "akimat.talgar"]);
        assert_eq!(i.due_date, "2026-12-30");
    }

    #[test]
    fn monitor_renders_officials_and_bodies() {
        let stats = pb::ReceptionStats {
            scheduled: 3,
            held: 2,
            no_shows: 1,
            days_to_next_free_slot: -1,
            ..Default::default()
        };
        let m = pb::MonitorResponse {
            officials: vec![pb::OfficialStats {
                official_id: "akim.talgar".into(),
                full_name: "X".into(),
                body: "akimat.talgar".into(),
                stats: Some(stats),
            }],
            bodies: vec![pb::BodyStats {
                body: "akimat.talgar".into(),
                stats: Some(stats),
            }],
            from: "2026-11-01".into(),
            to: "2026-11-30".into(),
        };
        let text = monitor_text(&m);
        assert!(text.contains("akim.talgar"));
        assert!(text.contains("none"));
        assert_eq!(monitor_json(&m)["bodies"][0]["stats"]["held"], 2);
    }
}
