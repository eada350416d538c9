//! `bakylau taxonomy …`: the issue taxonomy of routing (reg 5.2), two levels, names in
//! Kazakh, Russian and English; list, show, add or change, switch off and on. Changes are
//! recorded with the caller's identity (see `bakylau routing changes`).

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
pub enum TaxonomyCommand {
    /// List categories and their subcategories
    List(ListArgs),
    /// Show one category with its keywords and, for exclusions, the redirect explanation
    Show(CodeArgs),
    /// Add a category or change one (only the options given change)
    Set(Box<SetArgs>),
    /// Switch a category off: the classifier's choice of it then goes to manual routing
    Deactivate(ActiveArgs),
    /// Switch a category back on
    Activate(ActiveArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this top-level category and its subcategories
    #[arg(long)]
    pub parent: Option<String>,
    /// Include switched-off categories
    #[arg(long)]
    pub include_inactive: bool,
}

#[derive(Args, Debug)]
pub struct CodeArgs {
    /// Category code, e.g. housing_utilities.water_supply
    pub code: String,
}

#[derive(Args, Debug)]
pub struct ActiveArgs {
    /// Category code
    pub code: String,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub reason: String,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// Category code: `top` or `top.leaf`, snake_case
    pub code: String,
    /// Name in Kazakh
    #[arg(long)]
    pub name_kk: Option<String>,
    /// Name in Russian
    #[arg(long)]
    pub name_ru: Option<String>,
    /// Name in English
    #[arg(long)]
    pub name_en: Option<String>,
    /// Note for people who maintain the taxonomy
    #[arg(long)]
    pub description: Option<String>,
    /// Kazakh keyword stem (repeat; replaces the list)
    #[arg(long = "keyword-kk", value_name = "STEM")]
    pub keywords_kk: Vec<String>,
    /// Russian keyword stem (repeat; replaces the list)
    #[arg(long = "keyword-ru", value_name = "STEM")]
    pub keywords_ru: Vec<String>,
    /// Excluded subcategories: body the appeal is redirected to
    #[arg(long)]
    pub redirect_to: Option<String>,
    /// Excluded subcategories: law whose procedure applies
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// Excluded subcategories: explanation for the applicant in Kazakh
    #[arg(long)]
    pub explanation_kk: Option<String>,
    /// Excluded subcategories: explanation for the applicant in Russian
    #[arg(long)]
    pub explanation_ru: Option<String>,
    /// Why (kept in the audit log)
    #[arg(long, default_value = "")]
    pub reason: String,
}

pub async fn run(cmd: TaxonomyCommand, g: &Global) -> Result<()> {
    let mut c = connect(g).await?;
    match cmd {
        TaxonomyCommand::List(a) => {
            let list = c
                .list_categories(pb::ListCategoriesRequest {
                    include_inactive: a.include_inactive,
                    parent: a.parent.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .categories;
            match g.output {
                OutputFormat::Json => {
                    output::print_json(&Value::Array(list.iter().map(category_json).collect()))
                }
                OutputFormat::Text => output::print(&categories_table(&list)),
            }
        }
        TaxonomyCommand::Show(a) => {
            let cat = c
                .get_category(pb::GetCategoryRequest { code: a.code })
                .await?
                .into_inner();
            print_category(g, &cat)
        }
        TaxonomyCommand::Set(a) => {
            let current = edit::found(
                c.get_category(pb::GetCategoryRequest {
                    code: a.code.clone(),
                })
                .await,
            )?;
            let category = merge(current, &a);
            let saved = c
                .upsert_category(client::request(
                    pb::UpsertCategoryRequest {
                        category: Some(category),
                        reason: a.reason.clone(),
                    },
                    g,
                ))
                .await?
                .into_inner();
            print_category(g, &saved)
        }
        TaxonomyCommand::Deactivate(a) => set_active(&mut c, a, false, g).await,
        TaxonomyCommand::Activate(a) => set_active(&mut c, a, true, g).await,
    }
}

async fn set_active(
    c: &mut crate::routing::Routing,
    a: ActiveArgs,
    active: bool,
    g: &Global,
) -> Result<()> {
    let cat = c
        .set_category_active(client::request(
            pb::SetActiveRequest {
                code: a.code,
                active,
                reason: a.reason,
            },
            g,
        ))
        .await?
        .into_inner();
    print_category(g, &cat)
}

/// The category to send: the current one (if any) with the options given applied.
pub fn merge(current: Option<pb::Category>, a: &SetArgs) -> pb::Category {
    let mut c = current.unwrap_or_else(|| pb::Category {
        code: a.code.clone(),
        ..Default::default()
    });
    edit::replace_if_given(&mut c.name_kk, &a.name_kk);
    edit::replace_if_given(&mut c.name_ru, &a.name_ru);
    edit::replace_if_given(&mut c.name_en, &a.name_en);
    edit::replace_if_given(&mut c.description, &a.description);
    edit::replace_if_given(&mut c.redirect_to, &a.redirect_to);
    edit::replace_if_given(&mut c.legal_basis, &a.legal_basis);
    edit::replace_if_given(&mut c.explanation_kk, &a.explanation_kk);
    edit::replace_if_given(&mut c.explanation_ru, &a.explanation_ru);
    edit::replace_list_if_given(&mut c.keywords_kk, &a.keywords_kk);
    edit::replace_list_if_given(&mut c.keywords_ru, &a.keywords_ru);
    c
}

fn print_category(g: &Global, c: &pb::Category) -> Result<()> {
    match g.output {
        OutputFormat::Json => output::print_json(&category_json(c)),
        OutputFormat::Text => output::print(&category_text(c)),
    }
}

pub fn categories_table(list: &[pb::Category]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let code = if c.parent.is_empty() {
                c.code.clone()
            } else {
                format!("  {}", c.code)
            };
            vec![
                code,
                truncate(&c.name_kk, 40),
                truncate(&c.name_ru, 40),
                truncate(&c.name_en, 40),
                match (c.active, c.excluded && !c.parent.is_empty()) {
                    (false, _) => "off".into(),
                    (true, true) => format!("redirect -> {}", c.redirect_to),
                    (true, false) => String::new(),
                },
            ]
        })
        .collect();
    table(&["CODE", "KK", "RU", "EN", ""], &rows)
}

pub fn category_text(c: &pb::Category) -> String {
    let mut out = format!(
        "Code         {}\nParent       {}\nKazakh       {}\nRussian      {}\nEnglish      {}\nActive       {}\n",
        c.code,
        if c.parent.is_empty() { "-" } else { &c.parent },
        c.name_kk,
        c.name_ru,
        c.name_en,
        if c.active { "yes" } else { "no" }
    );
    if !c.description.is_empty() {
        out.push_str(&format!("Note         {}\n", c.description));
    }
    if !c.keywords_kk.is_empty() || !c.keywords_ru.is_empty() {
        out.push_str(&format!(
            "Keywords kk  {}\nKeywords ru  {}\n",
            c.keywords_kk.join(", "),
            c.keywords_ru.join(", ")
        ));
    }
    if c.excluded && !c.parent.is_empty() {
        out.push_str(&format!(
            "Excluded (reg 5.2): redirected to {}{}\nLegal basis  {}\nExplanation kk: {}\nExplanation ru: {}\n",
            c.redirect_to,
            if c.redirect_alternatives.is_empty() {
                String::new()
            } else {
                format!(" (or {})", c.redirect_alternatives.join(", "))
            },
            c.legal_basis,
            c.explanation_kk,
            c.explanation_ru
        ));
    }
    if !c.updated_by.is_empty() {
        out.push_str(&format!(
            "Changed      {} by {}\n",
            format_local(c.updated_at.as_ref()),
            c.updated_by
        ));
    }
    out
}

pub fn category_json(c: &pb::Category) -> Value {
    json!({
        "code": c.code, "parent": c.parent, "name_kk": c.name_kk, "name_ru": c.name_ru,
        "name_en": c.name_en, "excluded": c.excluded, "redirect_to": c.redirect_to,
        "redirect_alternatives": c.redirect_alternatives, "legal_basis": c.legal_basis,
        "explanation_kk": c.explanation_kk, "explanation_ru": c.explanation_ru,
        "keywords_kk": c.keywords_kk, "keywords_ru": c.keywords_ru, "active": c.active,
        "description": c.description, "updated_by": c.updated_by,
        "updated_at": format_local(c.updated_at.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: TaxonomyCommand,
    }

    #[test]
    fn set_changes_only_the_options_given() {
        let T { cmd } = T::try_parse_from([
            "t",
            "set",
            "land.pastures",
            "--name-en",
            "Pastures and grazing",
            "--keyword-ru",
            "пастбищ",
            "--reason",
            "wording",
        ])
        .unwrap();
        let TaxonomyCommand::Set(a) = cmd else {
            panic!()
        };
        let current = pb::Category {
            code: "land.pastures".into(),
            name_kk: "Жайылымдар".into(),
            name_en: "Pastures".into(),
            keywords_kk: vec!["жайылым".into()],
            ..Default::default()
        };
        let c = merge(Some(current), &a);
        assert_eq!(c.name_kk, "Жайылымдар");
        assert_eq!(c.name_en, "Pastures and grazing");
        assert_eq!(c.keywords_kk, ["жайылым"]);
        assert_eq!(c.keywords_ru, ["пастбищ"]);
    }
}
