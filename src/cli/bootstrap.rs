//! `raptor bootstrap-token create --email E | --unbound [--ttl 7d]`: an invitation to register.
//!
//! The token is printed once on stdout and stored only as an HMAC; its creation is audited. An
//! invitation is bound to the address it was made for; one that any address may use needs an
//! explicit `--unbound`, and the command says what that risks (issue 24, item 1).

use anyhow::Context;
use chrono::Utc;
use secrecy::ExposeSecret;

use super::CliContext;
use crate::auth::invitations::{self, Inviter, NewInvitation};
use crate::auth::Email;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a single-use registration token and print it once.
    #[command(group(clap::ArgGroup::new("binding").required(true).args(["email", "unbound"])))]
    Create {
        /// Only this address may register with the token.
        #[arg(long)]
        email: Option<String>,
        /// Any address may register with the token (see the warning it prints).
        #[arg(long)]
        unbound: bool,
        /// How long the token is valid: a number followed by m, h or d.
        #[arg(long, default_value = "7d", value_parser = parse_ttl)]
        ttl: chrono::Duration,
    },
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let Command::Create { email, ttl, .. } = command;
    let email = email
        .map(|e| Email::parse(&e))
        .transpose()
        .context("--email is not a valid address")?;
    let (audit, hasher) = (ctx.audit_client(), ctx.hasher());
    let inviter = Inviter {
        pool: &ctx.pool,
        audit: &audit,
        hasher: &hasher,
    };
    let invitation = NewInvitation {
        email: email.as_ref(),
        ttl,
        source: "cli",
    };
    let created = invitations::create(&inviter, invitation, Utc::now()).await?;
    if email.is_none() {
        eprintln!("{UNBOUND_WARNING}");
    }
    eprintln!(
        "bootstrap token {} created; expires {}{}. It is shown only once:",
        created.id,
        created.expires_at.to_rfc3339(),
        if email.is_some() {
            "; bound to one address"
        } else {
            "; UNBOUND"
        }
    );
    println!("{}", created.token.expose_secret());
    Ok(())
}

/// What `--unbound` risks, printed with every unbound invitation.
const UNBOUND_WARNING: &str = "warning: this invitation is not bound to an address. Whoever \
holds it can register ANY address, including one whose owner has not signed up yet: the owner \
then cannot register until that sign-up expires (7 days), and an owner who clicks the link \
mailed for it activates the holder's passkey. Prefer --email whenever the address is known.";

fn parse_ttl(raw: &str) -> Result<chrono::Duration, String> {
    let (number, unit) = raw.split_at(raw.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not like 30m, 12h or 7d"))?;
    let ttl = match unit {
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => return Err(format!("{raw:?} is not like 30m, 12h or 7d")),
    };
    if n <= 0 || ttl > chrono::Duration::days(90) {
        return Err("the ttl must be between 1 minute and 90 days".into());
    }
    Ok(ttl)
}
