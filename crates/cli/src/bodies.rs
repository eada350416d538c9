//! `bakylau bodies …`: the directory of bodies routing sends appeals to (reg 5.2): the
//! akim's-office subdivisions, regional departments, district, city and rural akimats and
//! other state bodies, with competence and territory; list, show, add or change, switch
//! off and on. Changes are recorded with the caller's identity.

use anyhow::Result;
use bakylau_proto::routing::v1 as pb;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::Global;
use crate::client;
use crate::edit;
use crate::localtime::format_local;
use crate::output::{self, OutputFormat, table, truncate};
use crate::routing::connect;

#[derive(Subcommand, Debug)]
pub enum BodiesCommand {
    /// List bodies, by kind, district or competence
    List(ListArgs),
    /// Show one body with its competence and territory
    Show(CodeArgs),
    /// List the region's districts and cities with their KATO codes
    Districts,
    /// Add a body or change one (only the options given change)
    Set(Box<SetArgs>),
    /// Switch a body off: rules that lead to it no longer match (appeals go to a registrar)
    Deactivate(ActiveArgs),
    /// Switch a body back on
    Activate(ActiveArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this kind: akim_office_subdivision, regional_department, district_akimat, city_akimat, rural_akimat, other_state_body
    #[arg(long)]
    pub kind: Option<String>,
    /// Only bodies of or serving this district code
    #[arg(long)]
    pub district: Option<String>,
    /// Only bodies competent on this category code
    #[arg(long)]
    pub category: Option<String>,
    /// Include switched-off bodies
    #[arg(long)]
    pub include_inactive: bool,
}

#[derive(Args, Debug)]
pub struct CodeArgs {
    /// Body code, e.g. akimat.talgar
    pub code: String,
}

#[derive(Args, Debug)]
pub struct ActiveArgs {
    /// Body code
    pub code: String,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// Body code, dotted snake_case (akimat.talgar)
    pub code: String,
    /// Kind of body
    #[arg(long)]
    pub kind: Option<String>,
    /// Name in Kazakh
    #[arg(long)]
    pub name_kk: Option<String>,
    /// Name in Russian
    #[arg(long)]
    pub name_ru: Option<String>,
    /// Name in English
    #[arg(long)]
    pub name_en: Option<String>,
    /// Code of the superior body
    #[arg(long)]
    pub parent: Option<String>,
    /// District code (district, city and rural akimats)
    #[arg(long)]
    pub district: Option<String>,
    /// KATO code of the body's territory (9 digits)
    #[arg(long)]
    pub kato: Option<String>,
    /// Category the body answers on (repeat; replaces the list)
    #[arg(long = "competence", value_name = "CATEGORY")]
    pub competence: Vec<String>,
    /// "region" or a district code (repeat; replaces the list)
    #[arg(long = "territory", value_name = "DISTRICT")]
    pub territory: Vec<String>,
    /// Why (kept in the audit log)
    #[arg(long, default_value = "")]
    pub reason: String,
}

pub async fn run(cmd: BodiesCommand, g: &Global) -> Result<()> {
    let mut c = connect(g).await?;
    match cmd {
        BodiesCommand::List(a) => {
            let list = c
                .list_bodies(pb::ListBodiesRequest {
                    kind: a.kind.unwrap_or_default(),
                    district: a.district.unwrap_or_default(),
                    category: a.category.unwrap_or_default(),
                    include_inactive: a.include_inactive,
                })
                .await?
                .into_inner()
                .bodies;
            match g.output {
                OutputFormat::Json => {
                    output::print_json(&Value::Array(list.iter().map(body_json).collect()))
                }
                OutputFormat::Text => output::print(&bodies_table(&list)),
            }
        }
        BodiesCommand::Show(a) => {
            let b = c
                .get_body(pb::GetBodyRequest { code: a.code })
                .await?
                .into_inner();
            print_body(g, &b)
        }
        BodiesCommand::Districts => {
            let list = c
                .list_districts(pb::ListDistrictsRequest {})
                .await?
                .into_inner()
                .districts;
            match g.output {
                OutputFormat::Json => output::print_json(&Value::Array(
                    list.iter()
                        .map(|d| json!({"code": d.code, "kind": d.kind, "kato": d.kato, "name_kk": d.name_kk, "name_ru": d.name_ru, "name_en": d.name_en}))
                        .collect(),
                )),
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|d| vec![d.code.clone(), d.kind.clone(), d.kato.clone(), d.name_kk.clone(), d.name_ru.clone(), d.name_en.clone()])
                        .collect();
                    output::print(&table(&["CODE", "KIND", "KATO", "KK", "RU", "EN"], &rows))
                }
            }
        }
        BodiesCommand::Set(a) => {
            let current = edit::found(
                c.get_body(pb::GetBodyRequest {
                    code: a.code.clone(),
                })
                .await,
            )?;
            let body = merge(current, &a);
            let saved = c
                .upsert_body(client::request(
                    pb::UpsertBodyRequest {
                        body: Some(body),
                        reason: a.reason.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_body(g, &saved)
        }
        BodiesCommand::Deactivate(a) => set_active(&mut c, a, false, g).await,
        BodiesCommand::Activate(a) => set_active(&mut c, a, true, g).await,
    }
}

async fn set_active(
    c: &mut crate::routing::Routing,
    a: ActiveArgs,
    active: bool,
    g: &Global,
) -> Result<()> {
    let b = c
        .set_body_active(client::request(
            pb::SetActiveRequest {
                code: a.code,
                active,
                reason: a.reason,
            },
            g,
        ))
        .await?
        .into_inner();
    print_body(g, &b)
}

/// The body to send: the current one (if any) with the options given applied.
pub fn merge(current: Option<pb::Body>, a: &SetArgs) -> pb::Body {
    let mut b = current.unwrap_or_else(|| pb::Body {
        code: a.code.clone(),
        ..Default::default()
    });
    edit::replace_if_given(&mut b.kind, &a.kind);
    edit::replace_if_given(&mut b.name_kk, &a.name_kk);
    edit::replace_if_given(&mut b.name_ru, &a.name_ru);
    edit::replace_if_given(&mut b.name_en, &a.name_en);
    edit::replace_if_given(&mut b.parent, &a.parent);
    edit::replace_if_given(&mut b.district, &a.district);
    edit::replace_if_given(&mut b.kato, &a.kato);
    edit::replace_list_if_given(&mut b.competence, &a.competence);
    edit::replace_list_if_given(&mut b.territory, &a.territory);
    b
}

fn print_body(g: &Global, b: &pb::Body) -> Result<()> {
    match g.output {
        OutputFormat::Json => output::print_json(&body_json(b)),
        OutputFormat::Text => output::print(&body_text(b)),
    }
}

pub fn bodies_table(list: &[pb::Body]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.code.clone(),
                b.kind.clone(),
                truncate(&b.name_ru, 60),
                truncate(&b.territory.join(","), 20),
                if b.active {
                    String::new()
                } else {
                    "off".into()
                },
            ]
        })
        .collect();
    table(&["CODE", "KIND", "NAME", "TERRITORY", ""], &rows)
}

pub fn body_text(b: &pb::Body) -> String {
    let opt = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    let mut out = format!(
        "Code         {}\nKind         {}\nKazakh       {}\nRussian      {}\nEnglish      {}\nParent       {}\nDistrict     {}\nKATO         {}\nTerritory    {}\nActive       {}\nCompetence   {}\n",
        b.code,
        b.kind,
        b.name_kk,
        b.name_ru,
        b.name_en,
        opt(&b.parent),
        opt(&b.district),
        opt(&b.kato),
        b.territory.join(", "),
        if b.active { "yes" } else { "no" },
        b.competence.join(", ")
    );
    if !b.updated_by.is_empty() {
        out.push_str(&format!(
            "Changed      {} by {}\n",
            format_local(b.updated_at.as_ref()),
            b.updated_by
        ));
    }
    out
}

pub fn body_json(b: &pb::Body) -> Value {
    json!({
        "code": b.code, "kind": b.kind, "name_kk": b.name_kk, "name_ru": b.name_ru,
        "name_en": b.name_en, "parent": b.parent, "district": b.district, "kato": b.kato,
        "unit": b.unit, "competence": b.competence, "territory": b.territory,
        "active": b.active, "updated_by": b.updated_by,
        "updated_at": format_local(b.updated_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: BodiesCommand,
    }

    #[test]
    fn set_builds_a_new_body_from_options() {
        let T { cmd } = T::try_parse_from([
            "t",
            "set",
            "dept.digitalisation",
            "--kind",
            "regional_department",
            "--name-kk",
            "a",
            "--name-ru",
            "b",
            "--name-en",
            "c",
            "--competence",
            "other.state_services",
            "--territory",
            "region",
        ])
        .unwrap();
        let BodiesCommand::Set(a) = cmd else { panic!() };
        let b = merge(None, &a);
        assert_eq!(b.code, "dept.digitalisation");
        assert_eq!(b.territory, ["region"]);
        assert_eq!(b.competence, ["other.state_services"]);
        assert!(body_text(&b).contains("regional_department"));
    }
}
