//! The signals Raptor acts on: SIGTERM and SIGINT stop it, SIGHUP reloads its configuration,
//! SIGUSR1 injects a fault (with the `fault-injection` feature, never deployed).

use tokio::signal::unix::{signal, Signal, SignalKind};

/// The signals Raptor acts on. Registered before the listener serves, so none can arrive while
/// the default action (terminate at once) still applies.
pub struct Signals {
    /// SIGTERM: the platform stops the dyno.
    pub terminate: Signal,
    /// SIGINT: Ctrl-C.
    pub interrupt: Signal,
    /// SIGHUP: re-read the configuration.
    pub hangup: Signal,
    /// SIGUSR1, fault injection: only with the `fault-injection` feature, outside production
    /// and staging.
    pub fault: Option<Signal>,
}

impl Signals {
    /// Installs the handlers; SIGUSR1's only when `fault_injection`.
    pub fn register(fault_injection: bool) -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
            fault: if fault_injection {
                Some(signal(SignalKind::user_defined1())?)
            } else {
                None
            },
        })
    }
}
