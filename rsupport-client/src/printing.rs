//! Remote printing inside a live session: the print drivers of
//! [`crate::print`] run as tasks beside the connection task, one pair per
//! session, and this bridge carries their messages, commands and events.
//!
//! ```text
//! peer ─ SessionMessage::Print ─▶ connection task ─▶ forwarder ─▶ driver
//! driver ─▶ forwarder ─▶ shared outgoing queue (bounded) ─▶ connection task ─▶ peer
//! driver events ─▶ SessionEvent::Print ─▶ the session handle
//! ```
//!
//! The outgoing queue is bounded and the connection task takes from it only
//! while the session's own queue is short, so a large document is read from
//! its spool file no faster than the connection carries it.

use std::path::PathBuf;
use std::sync::Arc;

use rsupport_proto::print::PrintMessage;
use rsupport_proto::ConnectionMode;
use tokio::sync::{mpsc, watch};
use tracing::debug;

use super::ClientError;
use crate::print::{
    operator_driver, run_customer_watched, CustomerCommand, OperatorCommand, OperatorEnds,
};
use rsupport_core::print::{PrintEvent, PrintPolicy, PrintReceiver, PrintSender};
use rsupport_core::session::SessionEvent;
use rsupport_print::{PrintSink, VirtualPrinterSource};

/// Capacity of the per-connection queue of print messages to send.
pub(crate) const OUTGOING_CAPACITY: usize = 4;

/// Print messages from the peer a driver may have waiting to be read. Past
/// this the bridge keeps at most the one message that did not fit and the
/// session holds the peer's further envelopes (bounded, see `MAX_HELD`),
/// so a peer flooding print messages cannot grow memory without limit and
/// no message is lost (SECURITY M7).
pub(crate) const INBOX_CAPACITY: usize = 64;
/// Print events a driver may have waiting for the session's handle.
const EVENTS_CAPACITY: usize = 16;

/// Print messages from every session's driver to the connection task.
pub(crate) type Outgoing = mpsc::Sender<(u64, PrintMessage)>;

/// The operator's side of remote printing, shared by all its sessions.
#[derive(Clone)]
pub(crate) struct OperatorPrinting {
    /// Where received jobs go.
    pub(crate) sink: Arc<dyn PrintSink>,
    /// Where documents are spooled while they arrive.
    pub(crate) spool_dir: PathBuf,
}

/// Commands to whichever driver runs for this session.
enum Commands {
    Customer(mpsc::Sender<CustomerCommand>),
    Operator(mpsc::Sender<OperatorCommand>),
}

/// One session's link to its print driver.
pub(crate) struct PrintBridge {
    to_driver: mpsc::Sender<PrintMessage>,
    /// Messages from the peer that found the driver's inbox full, in order.
    waiting: std::collections::VecDeque<PrintMessage>,
    commands: Commands,
    /// The session's print policy: a watch keeps only the latest value, so
    /// a mode change is never lost to a full command channel (L13).
    policy: watch::Sender<PrintPolicy>,
    /// The administrator's switch, from `Paired`.
    admin_allows: bool,
}

impl PrintBridge {
    /// Customer side: offers jobs printed to `printer` to the operator.
    pub(crate) fn customer(
        session_id: u64,
        printer: Box<dyn VirtualPrinterSource>,
        admin_allows: bool,
        outgoing: Outgoing,
        events: mpsc::Sender<SessionEvent>,
    ) -> Self {
        let (to_driver, commands, ends) =
            wire_driver(session_id, outgoing, events, PrintEvent::Customer);
        let (policy, policy_rx) = watch::channel(PrintPolicy::default());
        tokio::spawn(run_customer_watched(
            BoxedSource(printer),
            PrintSender::new(PrintPolicy::default()),
            ends.from_peer,
            ends.to_peer,
            ends.commands,
            policy_rx,
            ends.events,
        ));
        PrintBridge {
            to_driver,
            waiting: Default::default(),
            commands: Commands::Customer(commands),
            policy,
            admin_allows,
        }
    }

    /// Operator side: receives jobs into `printing.sink`.
    pub(crate) fn operator(
        session_id: u64,
        printing: OperatorPrinting,
        admin_allows: bool,
        outgoing: Outgoing,
        events: mpsc::Sender<SessionEvent>,
    ) -> Self {
        let (to_driver, commands, ends) =
            wire_driver(session_id, outgoing, events, PrintEvent::Operator);
        let (policy, policy_rx) = watch::channel(PrintPolicy::default());
        tokio::spawn(operator_driver(
            OperatorEnds {
                sink: printing.sink,
                spool_dir: printing.spool_dir.join(format!("session-{session_id}")),
                spool_root: Some(printing.spool_dir),
                from_customer: ends.from_peer,
                to_customer: ends.to_peer,
                commands: ends.commands,
                policy: Some(policy_rx),
                events: ends.events,
            },
            PrintReceiver::new(PrintPolicy::default()),
        ));
        PrintBridge {
            to_driver,
            waiting: Default::default(),
            commands: Commands::Operator(commands),
            policy,
            admin_allows,
        }
    }

    /// A print message from the peer.
    /// The connection task never waits for the driver (the driver may be
    /// waiting for the connection task): a message that finds the inbox
    /// full waits here, and [`Self::backed_up`] tells the session to hold
    /// the peer's next envelopes until [`Self::flush`] made room.
    pub(crate) fn deliver(&mut self, message: PrintMessage) {
        self.waiting.push_back(message);
        self.flush();
    }

    /// Moves waiting messages into the driver's inbox while it has room.
    pub(crate) fn flush(&mut self) {
        while let Some(message) = self.waiting.pop_front() {
            match self.to_driver.try_send(message) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(message)) => {
                    self.waiting.push_front(message);
                    return;
                }
                // The driver is gone: nothing will read these.
                Err(mpsc::error::TrySendError::Closed(_)) => self.waiting.clear(),
            }
        }
    }

    /// Whether messages wait for the driver: the peer must wait too.
    pub(crate) fn backed_up(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The agreed mode changed: printing is allowed only in control and
    /// manage modes, and only when the administrator allows it. Both sides
    /// apply it, so neither a relay nor a modified peer can turn it on.
    pub(crate) fn set_mode(&self, mode: Option<ConnectionMode>) {
        let policy = match mode {
            Some(mode) => PrintPolicy::new(self.admin_allows, mode),
            None => PrintPolicy::default(),
        };
        if self.policy.send(policy).is_err() {
            debug!("print driver gone; nothing left to apply the policy to");
        }
    }

    /// Operator: accept an offered job.
    pub(crate) fn accept(&self, job_id: u64) -> Result<(), ClientError> {
        match &self.commands {
            Commands::Operator(c) => send(c, OperatorCommand::Accept(job_id)),
            Commands::Customer(_) => Err(not_allowed("only the operator accepts print jobs")),
        }
    }

    /// Operator: decline an offered job.
    pub(crate) fn decline(&self, job_id: u64, reason: String) -> Result<(), ClientError> {
        match &self.commands {
            Commands::Operator(c) => send(c, OperatorCommand::Decline(job_id, reason)),
            Commands::Customer(_) => Err(not_allowed("only the operator declines print jobs")),
        }
    }

    /// Either side: cancel a job at any stage.
    pub(crate) fn cancel(&self, job_id: u64, reason: String) -> Result<(), ClientError> {
        match &self.commands {
            Commands::Operator(c) => send(c, OperatorCommand::Cancel(job_id, reason)),
            Commands::Customer(c) => send(c, CustomerCommand::Cancel(job_id, reason)),
        }
    }
}

fn not_allowed(what: &str) -> ClientError {
    ClientError::NotAllowed(crate::NotAllowed::Printing {
        detail: what.to_owned(),
    })
}

fn send<T>(commands: &mpsc::Sender<T>, command: T) -> Result<(), ClientError> {
    commands
        .try_send(command)
        .map_err(|_| not_allowed("the print channel is busy or closed"))
}

/// The driver's ends of its channels.
struct DriverEnds<C, E> {
    from_peer: mpsc::Receiver<PrintMessage>,
    to_peer: mpsc::Sender<PrintMessage>,
    commands: mpsc::Receiver<C>,
    events: mpsc::Sender<E>,
}

/// Links a driver to the connection task and the session's event stream
/// (its events wrapped by `wrap`). Returns the bridge's ends: messages to
/// the driver and commands.
fn wire_driver<C, E: Send + 'static>(
    session_id: u64,
    outgoing: Outgoing,
    events: mpsc::Sender<SessionEvent>,
    wrap: fn(E) -> PrintEvent,
) -> (
    mpsc::Sender<PrintMessage>,
    mpsc::Sender<C>,
    DriverEnds<C, E>,
) {
    let (to_driver, from_peer) = mpsc::channel(INBOX_CAPACITY);
    let (to_peer, from_driver) = mpsc::channel(1);
    forward_out(session_id, from_driver, outgoing);
    let (commands, command_rx) = mpsc::channel(16);
    // Bounded: a driver whose events the handle does not take waits, stops
    // reading its inbox, and the peer's print messages are held (M7).
    let (event_tx, mut event_rx) = mpsc::channel(EVENTS_CAPACITY);
    tokio::spawn(async move {
        // Waits when the handle is behind: print events are never dropped,
        // and only this session's print driver slows down.
        while let Some(e) = event_rx.recv().await {
            if events.send(SessionEvent::Print(wrap(e))).await.is_err() {
                break;
            }
        }
    });
    let ends = DriverEnds {
        from_peer,
        to_peer,
        commands: command_rx,
        events: event_tx,
    };
    (to_driver, commands, ends)
}

/// Tags a driver's messages with the session id on their way to the
/// connection task's shared, bounded queue (backpressure reaches the driver).
fn forward_out(session_id: u64, mut from_driver: mpsc::Receiver<PrintMessage>, to: Outgoing) {
    tokio::spawn(async move {
        while let Some(m) = from_driver.recv().await {
            if to.send((session_id, m)).await.is_err() {
                break;
            }
        }
    });
}

/// Lets a boxed platform printer drive [`run_customer`].
struct BoxedSource(Box<dyn VirtualPrinterSource>);

impl VirtualPrinterSource for BoxedSource {
    fn next_job(
        &mut self,
    ) -> rsupport_print::BoxFuture<'_, Option<rsupport_print::VirtualPrinterJob>> {
        self.0.next_job()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rsupport_core::print::{CustomerPrintEvent, VirtualPrinterJob};
    use rsupport_proto::print::DocumentFormat;

    /// A printer fed by the test.
    struct Jobs(mpsc::UnboundedReceiver<VirtualPrinterJob>);

    impl VirtualPrinterSource for Jobs {
        fn next_job(
            &mut self,
        ) -> rsupport_print::BoxFuture<'_, Option<rsupport_print::VirtualPrinterJob>> {
            Box::pin(self.0.recv())
        }
    }

    /// SECURITY M7: a peer flooding print messages while the driver is
    /// busy fills a bounded inbox; the rest wait in order (one at a time,
    /// since the session then holds the peer's envelopes) and none is lost.
    #[tokio::test(flavor = "current_thread")]
    async fn a_print_flood_backs_up_instead_of_growing_without_bound() {
        let (_jobs_tx, jobs_rx) = mpsc::unbounded_channel();
        let (out_tx, _out_rx) = mpsc::channel(OUTGOING_CAPACITY);
        let (events_tx, _events_rx) = mpsc::channel(64);
        let mut bridge = PrintBridge::customer(1, Box::new(Jobs(jobs_rx)), true, out_tx, events_tx);
        let message = |job_id| PrintMessage::Cancel {
            job_id,
            reason: String::new(),
        };
        // The driver has not run yet (one thread, no await): it reads nothing.
        let mut delivered = 0;
        while !bridge.backed_up() {
            bridge.deliver(message(delivered));
            delivered += 1;
            assert!(delivered <= INBOX_CAPACITY as u64 + 1, "no bound");
        }
        assert_eq!(delivered, INBOX_CAPACITY as u64 + 1);
        assert_eq!(bridge.to_driver.capacity(), 0);
        assert_eq!(
            bridge.waiting.len(),
            1,
            "only the message that did not fit waits"
        );
        // The driver catches up: the waiting message goes in, in order.
        tokio::task::yield_now().await;
        bridge.flush();
        assert!(!bridge.backed_up());
    }

    /// SECURITY L13: the latest mode reaches the driver even when its
    /// command channel is full at that moment.
    #[tokio::test(flavor = "current_thread")]
    async fn a_mode_downgrade_with_a_full_command_channel_still_stops_printing() {
        let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
        let (out_tx, _out_rx) = mpsc::channel(OUTGOING_CAPACITY);
        let (events_tx, mut events_rx) = mpsc::channel(64);
        let bridge = PrintBridge::customer(1, Box::new(Jobs(jobs_rx)), true, out_tx, events_tx);
        bridge.set_mode(Some(ConnectionMode::ControlCustomer));
        // One thread and no await yet: the driver has not run, so its
        // command channel fills up.
        let mut filled = 0;
        while bridge.cancel(99, "busy".into()).is_ok() {
            filled += 1;
        }
        assert!(filled > 0);
        bridge.set_mode(Some(ConnectionMode::ViewCustomer)); // control ended
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.pdf");
        std::fs::write(&path, b"%PDF-1.4\n").unwrap();
        let job = VirtualPrinterJob::new(1, "payslip", DocumentFormat::Pdf, 9, Some(1), 1, path);
        jobs_tx.send(job).unwrap();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            loop {
                match events_rx.recv().await {
                    Some(SessionEvent::Print(PrintEvent::Customer(e))) => match e {
                        CustomerPrintEvent::NotSent { .. } => return "refused",
                        CustomerPrintEvent::Offered { .. } => return "offered",
                        _ => {}
                    },
                    Some(_) => {}
                    None => return "closed",
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(outcome, "refused");
    }
}
