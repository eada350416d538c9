//! Bearer tokens: which one the command sends (`BAKYLAU_TOKEN`, `--token-file`, or in a
//! local setup one minted from the dev key), and `bakylau token mint` for local setups.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bakylau_platform::auth::{Role, TokenMinter};
use clap::{Args, Subcommand};

use crate::Global;
use crate::error::usage;

/// Where `deploy/local/up.sh` writes the dev key, relative to the repository root.
const LOCAL_DEV_KEY: &str = ".run/dev-signing-key.pem";

/// The dev key of a local setup (`deploy/local/up.sh` writes it and exports these).
#[derive(Args, Debug, Clone)]
pub struct DevKey {
    /// PEM private key of the local identity provider (never a production key)
    #[arg(
        long = "dev-key",
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_DEV_SIGNING_KEY",
        value_name = "FILE"
    )]
    pub dev_key: Option<PathBuf>,
    /// Issuer the local services trust
    #[arg(
        long = "dev-issuer",
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_DEV_ISSUER",
        default_value = "bakylau-local",
        value_name = "ISS"
    )]
    pub issuer: String,
    /// Key id of the dev key in the local JWKS
    #[arg(
        long = "dev-key-id",
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_DEV_KEY_ID",
        default_value = "bakylau-local-1",
        value_name = "KID"
    )]
    pub key_id: String,
    /// Audience the services accept
    #[arg(
        long = "audience",
        global = true,
        help_heading = "Global options",
        env = "BAKYLAU_AUDIENCE",
        default_value = "bakylau",
        value_name = "AUD"
    )]
    pub audience: String,
}

impl DevKey {
    fn minter(&self) -> Result<Option<TokenMinter>> {
        // In the repository after `up.sh`, the CLI finds the dev key without an export.
        let local = PathBuf::from(LOCAL_DEV_KEY);
        let key = match &self.dev_key {
            Some(key) => key,
            None if local.is_file() => &local,
            None => return Ok(None),
        };
        Ok(Some(
            TokenMinter::from_file(key, Some(self.key_id.clone()), &self.issuer, &self.audience)
                .with_context(|| format!("the dev key {}", key.display()))?,
        ))
    }
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Mint a token from the local dev key and print it (local setups and tests only)
    Mint(MintArgs),
}

#[derive(Args, Debug)]
pub struct MintArgs {
    /// Lifetime in seconds
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    /// Integration system's source (role integration), e.g. urn:kz:eotinish
    #[arg(long)]
    pub source: Option<String>,
}

fn role(g: &Global) -> Result<Role> {
    g.role
        .parse()
        .map_err(|e: String| usage(format!("--role: {e}")))
}

/// Decides the token this run sends: `--token-file`, else `BAKYLAU_TOKEN`, else one minted
/// from the dev key for `--user`/`--role`/`--body`, else none (the services then answer
/// UNAUTHENTICATED).
pub fn install(g: &Global) -> Result<()> {
    let token = if let Some(file) = &g.token_file {
        Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("--token-file {}", file.display()))?,
        )
    } else if let Some(t) = g.token.clone().filter(|t| !t.trim().is_empty()) {
        Some(t)
    } else if let Some(minter) = g.dev.minter()? {
        Some(minter.mint(
            &g.user,
            role(g)?,
            g.body.as_deref(),
            None,
            Duration::from_secs(900),
        )?)
    } else {
        None
    };
    if let Some(t) = token {
        crate::client::set_token(&t)?;
    }
    Ok(())
}

pub async fn run(cmd: TokenCommand, g: &Global) -> Result<()> {
    match cmd {
        TokenCommand::Mint(args) => {
            let minter = g.dev.minter()?.ok_or_else(|| {
                usage("no dev key: set BAKYLAU_DEV_SIGNING_KEY or --dev-key (deploy/local/up.sh writes one)")
            })?;
            let token = minter.mint(
                &g.user,
                role(g)?,
                g.body.as_deref(),
                args.source.as_deref(),
                Duration::from_secs(args.ttl.max(1)),
            )?;
            println!("{token}");
            Ok(())
        }
    }
}
