//! `bakylau`: the command line of the Appeals Review Control Department. This file only
//! parses the command line and hands over to the command's module.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod appeal;
mod audit;
mod bodies;
mod calendar;
mod client;
mod consultation;
mod control;
mod edit;
mod error;
mod inbound_cmd;
mod input;
mod instruction;
mod load;
mod localtime;
mod output;
mod reception;
mod report;
mod routing;
mod status;
mod taxonomy;
mod token;
mod vocab;

/// Bakylau: register citizens' and companies' appeals, look them up, log consultations.
#[derive(Parser, Debug)]
#[command(name = "bakylau", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Args, Debug)]
pub struct Global {
    /// Address of the intake service
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_INTAKE_ADDR",
        default_value = "http://127.0.0.1:50051",
        value_name = "ADDR"
    )]
    pub intake: String,
    /// Address of the routing service
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_ROUTING_ADDR",
        default_value = "http://127.0.0.1:50052",
        value_name = "ADDR"
    )]
    pub routing: String,
    /// Address of the control service
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_CONTROL_ADDR",
        default_value = "http://127.0.0.1:50053",
        value_name = "ADDR"
    )]
    pub control: String,
    /// Address of the reception service
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_RECEPTION_ADDR",
        default_value = "http://127.0.0.1:50054",
        value_name = "ADDR"
    )]
    pub reception: String,
    /// Address of the reporting service
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_REPORTING_ADDR",
        default_value = "http://127.0.0.1:50055",
        value_name = "ADDR"
    )]
    pub reporting: String,
    /// Bearer token file from the identity provider (else `BAKYLAU_TOKEN`)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_TOKEN_FILE",
        value_name = "FILE"
    )]
    pub token_file: Option<std::path::PathBuf>,
    /// Bearer token from the identity provider (environment only, never on the command line)
    #[arg(
        long = "token",
        env = "BAKYLAU_TOKEN",
        hide = true,
        hide_env_values = true
    )]
    pub token: Option<String>,
    #[command(flatten)]
    pub dev: token::DevKey,
    /// Who is calling: the subject of a token minted from the dev key

    #[arg(
        long = "user",
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_USER",
        default_value = "cli",
        value_name = "USER"
    )]
    pub user: String,
    /// Role of a token minted from the dev key: registrar, executor, controller, head, analyst, auditor, integration, system
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_ROLE",
        default_value = "registrar",
        value_name = "ROLE"
    )]
    pub role: String,
    /// Body of a minted executor token (an executor sees only its own body's appeals)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_BODY",
        value_name = "BODY"
    )]
    pub body: Option<String>,
    /// CA that signed the services' TLS certificates (PEM); with it, calls use TLS
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_TLS_CA",
        value_name = "FILE"
    )]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for services that demand mutual TLS
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --tls-cert
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<std::path::PathBuf>,
    /// Print readable text or JSON
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_enum,
        default_value = "text"
    )]
    pub output: output::OutputFormat,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Appeals: register one and print its coupon, show one, list them
    #[command(subcommand)]
    Appeal(appeal::AppealCommand),
    /// Consultations: record help given to a person, list them
    #[command(subcommand)]
    Consultation(consultation::ConsultationCommand),
    /// Deadlines, answers and review, extensions, timelines and letters (reg 5.3-5.6)
    #[command(subcommand)]
    Control(control::ControlCommand),
    /// Record-keeping audits per body and period (reg 10.1)
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Working-day calendar: show a year, edit holidays and transfers, compute deadlines
    #[command(subcommand)]
    Calendar(calendar::CalendarCommand),
    /// Instructions on appeals (reg 9): issue, show, list, progress, checks, conclusions, discipline, completion
    #[command(subcommand)]
    Instruction(instruction::InstructionCommand),
    /// Personal, video and field receptions (reg 6): officials, slots, booking, holding, monitoring
    #[command(subcommand)]
    Reception(reception::ReceptionCommand),
    /// Check that every service is up and ready (exit 0 when all are)
    Status(status::StatusArgs),
    /// Register realistic appeals at a fixed rate or flat out, and print throughput and latency
    Load(load::LoadArgs),
    /// Reports: summaries, systemic problems, spikes, problem map, discipline, semi-annual report
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Routing (reg 5.2): show a decision, re-route, the manual queue, classifier, rules, audit log
    #[command(subcommand)]
    Routing(routing::RoutingCommand),
    /// Issue taxonomy of routing: list, show, add or change, switch off and on
    #[command(subcommand)]
    Taxonomy(taxonomy::TaxonomyCommand),
    /// Directory of bodies appeals are routed to: list, show, districts, add or change, switch off and on
    #[command(subcommand)]
    Bodies(bodies::BodiesCommand),
    /// For other government systems: send an appeal over the broker, watch its status updates
    #[command(subcommand)]
    Inbound(inbound_cmd::InboundCommand),
    /// Bearer tokens: mint one from the local dev key
    #[command(subcommand)]
    Token(token::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return error::exit(Err(e.into())),
    };
    let result = runtime.block_on(async {
        token::install(&cli.global)?;
        client::set_tls(&cli.global);
        match cli.command {
            Command::Appeal(cmd) => appeal::run(cmd, &cli.global).await,
            Command::Consultation(cmd) => consultation::run(cmd, &cli.global).await,
            Command::Control(cmd) => control::run(cmd, &cli.global).await,
            Command::Audit(cmd) => audit::run(cmd, &cli.global).await,
            Command::Calendar(cmd) => calendar::run(cmd, &cli.global).await,
            Command::Instruction(cmd) => instruction::run(cmd, &cli.global).await,
            Command::Reception(cmd) => reception::run(cmd, &cli.global).await,
            Command::Status(args) => status::run(args, &cli.global).await,
            Command::Load(args) => load::run(args, &cli.global).await,
            Command::Report(cmd) => report::run(cmd, &cli.global).await,
            Command::Routing(cmd) => routing::run(cmd, &cli.global).await,
            Command::Taxonomy(cmd) => taxonomy::run(cmd, &cli.global).await,
            Command::Bodies(cmd) => bodies::run(cmd, &cli.global).await,
            Command::Inbound(cmd) => inbound_cmd::run(cmd, &cli.global).await,
            Command::Token(cmd) => token::run(cmd, &cli.global).await,
        }
    });
    error::exit(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_a_one_line_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
                assert!(!about.is_empty(), "{name} has no help");
                assert!(!about.contains('\n'), "{name}: help is one line");
                for arg in sub.get_arguments() {
                    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                    assert!(!help.is_empty(), "{name} {} has no help", arg.get_id());
                }
                walk(sub, &name);
            }
        }
        walk(&Cli::command(), "bakylau");
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "bakylau",
            "appeal",
            "show",
            "ALM-2026-000001",
            "--output",
            "json",
            "--intake",
            "http://intake:50051",
        ])
        .unwrap();
        assert_eq!(cli.global.output, output::OutputFormat::Json);
        assert_eq!(cli.global.intake, "http://intake:50051");
    }
}
