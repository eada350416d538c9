//! `bakylau routing …`: where appeals went (reg 5.2), the registrar's manual-routing queue,
//! re-routing with a reason, the text classifier, routing rules and the audit log of
//! reference edits.

use anyhow::Result;
use bakylau_proto::routing::v1 as pb;
use bakylau_proto::routing::v1::routing_service_client::RoutingServiceClient;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::Global;
use crate::client;
use crate::localtime::format_local;
use crate::output::{self, OutputFormat, table, truncate};

pub type Routing = RoutingServiceClient<client::Authed>;

pub async fn connect(g: &Global) -> Result<Routing> {
    Ok(RoutingServiceClient::new(
        client::channel("routing", &g.routing).await?,
    ))
}

#[derive(Subcommand, Debug)]
pub enum RoutingCommand {
    /// Show an appeal's routing decision with its history and near-duplicates
    Show(ShowArgs),
    /// Re-route an appeal by hand, with a reason (keeps the earlier decisions)
    Reroute(RerouteArgs),
    /// List appeals waiting for manual routing (and, on request, flagged duplicates)
    Queue(QueueArgs),
    /// Ask the classifier which category a text belongs to
    Classify(ClassifyArgs),
    /// List the routing rules in the order they are tried
    Rules(RulesArgs),
    /// Switch a routing rule on or off
    Rule(RuleArgs),
    /// Show the audit log of reference-data edits, newest first
    Changes(ChangesArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Appeal id or registration number (ALM-2026-000123)
    pub appeal: String,
}

#[derive(Args, Debug)]
pub struct RerouteArgs {
    /// Appeal id or registration number
    pub appeal: String,
    /// Taxonomy code, e.g. land.plot_allocation (an excluded.* code redirects the appeal)
    #[arg(long)]
    pub category: String,
    /// Body code of the lead executor (for excluded.* defaults to the category's body)
    #[arg(long)]
    pub lead: Option<String>,
    /// Body code of a co-executor (repeat for several)
    #[arg(long = "co", value_name = "BODY")]
    pub co_executors: Vec<String>,
    /// Why the appeal is re-routed (kept in its history)
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct QueueArgs {
    /// Also list routed appeals flagged as near-duplicates
    #[arg(long)]
    pub duplicates: bool,
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

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// Text of the appeal (Kazakh or Russian)
    #[arg(long)]
    pub text: String,
}

#[derive(Args, Debug)]
pub struct RulesArgs {
    /// Include switched-off rules
    #[arg(long)]
    pub include_inactive: bool,
}

#[derive(Args, Debug)]
pub struct RuleArgs {
    /// Rule id, e.g. excluded_criminal
    pub id: String,
    /// Switch the rule on (default: off)
    #[arg(long)]
    pub on: bool,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct ChangesArgs {
    /// Only this kind of entity: category, body or rule
    #[arg(long)]
    pub entity: Option<String>,
    /// Only this code or rule id
    #[arg(long)]
    pub code: Option<String>,
    /// How many changes (1-1000)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
}

pub async fn run(cmd: RoutingCommand, g: &Global) -> Result<()> {
    let mut c = connect(g).await?;
    match cmd {
        RoutingCommand::Show(a) => {
            let d = c.get_routing(get_request(&a.appeal)).await?.into_inner();
            print_decision(g, &d)
        }
        RoutingCommand::Reroute(a) => {
            let d = c
                .reroute(client::request(reroute_request(&a), g))
                .await?
                .into_inner();
            print_decision(g, &d)
        }
        RoutingCommand::Queue(a) => queue(&mut c, a, g).await,
        RoutingCommand::Classify(a) => {
            let r = c
                .classify(pb::ClassifyRequest { text: a.text })
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => output::print_json(&json!({
                    "category": r.category, "confidence": r.confidence, "model": r.model,
                    "above_threshold": r.above_threshold, "threshold": r.threshold,
                    "candidates": r.candidates.iter().map(|c| json!({"category": c.category, "probability": c.probability})).collect::<Vec<_>>(),
                })),
                OutputFormat::Text => {
                    let mut text = format!(
                        "Category     {}\nConfidence   {:.2} ({} the threshold {:.2}: {})\nModel        {}\n\n",
                        r.category,
                        r.confidence,
                        if r.above_threshold {
                            "at or above"
                        } else {
                            "below"
                        },
                        r.threshold,
                        if r.above_threshold {
                            "routed automatically"
                        } else {
                            "a registrar routes it"
                        },
                        r.model
                    );
                    let rows: Vec<Vec<String>> = r
                        .candidates
                        .iter()
                        .map(|c| vec![c.category.clone(), format!("{:.3}", c.probability)])
                        .collect();
                    text.push_str(&table(&["CANDIDATE", "PROBABILITY"], &rows));
                    output::print(&text)
                }
            }
        }
        RoutingCommand::Rules(a) => {
            let rules = c
                .list_rules(pb::ListRulesRequest {
                    include_inactive: a.include_inactive,
                })
                .await?
                .into_inner()
                .rules;
            match g.output {
                OutputFormat::Json => {
                    output::print_json(&Value::Array(rules.iter().map(rule_json).collect()))
                }
                OutputFormat::Text => {
                    let any = |v: &[String]| {
                        if v.is_empty() {
                            "any".to_owned()
                        } else {
                            v.join(",")
                        }
                    };
                    let rows: Vec<Vec<String>> = rules
                        .iter()
                        .map(|r| {
                            vec![
                                r.priority.to_string(),
                                r.id.clone(),
                                r.category.clone(),
                                truncate(&any(&r.territory), 24),
                                truncate(&any(&r.kinds), 24),
                                any(&r.applicant_types),
                                format!("{} {}", r.action, r.lead),
                                r.co_executors.join(","),
                                if r.active {
                                    String::new()
                                } else {
                                    "off".into()
                                },
                            ]
                        })
                        .collect();
                    output::print(&table(
                        &[
                            "PRIO",
                            "ID",
                            "CATEGORY",
                            "TERRITORY",
                            "KINDS",
                            "APPLICANT",
                            "ACTION",
                            "CO-EXECUTORS",
                            "",
                        ],
                        &rows,
                    ))
                }
            }
        }
        RoutingCommand::Rule(a) => {
            let r = c
                .set_rule_active(client::request(
                    pb::SetActiveRequest {
                        code: a.id,
                        active: a.on,
                        reason: a.reason,
                    },
                    g,
                ))
                .await?
                .into_inner();
            match g.output {
                OutputFormat::Json => output::print_json(&rule_json(&r)),
                OutputFormat::Text => output::print(&format!(
                    "Rule {} is now {} (by {}).",
                    r.id,
                    if r.active { "on" } else { "off" },
                    r.updated_by
                )),
            }
        }
        RoutingCommand::Changes(a) => {
            let changes = c
                .list_changes(pb::ListChangesRequest {
                    entity: a.entity.unwrap_or_default(),
                    code: a.code.unwrap_or_default(),
                    limit: a.limit,
                })
                .await?
                .into_inner()
                .changes;
            match g.output {
                OutputFormat::Json => output::print_json(&Value::Array(
                    changes
                        .iter()
                        .map(|ch| {
                            json!({
                                "id": ch.id, "entity": ch.entity, "code": ch.code, "action": ch.action,
                                "actor": ch.actor, "reason": ch.reason, "at": format_local(ch.at.as_ref()),
                                "before": serde_json::from_str::<Value>(&ch.before_json).unwrap_or(Value::Null),
                                "after": serde_json::from_str::<Value>(&ch.after_json).unwrap_or(Value::Null),
                            })
                        })
                        .collect(),
                )),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = changes
                        .iter()
                        .map(|ch| {
                            vec![
                                format_local(ch.at.as_ref()),
                                ch.entity.clone(),
                                ch.code.clone(),
                                ch.action.clone(),
                                ch.actor.clone(),
                                truncate(&ch.reason, 50),
                            ]
                        })
                        .collect();
                    output::print(&table(&["WHEN", "ENTITY", "CODE", "ACTION", "BY", "REASON"], &rows))
                }
            }
        }
    }
}

/// An appeal is named by its UUID or its registration number.
pub fn get_request(appeal: &str) -> pb::GetRoutingRequest {
    let appeal = appeal.trim();
    if uuid::Uuid::parse_str(appeal).is_ok() {
        pb::GetRoutingRequest {
            appeal_id: appeal.to_owned(),
            registration_number: String::new(),
        }
    } else {
        pb::GetRoutingRequest {
            appeal_id: String::new(),
            registration_number: appeal.to_owned(),
        }
    }
}

pub fn reroute_request(a: &RerouteArgs) -> pb::RerouteRequest {
    let key = get_request(&a.appeal);
    pb::RerouteRequest {
        appeal_id: key.appeal_id,
        registration_number: key.registration_number,
        category: a.category.clone(),
        lead_executor: a.lead.clone().unwrap_or_default(),
        co_executors: a.co_executors.clone(),
        reason: a.reason.clone(),
    }
}

async fn queue(c: &mut Routing, a: QueueArgs, g: &Global) -> Result<()> {
    let mut waiting = 0;
    let (items, next) = output::collect_pages(
        a.page_token.clone().unwrap_or_default(),
        a.all,
        async |token| {
            let page = c
                .list_manual_queue(pb::ListManualQueueRequest {
                    page_size: a.limit,
                    page_token: token,
                    include_duplicates: a.duplicates,
                })
                .await?
                .into_inner();
            waiting = page.waiting;
            Ok((page.items, page.next_page_token))
        },
    )
    .await?;
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|d| {
            vec![
                d.registration_number.clone(),
                format_local(d.registered_at.as_ref()),
                d.district.clone(),
                d.kind.clone(),
                if d.outcome == "needs_manual_routing" {
                    format!("{} ({:.2})", d.suggested_category, d.confidence)
                } else {
                    format!("{} -> {}", d.category, d.lead_executor)
                },
                if d.outcome == "needs_manual_routing" {
                    d.reason.clone()
                } else {
                    "routed; flagged duplicate".into()
                },
                d.duplicates
                    .iter()
                    .map(|l| l.registration_number.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        })
        .collect();
    let mut text = format!("{waiting} appeal(s) waiting for manual routing.\n\n");
    text.push_str(&table(
        &[
            "NUMBER",
            "REGISTERED",
            "DISTRICT",
            "KIND",
            "SUGGESTED / ROUTED",
            "WHY",
            "DUPLICATE OF",
        ],
        &rows,
    ));
    output::print_page(
        g.output,
        text,
        || json!({"waiting": waiting, "items": items.iter().map(decision_json).collect::<Vec<_>>(), "next_page_token": next}),
        &next,
    )
}

fn print_decision(g: &Global, d: &pb::RoutingDecision) -> Result<()> {
    match g.output {
        OutputFormat::Json => output::print_json(&decision_json(d)),
        OutputFormat::Text => output::print(&decision_text(d)),
    }
}

pub fn decision_json(d: &pb::RoutingDecision) -> Value {
    let one = |d: &pb::RoutingDecision| {
        json!({
            "sequence": d.sequence, "outcome": d.outcome, "category": d.category,
            "suggested_category": d.suggested_category, "confidence": d.confidence,
            "lead_executor": d.lead_executor, "co_executors": d.co_executors,
            "decided_by": d.decided_by, "decided_by_user": d.decided_by_user,
            "classified_by": d.classified_by, "reason": d.reason,
            "decided_at": format_local(d.decided_at.as_ref()), "notify_by": d.notify_by,
            "legal_basis": d.legal_basis, "explanation_kk": d.explanation_kk,
            "explanation_ru": d.explanation_ru, "event_id": d.event_id,
        })
    };
    let mut v = one(d);
    v["appeal_id"] = json!(d.appeal_id);
    v["registration_number"] = json!(d.registration_number);
    v["district"] = json!(d.district);
    v["kind"] = json!(d.kind);
    v["registered_at"] = json!(format_local(d.registered_at.as_ref()));
    v["duplicates"] = Value::Array(
        d.duplicates
            .iter()
            .map(|l| json!({"appeal_id": l.appeal_id, "registration_number": l.registration_number, "similarity": l.similarity, "basis": l.basis}))
            .collect(),
    );
    v["history"] = Value::Array(d.history.iter().map(one).collect());
    v
}

pub fn decision_text(d: &pb::RoutingDecision) -> String {
    let mut out = format!(
        "Appeal       {}  ({})\nRegistered   {}  district {}  kind {}\nOutcome      {}\n",
        d.registration_number,
        d.appeal_id,
        format_local(d.registered_at.as_ref()),
        if d.district.is_empty() {
            "-"
        } else {
            &d.district
        },
        d.kind,
        d.outcome
    );
    match d.outcome.as_str() {
        "needs_manual_routing" => out.push_str(&format!(
            "Suggested    {} (confidence {:.2})\nWhy          {}\n",
            d.suggested_category, d.confidence, d.reason
        )),
        "redirected" => out.push_str(&format!(
            "Category     {}\nRedirected   to {}\nTell by      {} (APPK art. 65)\nLegal basis  {}\nExplanation  {}\n",
            d.category, d.lead_executor, d.notify_by, d.legal_basis, d.explanation_ru
        )),
        _ => out.push_str(&format!(
            "Category     {} (confidence {:.2})\nLead         {}\nCo-executors {}\n",
            d.category,
            d.confidence,
            d.lead_executor,
            if d.co_executors.is_empty() { "-".into() } else { d.co_executors.join(", ") }
        )),
    }
    out.push_str(&format!(
        "Decided by   {}{}\nDecided at   {}\n",
        if d.decided_by.is_empty() {
            "-"
        } else {
            &d.decided_by
        },
        if d.classified_by.is_empty() {
            String::new()
        } else {
            format!("  (category: {})", d.classified_by)
        },
        format_local(d.decided_at.as_ref())
    ));
    if !d.decided_by_user.is_empty() {
        out.push_str(&format!("Reason       {}\n", d.reason));
    }
    if !d.duplicates.is_empty() {
        out.push_str("\nNear-duplicates (check before answering):\n");
        let rows: Vec<Vec<String>> = d
            .duplicates
            .iter()
            .map(|l| {
                vec![
                    l.registration_number.clone(),
                    format!("{:.2}", l.similarity),
                    l.basis.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["NUMBER", "SIMILARITY", "BASIS"], &rows));
    }
    if !d.history.is_empty() {
        out.push_str("\nEarlier decisions:\n");
        let rows: Vec<Vec<String>> = d
            .history
            .iter()
            .map(|h| {
                vec![
                    h.sequence.to_string(),
                    format_local(h.decided_at.as_ref()),
                    h.outcome.clone(),
                    if h.category.is_empty() {
                        h.suggested_category.clone()
                    } else {
                        h.category.clone()
                    },
                    h.lead_executor.clone(),
                    if h.decided_by.is_empty() {
                        "-".into()
                    } else {
                        h.decided_by.clone()
                    },
                    truncate(&h.reason, 60),
                ]
            })
            .collect();
        out.push_str(&table(
            &["#", "WHEN", "OUTCOME", "CATEGORY", "LEAD", "BY", "REASON"],
            &rows,
        ));
    }
    out
}

pub fn rule_json(r: &pb::Rule) -> Value {
    json!({
        "id": r.id, "priority": r.priority, "description": r.description, "action": r.action,
        "lead": r.lead, "co_executors": r.co_executors, "category": r.category,
        "territory": r.territory, "kinds": r.kinds, "applicant_types": r.applicant_types,
        "active": r.active, "updated_by": r.updated_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: RoutingCommand,
    }

    #[test]
    fn appeal_is_an_id_or_a_registration_number() {
        let id = uuid::Uuid::nil().to_string();
        assert_eq!(get_request(&id).appeal_id, id);
        assert_eq!(
            get_request("ALM-2026-000001").registration_number,
            "ALM-2026-000001"
        );
    }

    #[test]
    fn reroute_maps_to_the_request() {
        let T { cmd } = T::try_parse_from([
            "t",
            "reroute",
            "ALM-2026-000007",
            "--category",
            "land.plot_allocation",
            "--lead",
            "akimat.talgar",
            "--co",
            "dept.land_relations",
            "--reason",
            "land commission of the district",
        ])
        .unwrap();
        let RoutingCommand::Reroute(a) = cmd else {
            panic!()
        };
        let r = reroute_request(&a);
        assert_eq!(r.registration_number, "ALM-2026-000007");
        assert_eq!(r.lead_executor, "akimat.talgar");
        assert_eq!(r.co_executors, ["dept.land_relations"]);
    }

    #[test]
    fn decision_text_shows_history_and_duplicates() {
        let d = pb::RoutingDecision {
            registration_number: "ALM-2026-000007".into(),
            outcome: "routed".into(),
            category: "land.plot_allocation".into(),
            lead_executor: "akimat.talgar".into(),
            decided_by: "registrar:aida".into(),
            decided_by_user: "aida".into(),
            reason: "land commission".into(),
            history: vec![pb::RoutingDecision {
                sequence: 1,
                outcome: "needs_manual_routing".into(),
                suggested_category: "other".into(),
                ..Default::default()
            }],
            duplicates: vec![pb::DuplicateLink {
                registration_number: "ALM-2026-000003".into(),
                similarity: 0.8,
                basis: "same_applicant".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let t = decision_text(&d);
        assert!(
            t.contains("akimat.talgar")
                && t.contains("ALM-2026-000003")
                && t.contains("needs_manual_routing")
        );
        assert_eq!(
            decision_json(&d)["history"][0]["suggested_category"],
            "other"
        );
    }
}
