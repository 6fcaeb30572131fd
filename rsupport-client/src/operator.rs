//! [`Operator`]: a logged-in support agent's connection to the relay.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rsupport_proto::relay::{
    ContactRequest, Login, LoginResult, LoginStatus, OperatorPresence, RelayMessage, RequestResult,
    Secret, SessionHandover, SessionOffer,
};
use rsupport_proto::{ConnectionMode, Role};
use tokio::sync::mpsc;
use tracing::debug;

use super::admin::Admin;
use super::connection::{ConnectionTask, LobbyItem, PlatformFactory, TaskCommand};
use super::invite::Invitation;
use super::printing::OperatorPrinting;
use super::{ClientError, HostPlatform, NotAllowed, RelayTarget, SessionHandle};
use rsupport_core::e2e::SplitCode;
use rsupport_core::session::Side;
use rsupport_print::PrintSink;

/// Options for an operator connection.
#[derive(Default)]
#[non_exhaustive]
pub struct OperatorOptions {
    /// Software name for the relay's audit log.
    pub software: String,
    /// Makes the operator's platform for the "share / show operator screen"
    /// modes; without one, the operator never hosts.
    pub platform: Option<Box<dyn FnMut() -> HostPlatform + Send>>,
    /// Where jobs customers print go: a printer queue
    /// ([`CupsQueueSink`](rsupport_print::CupsQueueSink)) or a folder
    /// ([`SaveToDirectory`](rsupport_print::SaveToDirectory)). Without one,
    /// print jobs are declined.
    pub print_sink: Option<Arc<dyn PrintSink>>,
    /// Where received documents wait until printed (default:
    /// `$XDG_RUNTIME_DIR/rsupport-print-spool`, else a folder of this user
    /// in the system's temporary directory). It must be private to this
    /// user (mode 0700; created so when missing, refused otherwise). Each
    /// document is deleted when its job ends.
    pub print_spool_dir: Option<PathBuf>,
}

impl OperatorOptions {
    /// Receives the customers' print jobs into `sink`.
    pub fn with_print_sink(mut self, sink: Arc<dyn PrintSink>) -> Self {
        self.print_sink = Some(sink);
        self
    }

    /// Names this program in the relay's audit log ("acme-helpdesk/4.2").
    pub fn with_software(mut self, software: impl Into<String>) -> Self {
        self.software = software.into();
        self
    }

    /// Lets the operator host ("share / show operator screen"): `make`
    /// builds the platform for each session that needs it.
    pub fn with_platform(mut self, make: impl FnMut() -> HostPlatform + Send + 'static) -> Self {
        self.platform = Some(Box::new(make));
        self
    }

    /// Where received print documents wait until printed.
    pub fn with_print_spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.print_spool_dir = Some(dir.into());
        self
    }
}

impl std::fmt::Debug for OperatorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorOptions")
            .field("software", &self.software)
            .field("platform", &self.platform.is_some())
            .field("print_sink", &self.print_sink.is_some())
            .field("print_spool_dir", &self.print_spool_dir)
            .finish()
    }
}

/// What the relay knows about the logged-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginInfo {
    /// The ID customers use for chat-first contact.
    pub operator_id: String,
    /// Display name.
    pub display_name: String,
    /// Operator or admin.
    pub role: Role,
    /// Modes this operator may request.
    pub allowed_modes: Vec<ConnectionMode>,
    /// File offers skip the customer's prompt in control modes.
    pub full_file_control: bool,
    /// The password must be changed before anything else.
    pub must_change_password: bool,
}

/// Something for the operator's console.
///
/// The lobby channel is bounded; a console that stops reading loses
/// nothing but older presence lists (only the newest is kept), and no
/// session waits for it (see the crate docs, "Events and backpressure").
#[derive(Debug)]
#[non_exhaustive]
pub enum LobbyEvent {
    /// A customer asks for this operator by ID (chat-first); answer with
    /// [`Operator::answer_contact`].
    ContactRequest(ContactRequest),
    /// A session started (code joined, contact accepted, transfer accepted).
    SessionStarted(SessionHandle),
    /// A colleague offers a session (transfer); answer with
    /// [`Operator::answer_offer`].
    SessionOffer(SessionOffer),
    /// Operators online (for transfer pickers).
    Presence(Vec<OperatorPresence>),
    /// A transfer this operator started was not taken: the colleague
    /// declined, or the offer could not be delivered. The session stays here.
    TransferRefused {
        /// What the relay said.
        detail: String,
    },
    /// The relay connection dropped; running sessions are being resumed
    /// (each also reports it as [`SessionEvent::Connection`](rsupport_core::session::SessionEvent::Connection)).
    ConnectionLost,
    /// Connected to the relay again. The new connection is **not logged
    /// in**: call [`Operator::login`] again (the SDK keeps no password) to
    /// issue codes or take contacts. Resumed sessions need no login.
    Reconnected,
}

/// A support agent's connection to the relay.
///
/// Requests (`login`, `issue_code`, …) take `&mut self` and wait for the
/// relay's answer; console events that arrive meanwhile are kept for
/// [`next_event`](Self::next_event).
#[derive(Debug)]
pub struct Operator {
    commands: mpsc::UnboundedSender<TaskCommand>,
    lobby: mpsc::Receiver<LobbyItem>,
    pending: VecDeque<LobbyItem>,
    login: Option<LoginInfo>,
    /// Transfers started and not yet settled: a later refusal is theirs.
    transfers_pending: usize,
    next_admin_request: u64,
    /// Behaves as a protocol-1 program: shows the relay's code as issued.
    protocol_1: bool,
}

impl Operator {
    /// Connects over TLS and says hello as an operator.
    pub async fn connect(
        target: &RelayTarget,
        options: OperatorOptions,
    ) -> Result<Operator, ClientError> {
        let mut conn = target.connect().await?;
        let software = if options.software.is_empty() {
            concat!("rsupport/", env!("CARGO_PKG_VERSION")).to_owned()
        } else {
            options.software
        };
        target.hello(&mut conn, Role::Operator, &software).await?;
        let mut make = options.platform;
        let platforms: PlatformFactory = Box::new(move || make.as_mut().map(|f| f()));
        let printing = options.print_sink.map(|sink| OperatorPrinting {
            sink,
            // Made private (ours, 0700) before the first document: see
            // rsupport_print::spool.
            spool_dir: options.print_spool_dir.unwrap_or_else(|| {
                rsupport_print::spool::default_spool_path("rsupport-print-spool")
            }),
        });
        let dial = target.dialer(Role::Operator, software);
        let (commands, lobby) = ConnectionTask::spawn(
            conn,
            Side::Operator,
            String::new(),
            platforms,
            printing,
            Some(dial),
            target.encryption().clone(),
        );
        Ok(Operator {
            commands,
            lobby,
            pending: VecDeque::new(),
            login: None,
            transfers_pending: 0,
            next_admin_request: 1,
            protocol_1: target.encryption().speaks_protocol_1(),
        })
    }

    /// The login, once [`login`](Self::login) succeeded.
    pub fn login_info(&self) -> Option<&LoginInfo> {
        self.login.as_ref()
    }

    pub(crate) fn send(&self, message: RelayMessage) -> Result<(), ClientError> {
        self.commands
            .send(TaskCommand::Relay(message))
            .map_err(|_| ClientError::lost())
    }

    fn require_login(&self) -> Result<&LoginInfo, ClientError> {
        self.login
            .as_ref()
            .ok_or(ClientError::NotAllowed(NotAllowed::NotLoggedIn))
    }

    /// Waits for the first relay message `pick` accepts; others are kept for
    /// [`next_event`](Self::next_event).
    pub(crate) async fn await_reply<T>(
        &mut self,
        mut pick: impl FnMut(&RelayMessage) -> bool,
        map: impl FnOnce(RelayMessage) -> Option<T>,
    ) -> Result<T, ClientError> {
        loop {
            match self.lobby.recv().await {
                Some(LobbyItem::Relay(m)) if pick(&m) => {
                    return map(m).ok_or_else(ClientError::lost)
                }
                Some(other) => self.pending.push_back(other),
                None => return Err(ClientError::lost()),
            }
        }
    }

    /// Sends `message` and waits for the relay's `RequestResult`.
    async fn request(
        &mut self,
        action: &'static str,
        message: RelayMessage,
    ) -> Result<(), ClientError> {
        self.send(message)?;
        let result: RequestResult = self
            .await_reply(
                |m| matches!(m, RelayMessage::RequestResult(_)),
                |m| match m {
                    RelayMessage::RequestResult(r) => Some(r),
                    _ => None,
                },
            )
            .await?;
        if result.is_ok() {
            Ok(())
        } else {
            Err(ClientError::refused(action, result))
        }
    }

    pub(crate) fn next_admin_request(&mut self) -> u64 {
        let id = self.next_admin_request;
        self.next_admin_request += 1;
        id
    }

    /// Logs in. `totp` is the six-digit code when the account has a second factor.
    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<LoginInfo, ClientError> {
        self.send(RelayMessage::Login(Login {
            username: username.to_owned(),
            password: Secret::new(password.to_owned()),
            totp: Secret::new(totp.unwrap_or_default().to_owned()),
        }))?;
        let result: LoginResult = self
            .await_reply(
                |m| matches!(m, RelayMessage::LoginResult(_)),
                |m| match m {
                    RelayMessage::LoginResult(r) => Some(r),
                    _ => None,
                },
            )
            .await?;
        if result.status != LoginStatus::Ok {
            return Err(ClientError::LoginRefused {
                status: result.status,
                blocked_until_ms: (result.blocked_until_ms != 0).then_some(result.blocked_until_ms),
            });
        }
        let info = LoginInfo {
            operator_id: result.operator_id,
            display_name: result.display_name,
            role: result.role.unwrap_or(Role::Operator),
            allowed_modes: result.allowed_modes,
            full_file_control: result.full_file_control,
            must_change_password: result.must_change_password,
        };
        let _ = self
            .commands
            .send(TaskCommand::DisplayName(info.display_name.clone()));
        self.login = Some(info.clone());
        Ok(info)
    }

    /// Changes our own password (required after an admin reset, see
    /// [`LoginInfo::must_change_password`]). The relay checks the policy.
    pub async fn change_password(&mut self, old: &str, new: &str) -> Result<(), ClientError> {
        self.require_login()?;
        self.request(
            "change the password",
            RelayMessage::ChangePassword {
                old_password: Secret::new(old.to_owned()),
                new_password: Secret::new(new.to_owned()),
            },
        )
        .await?;
        if let Some(login) = self.login.as_mut() {
            login.must_change_password = false;
        }
        Ok(())
    }

    /// Asks the relay for a session code with the relay's default lifetime.
    pub async fn issue_code(&mut self) -> Result<Invitation, ClientError> {
        self.issue(0).await
    }

    /// Asks the relay for a session code that works for `ttl` (whole
    /// seconds, at least one); the relay may shorten it to its own limit.
    /// [`Invitation::expires_at_ms`] says what was granted.
    pub async fn issue_code_with_ttl(&mut self, ttl: Duration) -> Result<Invitation, ClientError> {
        let secs = u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX).max(1);
        self.issue(secs).await
    }

    async fn issue(&mut self, ttl_secs: u32) -> Result<Invitation, ClientError> {
        self.require_login()?;
        self.send(RelayMessage::IssueCode { ttl_secs })?;
        let reply = self
            .await_reply(
                |m| {
                    matches!(
                        m,
                        RelayMessage::CodeIssued(_) | RelayMessage::RequestResult(_)
                    )
                },
                Some,
            )
            .await?;
        match reply {
            RelayMessage::CodeIssued(issued) if self.protocol_1 => {
                // What a program from before end-to-end encryption shows.
                Ok(Invitation::new(
                    issued.code.expose().clone(),
                    issued.join_link,
                    issued.expires_at_ms,
                ))
            }
            RelayMessage::CodeIssued(issued) => {
                // The relay's digits find the session; ours, which never
                // reach the relay, key its end-to-end encryption.
                let code = SplitCode::extend(issued.code.expose()).map_err(|e| {
                    ClientError::Encryption {
                        detail: e.to_string(),
                    }
                })?;
                let _ = self.commands.send(TaskCommand::CodeIssued {
                    routing: code.routing.clone(),
                    secret: code.secret.clone(),
                });
                Ok(Invitation::issued(issued, &code))
            }
            RelayMessage::RequestResult(r) => Err(ClientError::refused("issue a session code", r)),
            _ => Err(ClientError::lost()),
        }
    }

    /// Withdraws an unused code at once (the customer hung up, the code
    /// was read out to the wrong person). Refused with `NotFound` when the
    /// code was used, expired or is not this operator's.
    pub async fn cancel_code(&mut self, invitation: &Invitation) -> Result<(), ClientError> {
        self.require_login()?;
        let routing = if self.protocol_1 {
            invitation.code().to_owned()
        } else {
            invitation.routing_code().to_owned()
        };
        let _ = self
            .commands
            .send(TaskCommand::CodeCancelled(routing.clone()));
        self.request(
            "cancel the session code",
            RelayMessage::CancelCode {
                code: Secret::new(routing),
            },
        )
        .await
    }

    /// Accepts or declines a chat-first contact.
    pub fn answer_contact(&self, contact_id: u64, accept: bool) -> Result<(), ClientError> {
        self.send(RelayMessage::ContactAnswer { contact_id, accept })
    }

    /// Hands a running session to a colleague (by operator ID), with a note
    /// for them. Returns once the relay delivered the offer; when the
    /// colleague accepts, our [`SessionHandle`] ends with
    /// [`EndReason::Transferred`](rsupport_proto::EndReason::Transferred);
    /// when they decline, [`LobbyEvent::TransferRefused`] arrives and the
    /// session stays here.
    pub async fn transfer_session(
        &mut self,
        session: &SessionHandle,
        operator_id: &str,
        note: &str,
    ) -> Result<(), ClientError> {
        self.require_login()?;
        self.request(
            "hand the session over",
            RelayMessage::TransferSession(SessionHandover {
                session_id: session.session_id(),
                operator_id: operator_id.to_owned(),
                note: note.to_owned(),
            }),
        )
        .await?;
        self.transfers_pending += 1;
        Ok(())
    }

    /// Accepts or declines a colleague's [`LobbyEvent::SessionOffer`]. On
    /// accept, the session arrives as [`LobbyEvent::SessionStarted`].
    pub fn answer_offer(&self, offer_id: u64, accept: bool) -> Result<(), ClientError> {
        self.send(RelayMessage::SessionOfferAnswer { offer_id, accept })
    }

    /// Administration (accounts, settings, audit, ending sessions), for an
    /// account with the admin role. Refused locally when not logged in as
    /// an admin.
    pub fn admin(&mut self) -> Result<Admin<'_>, ClientError> {
        let login = self.require_login()?;
        if login.role != Role::Admin {
            return Err(ClientError::NotAllowed(NotAllowed::NotAdmin));
        }
        Ok(Admin::new(self))
    }

    /// The next console event; `None` once the connection is gone.
    pub async fn next_event(&mut self) -> Option<LobbyEvent> {
        loop {
            let item = match self.pending.pop_front() {
                Some(item) => item,
                None => self.lobby.recv().await?,
            };
            let event = match item {
                LobbyItem::Session(handle) => LobbyEvent::SessionStarted(*handle),
                LobbyItem::Relay(RelayMessage::ContactRequest(c)) => LobbyEvent::ContactRequest(c),
                LobbyItem::Relay(RelayMessage::SessionOffer(o)) => LobbyEvent::SessionOffer(o),
                LobbyItem::Relay(RelayMessage::PresenceUpdate { operators }) => {
                    LobbyEvent::Presence(operators)
                }
                LobbyItem::Relay(RelayMessage::RequestResult(r))
                    if !r.is_ok() && self.transfers_pending > 0 =>
                {
                    self.transfers_pending -= 1;
                    LobbyEvent::TransferRefused { detail: r.detail }
                }
                LobbyItem::Relay(other) => {
                    debug!("relay message with no console event: {other:?}");
                    continue;
                }
                LobbyItem::Reconnecting => LobbyEvent::ConnectionLost,
                LobbyItem::Reconnected => {
                    self.login = None;
                    LobbyEvent::Reconnected
                }
            };
            return Some(event);
        }
    }
}
