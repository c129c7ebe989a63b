//! `raptor audit verify [--expect-head SEQ:HASH]` walks the audit trail's hash chain and reports
//! the first broken link, exiting non-zero, so tampering behind the application's back is
//! detectable (SPEC §5); `raptor audit head` prints the newest row as `SEQ:HASH`. What is
//! checked, and why the anchor and a recorded head matter, is `crate::audit::verify`'s.

use super::CliContext;
use crate::audit::verify::{self, Verified};

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
    match command {
        Command::Head => match verify::head(&ctx.pool).await? {
            Some((seq, hash)) => println!("{seq}:{hash}"),
            None => anyhow::bail!("the audit trail has no rows yet"),
        },
        Command::Verify { expect_head } => {
            let expected = expect_head
                .as_ref()
                .map(|(seq, hash)| (*seq, hash.as_str()));
            match verify::verify(&ctx.pool, expected).await? {
                Verified::Empty => println!("audit chain intact: no rows yet"),
                Verified::Intact { rows, first, last } => {
                    println!("audit chain intact: {rows} rows, seq {first} to {last}")
                }
            }
            if let Some((seq, _)) = expect_head {
                println!("expected head seq {seq} is present and unchanged");
            }
        }
    }
    Ok(())
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
