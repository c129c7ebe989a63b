//! `raptor audit verify [--expect-head SEQ:HASH]` walks the audit trail's hash chain and reports
//! the first broken link, exiting non-zero, so tampering behind the application's back is
//! detectable (SPEC §5); `raptor audit head` prints the newest row as `SEQ:HASH`.
//!
//! The chain walk trusts the oldest remaining row as its anchor, because audit retention removes
//! rows from the start of the chain. So that a prefix deleted by hand is not mistaken for
//! retention, the command also checks the anchor against what the retention job recorded it had
//! trimmed. Rows deleted from the *end* leave no broken link: `--expect-head` checks that a head
//! recorded outside the database (the writer logs it every 10 minutes; an operator may note
//! `raptor audit head`) is still there, unchanged.

use anyhow::Context;
use raptor_actors::audit::chain::{self, ChainReport};

use super::CliContext;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Check every row's hash and link; exit non-zero at the first broken one.
    Verify {
        /// A head recorded earlier (`raptor audit head`, or the `audit chain head` log line):
        /// fail if that row is missing or different.
        #[arg(long, value_parser = parse_head)]
        expect_head: Option<(i64, String)>,
    },
    /// Print the newest row's sequence number and hash as `SEQ:HASH`.
    Head,
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    let client = ctx.pool.get().await.context("cannot reach the database")?;
    match command {
        Command::Head => match chain::head(&client).await? {
            Some((seq, hash)) => println!("{seq}:{hash}"),
            None => anyhow::bail!("the audit trail has no rows yet"),
        },
        Command::Verify { expect_head } => {
            verify(&client).await?;
            if let Some((seq, hash)) = expect_head {
                expect(&client, seq, &hash).await?;
            }
        }
    }
    Ok(())
}

async fn verify(client: &deadpool_postgres::Object) -> anyhow::Result<()> {
    let rows = match chain::verify(client).await? {
        ChainReport::Intact { rows } => rows,
        ChainReport::Broken { seq, reason } => {
            anyhow::bail!("audit chain broken at seq {seq}: {reason}")
        }
    };
    let span = client
        .query_one("SELECT min(seq), max(seq) FROM audit_log", &[])
        .await?;
    let (first, last): (Option<i64>, Option<i64>) = (span.get(0), span.get(1));
    let (Some(first), Some(last)) = (first, last) else {
        println!("audit chain intact: no rows yet");
        return Ok(());
    };
    if first > 1 {
        let trimmed = crate::retention::audit_trimmed_through(client).await?;
        if trimmed.is_none_or(|t| t < first - 1) {
            anyhow::bail!(
                "audit chain broken at seq {first}: rows before it were removed, but retention \
                 only trimmed through seq {}",
                trimmed.unwrap_or(0)
            );
        }
    }
    println!("audit chain intact: {rows} rows, seq {first} to {last}");
    Ok(())
}

/// The recorded head `seq` must still be in the chain with the hash it had.
async fn expect(client: &deadpool_postgres::Object, seq: i64, hash: &str) -> anyhow::Result<()> {
    match chain::hash_at(client, seq).await? {
        Some(stored) if stored == hash => {
            println!("expected head seq {seq} is present and unchanged");
            Ok(())
        }
        Some(_) => anyhow::bail!("audit head seq {seq} has a different hash than was recorded"),
        None => anyhow::bail!(
            "audit head seq {seq} is missing: rows were removed from the end of the chain"
        ),
    }
}

/// `SEQ:HASH`, as `raptor audit head` prints it.
fn parse_head(raw: &str) -> Result<(i64, String), String> {
    let (seq, hash) = raw
        .split_once(':')
        .ok_or_else(|| format!("{raw:?} is not SEQ:HASH"))?;
    let seq: i64 = seq
        .parse()
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("{seq:?} is not a sequence number"))?;
    let valid = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(format!("{hash:?} is not a SHA-256 hash in hex"));
    }
    Ok((seq, hash.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::parse_head;

    #[test]
    fn heads_are_parsed_strictly() {
        let hash = "ab".repeat(32);
        assert_eq!(parse_head(&format!("42:{hash}")), Ok((42, hash.clone())));
        assert_eq!(
            parse_head(&format!("7:{}", hash.to_uppercase())),
            Ok((7, hash.clone()))
        );
        for bad in [
            String::new(),
            "42".into(),
            format!("0:{hash}"),
            format!("-1:{hash}"),
            format!("x:{hash}"),
            "42:abc".into(),
            format!("42:{}", "zz".repeat(32)),
            format!("42:{hash}0"),
        ] {
            assert!(parse_head(&bad).is_err(), "{bad:?}");
        }
    }
}
