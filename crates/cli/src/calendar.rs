//! `bakylau calendar …`: Kazakhstan's working-day calendar as control stores it: show a
//! year, add or remove holidays and decreed transfers (every edit is logged), compute a
//! deadline.

use anyhow::Result;
use bakylau_proto::control::v1 as pb;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::Global;
use crate::client;
use crate::control;
use crate::output::{self, OutputFormat};

#[derive(Subcommand, Debug)]
pub enum CalendarCommand {
    /// Show a year's holidays, moved days off and transfers
    Show(ShowArgs),
    /// Add (or correct) a public holiday
    AddHoliday(AddHolidayArgs),
    /// Remove a public holiday
    RemoveHoliday(RemoveArgs),
    /// Add a decreed transfer: a weekday off, a Saturday or Sunday worked instead
    AddTransfer(AddTransferArgs),
    /// Remove a decreed transfer (by its day off)
    RemoveTransfer(RemoveArgs),
    /// The deadline N working days after a date
    Deadline(DeadlineArgs),
    /// Who changed the calendar or the policy, when and why
    Changes(ChangesArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Year [default: this year]
    pub year: Option<i32>,
}

#[derive(Args, Debug)]
pub struct AddHolidayArgs {
    /// Date, YYYY-MM-DD
    pub date: String,
    /// Name in Kazakh
    #[arg(long)]
    pub kk: String,
    /// Name in Russian
    #[arg(long)]
    pub ru: String,
    /// Name in English
    #[arg(long)]
    pub en: String,
    /// A religious holiday: its day off never moves off a weekend
    #[arg(long)]
    pub religious: bool,
    /// The date is announced but not final
    #[arg(long)]
    pub provisional: bool,
    /// Why (the act that set it)
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Date, YYYY-MM-DD
    pub date: String,
    /// Why
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct AddTransferArgs {
    /// The weekday made a day off, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub day_off: String,
    /// The Saturday or Sunday worked instead, YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub working_day: String,
    /// The decree, as a citation
    #[arg(long)]
    pub decree: String,
    /// Why
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct DeadlineArgs {
    /// Start date (e.g. registration), YYYY-MM-DD
    pub from: String,
    /// Working days
    #[arg(long, default_value_t = 15)]
    pub days: u32,
    /// Also count the working days up to this date
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

#[derive(Args, Debug)]
pub struct ChangesArgs {
    /// How many, newest first
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

pub async fn run(cmd: CalendarCommand, g: &Global) -> Result<()> {
    let mut c = control::connect(g).await?;
    let year = match cmd {
        CalendarCommand::Show(a) => {
            c.get_calendar(client::request(
                pb::GetCalendarRequest {
                    year: a.year.unwrap_or(0),
                },
                g,
            ))
            .await?
        }
        CalendarCommand::AddHoliday(a) => {
            c.add_holiday(client::request(
                pb::AddHolidayRequest {
                    holiday: Some(pb::Holiday {
                        date: a.date,
                        name_kk: a.kk,
                        name_ru: a.ru,
                        name_en: a.en,
                        religious: a.religious,
                        provisional: a.provisional,
                        note: String::new(),
                    }),
                    reason: a.reason,
                },
                g,
            ))
            .await?
        }
        CalendarCommand::RemoveHoliday(a) => {
            c.remove_holiday(client::request(
                pb::RemoveHolidayRequest {
                    date: a.date,
                    reason: a.reason,
                },
                g,
            ))
            .await?
        }
        CalendarCommand::AddTransfer(a) => {
            c.add_transfer(client::request(
                pb::AddTransferRequest {
                    transfer: Some(pb::Transfer {
                        day_off: a.day_off,
                        working_day: a.working_day,
                        decree: a.decree,
                    }),
                    reason: a.reason,
                },
                g,
            ))
            .await?
        }
        CalendarCommand::RemoveTransfer(a) => {
            c.remove_transfer(client::request(
                pb::RemoveTransferRequest {
                    day_off: a.date,
                    reason: a.reason,
                },
                g,
            ))
            .await?
        }
        CalendarCommand::Deadline(a) => {
            let r = c
                .compute_deadline(client::request(
                    pb::ComputeDeadlineRequest {
                        from: a.from.clone(),
                        working_days: a.days,
                        to: a.until.clone().unwrap_or_default(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            return match g.output {
                OutputFormat::Text => {
                    let mut s = format!("{} working days after {}: {}\n", a.days, a.from, r.deadline);
                    if let Some(u) = a.until {
                        s.push_str(&format!(
                            "Working days from {} to {u}: {}\n",
                            a.from, r.working_days_between
                        ));
                    }
                    output::print(&s)
                }
                OutputFormat::Json => output::print_json(&json!({
                    "from": a.from, "working_days": a.days, "deadline": r.deadline,
                    "working_days_between": a.until.map(|_| r.working_days_between),
                })),
            };
        }
        CalendarCommand::Changes(a) => {
            let r = c
                .list_calendar_changes(client::request(
                    pb::ListCalendarChangesRequest { limit: a.limit },
                    g,
                ))
                .await?
                .into_inner();
            return match g.output {
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = r
                        .changes
                        .iter()
                        .map(|x| {
                            vec![
                                control::ts(&x.at),
                                x.actor.clone(),
                                x.action.clone(),
                                output::truncate(&x.detail, 60),
                                x.reason.clone(),
                            ]
                        })
                        .collect();
                    output::print(&output::table(&["WHEN", "WHO", "WHAT", "DETAIL", "WHY"], &rows))
                }
                OutputFormat::Json => output::print_json(&json!({
                    "changes": r.changes.iter().map(|x| json!({
                        "at": x.at.as_ref().and_then(crate::localtime::rfc3339_local),
                        "actor": x.actor, "action": x.action, "detail": x.detail, "reason": x.reason,
                    })).collect::<Vec<_>>(),
                })),
            };
        }
    }
    .into_inner();
    match g.output {
        OutputFormat::Text => output::print(&year_text(&year)),
        OutputFormat::Json => output::print_json(&json!({
            "year": year.year,
            "covered": year.covered,
            "working_days": year.working_days,
            "holidays": year.holidays.iter().map(|h| json!({
                "date": h.date, "kk": h.name_kk, "ru": h.name_ru, "en": h.name_en,
                "religious": h.religious, "provisional": h.provisional,
            })).collect::<Vec<_>>(),
            "transfers": year.transfers.iter().map(|t| json!({
                "day_off": t.day_off, "working_day": t.working_day, "decree": t.decree,
            })).collect::<Vec<_>>(),
            "special_days": year.special_days.iter().map(|d| json!({
                "date": d.date, "kind": d.kind, "working": d.working, "description": d.description,
            })).collect::<Vec<_>>(),
        })),
    }
}

pub fn year_text(y: &pb::CalendarYear) -> String {
    if !y.covered {
        return format!(
            "{} is not in the calendar (covered: {:?}); deadlines there cannot be computed.\n",
            y.year, y.covered_years
        );
    }
    let rows: Vec<Vec<String>> = y
        .special_days
        .iter()
        .map(|d| {
            vec![
                d.date.clone(),
                if d.working { "working" } else { "day off" }.into(),
                d.kind.replace('_', " "),
                d.description.clone(),
            ]
        })
        .collect();
    format!(
        "Working-day calendar {}: {} working days\n{}",
        y.year,
        y.working_days,
        output::table(&["DATE", "DAY", "KIND", "WHAT"], &rows)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncovered_year_says_so() {
        let t = year_text(&pb::CalendarYear {
            year: 2031,
            covered: false,
            covered_years: vec![2025, 2026],
            ..Default::default()
        });
        assert!(t.contains("not in the calendar"));
    }

    #[test]
    fn special_days_are_listed() {
        let t = year_text(&pb::CalendarYear {
            year: 2026,
            covered: true,
            working_days: 247,
            special_days: vec![pb::SpecialDay {
                date: "2026-03-23".into(),
                kind: "holiday".into(),
                working: false,
                description: "Nauryz".into(),
            }],
            ..Default::default()
        });
        assert!(t.contains("247 working days"));
        assert!(t.contains("2026-03-23"));
        assert!(t.contains("day off"));
    }
}
