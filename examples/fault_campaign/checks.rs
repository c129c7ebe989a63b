//! The checker: per phase, what the load saw and whether Raptor kept its promises.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use crate::load::{Outcome, Record, Recorder};
use crate::BROKER_TIMEOUT_SECS;

/// The longest a 503 may take while Postgres is down ("fast", not a hang): the pool's wait
/// bound plus a margin.
const FAST_503: Duration = Duration::from_secs(6);

struct Phase {
    name: &'static str,
    fault_at: Option<Instant>,
    /// Postgres down from..until.
    outage: Option<(Instant, Instant)>,
    recovery: Option<Duration>,
    /// SIGTERM: exited 0, and how long the drain took.
    exit: Option<(bool, Duration)>,
}

#[derive(Default)]
pub struct Phases(Vec<Phase>);

impl Phases {
    /// Starts a phase: requests from now on are counted in it.
    pub fn begin(&mut self, name: &'static str, recorder: &Recorder) -> usize {
        self.0.push(Phase {
            name,
            fault_at: None,
            outage: None,
            recovery: None,
            exit: None,
        });
        let index = self.0.len() - 1;
        recorder
            .phase
            .store(index, std::sync::atomic::Ordering::SeqCst);
        index
    }

    pub fn set_window(&mut self, phase: usize, from: Instant, until: Instant) {
        self.0[phase].outage = Some((from, until));
    }

    pub fn set_exit(&mut self, phase: usize, success: bool, drained: Duration) {
        self.0[phase].exit = Some((success, drained));
    }

    pub fn end(&mut self, phase: usize, fault_at: Instant, recovery: Option<Duration>) {
        let phase = &mut self.0[phase];
        phase.fault_at = Some(fault_at);
        phase.recovery = recovery;
    }

    /// `audited`: request ids with an audit row; `requested`: those of `order.submit.requested`.
    pub fn report(
        &self,
        records: &[Record],
        audited: &HashSet<String>,
        requested: &HashSet<String>,
    ) -> Vec<PhaseReport> {
        self.0
            .iter()
            .enumerate()
            .map(|(index, phase)| {
                let mine: Vec<&Record> = records.iter().filter(|r| r.phase == index).collect();
                PhaseReport::new(phase, &mine, audited, requested)
            })
            .collect()
    }
}

pub struct PhaseReport {
    name: &'static str,
    requests: usize,
    acknowledged: usize,
    s503: usize,
    s504: usize,
    max_503: Duration,
    /// Requests that got no HTTP answer.
    unanswered: usize,
    recovery: Option<Duration>,
    /// Figures of this fault only (the SIGTERM drain).
    note: Option<String>,
    /// What broke, empty when every invariant held.
    problems: Vec<String>,
}

impl PhaseReport {
    fn new(
        phase: &Phase,
        records: &[&Record],
        audited: &HashSet<String>,
        requested: &HashSet<String>,
    ) -> Self {
        let mut problems = Vec::new();
        let status = |code: u16| records.iter().filter(|r| r.status() == Some(code)).count();
        let acknowledged: Vec<&&Record> =
            records.iter().filter(|r| r.acknowledged_write()).collect();
        let unaudited = acknowledged
            .iter()
            .filter(|r| !r.request_id.as_ref().is_some_and(|id| audited.contains(id)))
            .count();
        if unaudited > 0 {
            problems.push(format!(
                "{unaudited} acknowledged changes without an audit row"
            ));
        }
        let hung = |r: &&&Record| r.target == "hung";
        let undocumented: Vec<String> = records
            .iter()
            .filter_map(|r| match r.status() {
                Some(503) => None,
                Some(504) if r.target == "hung" => None,
                Some(s) if s >= 500 => Some(format!("{s} on {}", r.route)),
                _ => None,
            })
            .collect();
        if !undocumented.is_empty() {
            problems.push(format!("undocumented 5xx: {undocumented:?}"));
        }
        // Transport failures: only new connections refused while no process listens after a
        // SIGTERM are expected; a request in flight before the signal must be answered.
        let transport: Vec<&&Record> = records
            .iter()
            .filter(|r| r.outcome == Outcome::Transport)
            .collect();
        match (phase.exit, phase.fault_at) {
            (Some((success, drained)), Some(signalled)) => {
                let in_flight = transport.iter().filter(|r| r.started < signalled).count();
                if in_flight > 0 {
                    problems.push(format!("{in_flight} in-flight requests failed at SIGTERM"));
                }
                if !success {
                    problems.push("SIGTERM: exit status not 0".into());
                }
                if drained > Duration::from_secs(30) {
                    problems.push(format!("SIGTERM: drained in {drained:?} (> 30 s)"));
                }
            }
            _ if !transport.is_empty() => {
                problems.push(format!("{} requests got no HTTP answer", transport.len()));
            }
            _ => {}
        }
        let max_503 = records
            .iter()
            .filter(|r| r.status() == Some(503))
            .map(|r| r.latency)
            .max()
            .unwrap_or_default();
        if phase.outage.is_some() && max_503 > FAST_503 {
            problems.push(format!("a 503 took {max_503:?} while Postgres was down"));
        }
        let hung_records: Vec<&&Record> = records.iter().filter(hung).collect();
        if !hung_records.is_empty() {
            let bound = Duration::from_secs(BROKER_TIMEOUT_SECS + 3);
            let slow = hung_records.iter().filter(|r| r.latency > bound).count();
            if slow > 0 {
                problems.push(format!(
                    "{slow} hung-broker orders answered after {bound:?}"
                ));
            }
            if hung_records.iter().any(|r| r.acknowledged_write()) {
                problems.push("an order was acknowledged by a broker that never answered".into());
            }
            let unaudited = hung_records
                .iter()
                .filter(|r| r.status() == Some(504))
                .filter(|r| {
                    !r.request_id
                        .as_ref()
                        .is_some_and(|id| requested.contains(id))
                })
                .count();
            if unaudited > 0 {
                problems.push(format!("{unaudited} broker calls without their audit row"));
            }
        }
        let needs_recovery =
            phase.outage.is_some() || phase.exit.is_some() || phase.name == "actor panic";
        if needs_recovery && phase.recovery.is_none() {
            problems.push("service did not recover".into());
        }
        Self {
            name: phase.name,
            requests: records.len(),
            acknowledged: acknowledged.len(),
            s503: status(503),
            s504: status(504),
            max_503,
            unanswered: transport.len(),
            recovery: phase.recovery,
            note: phase.exit.map(|(success, drained)| {
                format!(
                    "drained and exited {} in {} ms; no answer while no process listened: {}",
                    if success { "0" } else { "non-zero" },
                    drained.as_millis(),
                    transport.len()
                )
            }),
            problems,
        }
    }

    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn print_table(reports: &[PhaseReport]) {
    println!(
        "\n{:<18} {:>8} {:>6} {:>6} {:>6} {:>9} {:>10} {:>12}  invariants",
        "fault", "requests", "acked", "503", "504", "no answer", "max 503ms", "recovery ms"
    );
    for r in reports {
        let recovery = r
            .recovery
            .map_or_else(|| "-".to_owned(), |d| d.as_millis().to_string());
        println!(
            "{:<18} {:>8} {:>6} {:>6} {:>6} {:>9} {:>10} {:>12}  {}",
            r.name,
            r.requests,
            r.acknowledged,
            r.s503,
            r.s504,
            r.unanswered,
            r.max_503.as_millis(),
            recovery,
            if r.ok() {
                "OK".to_owned()
            } else {
                format!("FAILED: {}", r.problems.join("; "))
            }
        );
    }
    for r in reports {
        if let Some(note) = &r.note {
            println!("{}: {note}", r.name);
        }
    }
}
