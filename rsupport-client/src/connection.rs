//! The connection task: owns the relay connection and one sans-IO
//! [`Session`] per live session, and moves bytes, frames and input.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rsupport_capture::source::DirtyRegion;
use rsupport_capture::BgraFrame;
use rsupport_input::GateConfig;
use rsupport_proto::control::ControlMessage;
use rsupport_proto::print::PrintMessage;
use rsupport_proto::relay::{Paired, PairingOrigin, RelayMessage};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{EndReason, Rect};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

#[path = "backlog.rs"]
mod backlog;
#[path = "file_io.rs"]
mod file_io;
#[path = "reconnect.rs"]
mod reconnect;
#[path = "slot.rs"]
mod slot;
use backlog::{BACKLOG_TICK, MAX_HELD};
pub(crate) use backlog::{EVENT_CAPACITY, LOBBY_CAPACITY};
pub(crate) use reconnect::Dialer;
use slot::Slot;

use super::handle::{SessionCommand, SessionHandle};
use super::platform::HostPlatform;
use super::printing::{self as printing, OperatorPrinting, PrintBridge};
use super::viewer::{Latest, ViewerShared};
use super::ClientError;
use crate::encryption::{CodeSecrets, Encryption};
use rsupport_core::e2e::KeyExchange;
use rsupport_core::session::{Session, SessionConfig, SessionEvent, SessionPolicy, Side};
use rsupport_net::{Incoming, LinkError, RelayConnection};

/// Keep-alive interval (well under the relay's idle timeout).
const PING_EVERY: Duration = Duration::from_secs(30);
/// File chunks sent per session per round of the task loop.
const BULK_PER_ROUND: usize = 4;
/// How long the task sleeps when nothing is scheduled.
const IDLE_TICK: Duration = Duration::from_millis(500);
/// How long a side whose peer ended the session waits for the relay's
/// `SessionEnded` before leaving by itself. The peer's `LeaveSession` follows
/// its `End` on the peer's connection; leaving first would make the relay
/// record this side as the one that ended it (seen under load in CI).
const PEER_LEAVE_GRACE: Duration = Duration::from_secs(3);
/// Something for the party's lobby (operator or customer handle).
#[derive(Debug)]
// A relay message moves once through the lobby's bounded channel; boxing it
// would add an allocation per message and save nothing that matters.
#[allow(clippy::large_enum_variant)]
pub(crate) enum LobbyItem {
    /// A relay-control message that is not about a running session.
    Relay(RelayMessage),
    /// A session started.
    Session(Box<SessionHandle>),
    /// The relay connection dropped; live sessions are being resumed.
    Reconnecting,
    /// Connected again (an operator must log in again).
    Reconnected,
}

/// A command to the connection task.
#[derive(Debug)]
pub(crate) enum TaskCommand {
    /// Send a relay-control message.
    Relay(RelayMessage),
    /// Act on a session.
    Session(u64, SessionCommand),
    /// The name sessions started from now on show in chat.
    DisplayName(String),
    /// Operator: the secret digits of a code the relay just issued.
    CodeIssued {
        routing: String,
        secret: rsupport_proto::relay::Secret<String>,
    },
    /// Operator: a code was cancelled; its secret is no longer needed.
    CodeCancelled(String),
    /// Customer: the secret digits of the code it joins with.
    Joining(rsupport_proto::relay::Secret<String>),
    /// Offer these entries (listed off the task from an `OfferFiles`).
    OfferEntries {
        session: u64,
        entries: Vec<rsupport_core::files::OutgoingEntry>,
        reply: oneshot::Sender<Result<u64, ClientError>>,
    },
}

/// Builds a host platform for each new session (None: this side never hosts).
pub(crate) type PlatformFactory = Box<dyn FnMut() -> Option<HostPlatform> + Send>;

pub(crate) struct ConnectionTask<S> {
    conn: RelayConnection<S>,
    side: Side,
    display_name: String,
    gate: GateConfig,
    sessions: HashMap<u64, Slot>,
    commands: mpsc::UnboundedReceiver<TaskCommand>,
    command_tx: mpsc::UnboundedSender<TaskCommand>,
    lobby: mpsc::Sender<LobbyItem>,
    /// Lobby items waiting for room (only the newest presence list is kept).
    lobby_backlog: VecDeque<LobbyItem>,
    /// Sessions we left whose end the relay has not confirmed; its
    /// "no such session" answer (the peer left first) is not the lobby's.
    leaving: VecDeque<(u64, EndReason)>,
    platforms: PlatformFactory,
    /// The operator's printer or folder for jobs customers print.
    operator_printing: Option<OperatorPrinting>,
    print_out_tx: printing::Outgoing,
    print_out: mpsc::Receiver<(u64, PrintMessage)>,
    /// Opens a new connection after a drop (`None`: never reconnect).
    dial: Option<Dialer<S>>,
    resuming: reconnect::Resuming,
    /// Runs file IO off this task.
    file_io: file_io::FileWorkers,
    /// End-to-end encryption settings.
    encryption: Encryption,
    /// Secret digits of session codes (never sent to the relay).
    secrets: CodeSecrets,
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> ConnectionTask<S> {
    /// Spawns the task; returns the command sender and the lobby receiver.
    pub(crate) fn spawn(
        conn: RelayConnection<S>,
        side: Side,
        display_name: String,
        platforms: PlatformFactory,
        operator_printing: Option<OperatorPrinting>,
        dial: Option<Dialer<S>>,
        encryption: Encryption,
    ) -> (
        mpsc::UnboundedSender<TaskCommand>,
        mpsc::Receiver<LobbyItem>,
    ) {
        let (command_tx, commands) = mpsc::unbounded_channel();
        let (lobby, lobby_rx) = mpsc::channel(LOBBY_CAPACITY);
        let (print_out_tx, print_out) = mpsc::channel(printing::OUTGOING_CAPACITY);
        let task = ConnectionTask {
            conn,
            side,
            display_name,
            gate: GateConfig::default(),
            sessions: HashMap::new(),
            commands,
            command_tx: command_tx.clone(),
            lobby,
            lobby_backlog: VecDeque::new(),
            leaving: VecDeque::new(),
            platforms,
            operator_printing,
            print_out_tx,
            print_out,
            dial,
            resuming: reconnect::Resuming::default(),
            file_io: file_io::FileWorkers::new(),
            encryption,
            secrets: CodeSecrets::default(),
        };
        tokio::spawn(task.run());
        (command_tx, lobby_rx)
    }

    async fn run(mut self) {
        // Each round serves one relay connection; a dropped one is replaced
        // while sessions are live, or when a customer still waiting to join
        // asks for something (see `reconnect`).
        while let Some(error) = self.serve().await {
            if !self.try_reconnect(&error).await && !self.redial_for_next_request(&error).await {
                break;
            }
        }
        for slot in self.sessions.values_mut() {
            if let Some(p) = slot.platform.as_mut() {
                p.finish();
            }
        }
        // Dropping the slots closes every handle's event stream.
    }

    /// Runs on the current connection until it fails (`Some`) or every
    /// handle is gone (`None`).
    async fn serve(&mut self) -> Option<LinkError> {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        let mut nonce = 0u64;
        loop {
            if let Err(e) = self.flush().await {
                debug!("relay connection lost: {e}");
                return Some(e);
            }
            let deadline = self.next_deadline();
            let print_room = self.print_room();
            tokio::select! {
                incoming = self.conn.recv() => match incoming {
                    Ok(Incoming::Session(envelope)) => self.on_envelope(envelope),
                    Ok(Incoming::Relay(message)) => {
                        if let Some(message) = self.on_path_notice(message).await {
                            self.on_relay(message);
                        }
                    }
                    // A kind of frame this version does not know: not ours to act on.
                    Ok(_) => {}
                    Err(e) => {
                        debug!("relay connection ended: {e}");
                        return Some(e);
                    }
                },
                // While a Resume is unanswered, commands wait: their answers
                // could be taken for the Resume's.
                command = self.commands.recv(), if self.resuming.awaiting.is_none() => match command {
                    Some(command) => self.on_command(command).await,
                    None => return None,
                },
                Some((id, message)) = self.print_out.recv(), if print_room => {
                    if let Some(slot) = self.sessions.get_mut(&id) {
                        slot.session.send_channel_message(SessionMessage::Print(message));
                    }
                }
                Some(done) = self.file_io.done.recv() => {
                    let sessions = &mut self.sessions;
                    self.file_io.deliver(done, |id, io, result, now| {
                        if let Some(slot) = sessions.get_mut(&id) {
                            slot.session.handle_io(io, result, now);
                        }
                    });
                }
                () = tokio::time::sleep_until(deadline.into()) => self.on_tick(),
                _ = ping.tick() => {
                    nonce += 1;
                    let _ = self.conn.send(&RelayMessage::Ping { nonce }).await;
                }
            }
        }
    }

    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        let mut deadline = now + IDLE_TICK;
        if !self.lobby_backlog.is_empty() {
            deadline = now + BACKLOG_TICK;
        }
        for slot in self.sessions.values() {
            if slot.behind() || !slot.screen_pending.is_empty() {
                deadline = deadline.min(now + BACKLOG_TICK);
            }
            if slot.session.has_bulk_to_send() {
                return now;
            }
            if let Some(t) = slot.session.poll_timeout() {
                deadline = deadline.min(t);
            }
            if let Some(t) = slot.leave_at {
                deadline = deadline.min(t);
            }
            if slot.session.sends_screen() {
                if let Some(t) = slot.session.screen_host().next_frame_at(now) {
                    deadline = deadline.min(t);
                }
            }
        }
        deadline.max(now)
    }

    /// Print data is taken from the drivers only while every session's
    /// queue is short and reaches the peer: a document moves no faster than
    /// the connection, and none is read while a reconnect is pending.
    fn print_room(&self) -> bool {
        self.sessions.values().all(|slot| {
            slot.path_open() && slot.session.queued_messages() < printing::OUTGOING_CAPACITY
        })
    }

    // ----- inputs

    fn on_envelope(&mut self, envelope: rsupport_proto::envelope::Envelope) {
        let id = envelope.session_id;
        let Some(slot) = self.sessions.get_mut(&id) else {
            return; // a late frame of a session that just ended
        };
        if slot.behind() {
            slot.hold(envelope);
        } else {
            slot.handle_envelope(envelope);
        }
    }

    fn on_relay(&mut self, message: RelayMessage) {
        match message {
            RelayMessage::Paired(paired)
                if paired.origin == PairingOrigin::Transfer
                    && self.sessions.contains_key(&paired.session_id) =>
            {
                self.take_over(paired)
            }
            RelayMessage::Paired(paired) => self.start_session(paired),
            RelayMessage::SessionEnded {
                session_id, reason, ..
            } if self.sessions.contains_key(&session_id) => {
                if let Some(slot) = self.sessions.get_mut(&session_id) {
                    slot.left = true; // the relay already knows
                    if slot.held.is_empty() {
                        slot.session.relay_ended(reason);
                    } else {
                        // After what the peer sent before it.
                        slot.pending_end = Some(reason);
                    }
                }
            }
            RelayMessage::TimeLimitWarning {
                session_id,
                remaining_ms,
            } => {
                if let Some(slot) = self.sessions.get_mut(&session_id) {
                    slot.emit(SessionEvent::Notice(ControlMessage::TimeWarning {
                        remaining_ms,
                    }));
                }
            }
            RelayMessage::Ping { nonce } => {
                let _ = self
                    .command_tx
                    .send(TaskCommand::Relay(RelayMessage::Pong { nonce }));
            }
            RelayMessage::Pong { .. } => {}
            // The relay's answers to our own LeaveSession: not the lobby's.
            RelayMessage::SessionEnded {
                session_id, reason, ..
            } => {
                // Ended by our own leave: nothing more comes. Ended by the
                // peer's leave first: our leave is answered "no such session".
                self.leaving
                    .retain(|(id, ours)| !(*id == session_id && *ours == reason));
            }
            RelayMessage::RequestResult(r)
                if r.error == Some(rsupport_proto::relay::RequestError::NotFound)
                    && r.detail == "no such session"
                    && self.leaving.pop_front().is_some() => {}
            other => self.send_lobby(LobbyItem::Relay(other)),
        }
    }

    /// A fresh session state machine for `paired`.
    fn new_session(
        &mut self,
        paired: &Paired,
        platform: Option<&mut HostPlatform>,
    ) -> Option<Session> {
        let key_exchange = self
            .secrets
            .key_exchange(self.side, paired, &self.encryption);
        let plaintext = matches!(key_exchange, KeyExchange::Plaintext);
        // The admin's list as given: an empty list means chat only, never
        // "everything" (SECURITY M5).
        let policy = SessionPolicy::allowing(paired.allowed_modes.iter().copied());
        let download_dir = platform.as_ref().and_then(|p| p.download_dir.clone());
        let max_received = platform.as_ref().and_then(|p| p.max_received_bytes);
        let mapper = match platform.and_then(|p| p.input_mapper(&[], 0)) {
            Some(m) => m,
            None => placeholder_mapper()?,
        };
        let mut session = Session::new(
            SessionConfig {
                side: self.side,
                session_id: paired.session_id,
                display_name: self.display_name.clone(),
                policy,
                gate: self.gate,
                full_file_control: paired.full_file_control,
                download_dir,
                key_exchange,
            },
            mapper,
        );
        if plaintext && !self.encryption.allow_plaintext {
            session.end(
                EndReason::NotEncrypted,
                "the other side's program cannot encrypt end to end, and this program does \
                 not accept sessions the relay could read; update the other program",
            );
        }
        if let Some(bytes) = max_received {
            session.files().set_max_received_bytes(bytes);
        }
        Some(session)
    }

    /// Customer: a colleague took the session over. The same handle goes
    /// on with a fresh session state (nothing is shared until the new
    /// operator asks and the customer allows it again).
    fn take_over(&mut self, paired: Paired) {
        let Some(mut platform) = self
            .sessions
            .get_mut(&paired.session_id)
            .map(|slot| slot.platform.take())
        else {
            return;
        };
        let session = self.new_session(&paired, platform.as_mut());
        let Some(slot) = self.sessions.get_mut(&paired.session_id) else {
            return;
        };
        slot.platform = platform;
        let Some(session) = session else {
            return;
        };
        if let Some(p) = slot.platform.as_mut() {
            // Releases held keys and buttons before the old state goes.
            let _ = slot.session.inject_pending(&mut p.injector);
            p.finish();
        }
        slot.session = session;
        slot.hosting = false;
        slot.token = paired.resume_token.clone();
        slot.emit(SessionEvent::Notice(ControlMessage::TransferNotice {
            to_operator_name: paired.peer_name,
            note: String::new(),
        }));
    }

    fn start_session(&mut self, paired: Paired) {
        let mut platform = (self.platforms)();
        let Some(session) = self.new_session(&paired, platform.as_mut()) else {
            return;
        };
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let print = self.print_bridge(&paired, platform.as_mut(), &events_tx);
        let (screen, latest) = (ViewerShared::new(), Arc::new(Latest::default()));
        let protection = Arc::new(std::sync::Mutex::new(session.protection().clone()));
        let handle = SessionHandle::new(
            self.side,
            paired.clone(),
            self.command_tx.clone(),
            events_rx,
            screen.clone(),
            latest.clone(),
            protection.clone(),
        );
        self.sessions.insert(
            paired.session_id,
            Slot {
                session,
                events: events_tx,
                overflow: VecDeque::new(),
                held: VecDeque::new(),
                screen,
                latest,
                screen_pending: Vec::new(),
                screen_shown: false,
                pending_end: None,
                platform,
                hosting: false,
                frame: BgraFrame::filled(0, 0, [0; 4]),
                scaled: BgraFrame::filled(0, 0, [0; 4]),
                dirty: DirtyRegion::new(),
                cursor: None,
                cursor_shape_id: 0,
                left: false,
                leave_at: None,
                on_left: Vec::new(),
                print,
                token: paired.resume_token.clone(),
                cut: false,
                peer_away: false,
                protection,
            },
        );
        self.send_lobby(LobbyItem::Session(Box::new(handle)));
    }

    /// The customer prints when its platform has a printer; the operator
    /// receives when its program set a printer or folder.
    fn print_bridge(
        &self,
        paired: &Paired,
        platform: Option<&mut HostPlatform>,
        events: &mpsc::Sender<SessionEvent>,
    ) -> Option<PrintBridge> {
        let (id, allows, out) = (
            paired.session_id,
            paired.remote_printing,
            self.print_out_tx.clone(),
        );
        match self.side {
            Side::Customer => {
                let printer = platform.and_then(|p| p.printer.take())?;
                Some(PrintBridge::customer(
                    id,
                    printer,
                    allows,
                    out,
                    events.clone(),
                ))
            }
            Side::Operator => {
                let printing = self.operator_printing.clone()?;
                Some(PrintBridge::operator(
                    id,
                    printing,
                    allows,
                    out,
                    events.clone(),
                ))
            }
        }
    }

    async fn on_command(&mut self, command: TaskCommand) {
        match command {
            TaskCommand::Relay(message) => {
                let _ = self.conn.send(&message).await;
            }
            TaskCommand::DisplayName(name) => self.display_name = name,
            TaskCommand::CodeIssued { routing, secret } => self.secrets.issued(routing, secret),
            TaskCommand::CodeCancelled(routing) => self.secrets.forget(&routing),
            TaskCommand::Joining(secret) => self.secrets.joining(secret),
            TaskCommand::Session(id, SessionCommand::OfferFiles { path, reply }) => {
                file_io::offer_later(id, path, reply, self.command_tx.clone());
            }
            TaskCommand::OfferEntries {
                session,
                entries,
                reply,
            } => {
                if let Some(slot) = self.sessions.get_mut(&session) {
                    let _ = reply.send(Ok(slot.session.files().offer(entries, Instant::now())));
                }
            }
            TaskCommand::Session(id, command) => {
                if let Some(slot) = self.sessions.get_mut(&id) {
                    slot.command(command);
                }
                // Commands for a finished session drop their reply sender:
                // the handle sees `SessionEnded`.
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        for slot in self.sessions.values_mut() {
            if slot.hosting
                && slot
                    .platform
                    .as_mut()
                    .is_some_and(HostPlatform::poll_local_activity)
            {
                slot.session.local_activity(now);
            }
            slot.session.handle_timeout(now);
            if slot.path_open() {
                slot.capture(now);
            }
        }
    }

    // ----- outputs

    async fn flush(&mut self) -> Result<(), LinkError> {
        self.drain_lobby_backlog();
        let mut finished = Vec::new();
        for (id, slot) in self.sessions.iter_mut() {
            // Admitted input, and the releases every stop queues, reach the
            // host's machine here, whatever caused them.
            if let Some(platform) = slot.platform.as_mut() {
                if let Err(e) = slot.session.inject_pending(&mut platform.injector) {
                    warn!(session = id, "input injection failed: {e}");
                }
            }
            // Disk IO of file transfers runs on blocking workers.
            self.file_io.start(*id, &mut slot.session);
            let delivered = slot.pump_events();
            // File data goes out a few chunks per round so that frames and
            // input captured meanwhile are not stuck behind a large file.
            let mut bulk = 0;
            while let Some(envelope) = slot.session.poll_transmit() {
                if !slot.path_open() {
                    continue; // the relay has nowhere to deliver it
                }
                self.conn.send_envelope(&envelope).await?;
                if envelope.priority == rsupport_proto::envelope::Priority::Bulk {
                    bulk += 1;
                    if bulk >= BULK_PER_ROUND {
                        break;
                    }
                }
            }
            // A session that ended while resumes are in flight leaves after
            // them, so the relay's answer to its LeaveSession is not misread.
            // It also waits until its last events reached the handle (unless
            // its product stopped reading for good, see `Slot::hold`, or is
            // waiting in `end()` and so cannot read them).
            if slot.session.is_ended()
                && self.resuming.awaiting.is_none()
                && (delivered || slot.held.len() >= MAX_HELD || !slot.on_left.is_empty())
            {
                if !slot.left && slot.session.ended_by_peer() {
                    let now = Instant::now();
                    if now < *slot.leave_at.get_or_insert(now + PEER_LEAVE_GRACE) {
                        continue; // the relay's SessionEnded is on its way
                    }
                }
                finished.push(*id);
            }
        }
        for id in finished {
            if let Some(mut slot) = self.sessions.remove(&id) {
                if let Some(p) = slot.platform.as_mut() {
                    // The end released every held key and button: perform it.
                    let _ = slot.session.inject_pending(&mut p.injector);
                    p.finish();
                }
                if !slot.left {
                    let reason = slot
                        .session
                        .end_reason()
                        .unwrap_or(EndReason::ProtocolError);
                    // The reason the relay reports when our leave ends it.
                    let ours = match (reason, self.side) {
                        (
                            EndReason::ConsentDenied
                            | EndReason::ProtocolError
                            | EndReason::PeerMisbehaved
                            | EndReason::KeyExchangeFailed
                            | EndReason::Tampered
                            | EndReason::NotEncrypted,
                            _,
                        ) => reason,
                        (_, Side::Operator) => EndReason::OperatorEnded,
                        (_, Side::Customer) => EndReason::CustomerEnded,
                    };
                    self.leaving.push_back((id, ours));
                    self.conn
                        .send(&RelayMessage::LeaveSession {
                            session_id: id,
                            reason,
                        })
                        .await?;
                }
                for told in slot.on_left.drain(..) {
                    let _ = told.send(());
                }
            }
        }
        Ok(())
    }
}

/// A side without a platform never injects; a one-pixel area keeps the
/// input pipeline total.
fn placeholder_mapper() -> Option<rsupport_input::CoordinateMapper> {
    rsupport_input::CoordinateMapper::for_monitor(
        vec![rsupport_input::Monitor::new(Rect::new(0, 0, 1, 1), 1.0)],
        0,
        1,
        1,
    )
    .ok()
}
