//! [`Operator`]: a logged-in support agent's connection to the relay.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use rsupport_proto::relay::{
    CodeIssued, ContactRequest, Login, LoginResult, LoginStatus, OperatorPresence, RelayMessage,
    Secret, SessionOffer,
};
use rsupport_proto::{ConnectionMode, Role};
use tokio::sync::mpsc;

use super::connection::{ConnectionTask, LobbyItem, PlatformFactory, TaskCommand};
use super::printing::OperatorPrinting;
use super::{EndpointError, HostPlatform, RelayTarget, SessionHandle};
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
    /// Where received documents wait until printed (default: a folder in
    /// the system's temporary directory). Each is deleted when its job ends.
    pub print_spool_dir: Option<PathBuf>,
}

impl OperatorOptions {
    /// Receives the customers' print jobs into `sink`.
    pub fn with_print_sink(mut self, sink: Arc<dyn PrintSink>) -> Self {
        self.print_sink = Some(sink);
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

/// An invitation to give the customer: code, join link and expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    issued: CodeIssued,
}

impl Invitation {
    /// The session code (digits). Say it on the phone or show it; never log it.
    pub fn code(&self) -> &str {
        self.issued.code.expose()
    }

    /// The join link built from the relay's URL template (may be empty).
    pub fn join_link(&self) -> &str {
        &self.issued.join_link
    }

    /// When the code stops working, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> u64 {
        self.issued.expires_at_ms
    }
}

/// Something for the operator's console.
#[derive(Debug)]
#[non_exhaustive]
pub enum LobbyEvent {
    /// A customer asks for this operator by ID (chat-first); answer with
    /// [`Operator::answer_contact`].
    ContactRequest(ContactRequest),
    /// A session started (code joined, contact accepted, transfer accepted).
    SessionStarted(SessionHandle),
    /// A colleague offers a session (transfer) or invites us.
    SessionOffer(SessionOffer),
    /// Operators online.
    Presence(Vec<OperatorPresence>),
    /// Any other relay message.
    Relay(RelayMessage),
    /// The relay connection dropped; running sessions are being resumed
    /// (each also reports it as [`SessionEvent::Connection`](rsupport_core::session::SessionEvent::Connection)).
    ConnectionLost,
    /// Connected to the relay again. The new connection is **not logged
    /// in**: call [`Operator::login`] again (the SDK keeps no password) to
    /// issue codes or take contacts. Resumed sessions need no login.
    Reconnected,
}

/// A support agent's connection to the relay.
#[derive(Debug)]
pub struct Operator {
    commands: mpsc::UnboundedSender<TaskCommand>,
    lobby: mpsc::UnboundedReceiver<LobbyItem>,
    pending: VecDeque<LobbyItem>,
    login: Option<LoginInfo>,
}

impl Operator {
    /// Connects over TLS and says hello as an operator.
    pub async fn connect(
        target: &RelayTarget,
        options: OperatorOptions,
    ) -> Result<Operator, EndpointError> {
        let mut conn = target.connect().await?;
        let software = if options.software.is_empty() {
            concat!("rsupport/", env!("CARGO_PKG_VERSION")).to_owned()
        } else {
            options.software
        };
        conn.hello(Role::Operator, &software).await?;
        let mut make = options.platform;
        let platforms: PlatformFactory = Box::new(move || make.as_mut().map(|f| f()));
        let printing = options.print_sink.map(|sink| OperatorPrinting {
            sink,
            spool_dir: options
                .print_spool_dir
                .unwrap_or_else(|| std::env::temp_dir().join("rsupport-print-spool")),
        });
        let dial = target.dialer(Role::Operator, software);
        let (commands, lobby) = ConnectionTask::spawn(
            conn,
            Side::Operator,
            String::new(),
            platforms,
            printing,
            Some(dial),
        );
        Ok(Operator {
            commands,
            lobby,
            pending: VecDeque::new(),
            login: None,
        })
    }

    /// The login, once [`login`](Self::login) succeeded.
    pub fn login_info(&self) -> Option<&LoginInfo> {
        self.login.as_ref()
    }

    fn send(&self, message: RelayMessage) -> Result<(), EndpointError> {
        self.commands
            .send(TaskCommand::Relay(message))
            .map_err(|_| EndpointError::Connection("connection task ended".into()))
    }

    /// Waits for the first relay message `pick` accepts; others are kept for
    /// [`next_event`](Self::next_event).
    async fn await_reply<T>(
        &mut self,
        mut pick: impl FnMut(&RelayMessage) -> bool,
        map: impl FnOnce(RelayMessage) -> T,
    ) -> Result<T, EndpointError> {
        loop {
            match self.lobby.recv().await {
                Some(LobbyItem::Relay(m)) if pick(&m) => return Ok(map(m)),
                Some(other) => self.pending.push_back(other),
                None => return Err(EndpointError::Connection("relay connection closed".into())),
            }
        }
    }

    /// Logs in. `totp` is the six-digit code when the account has a second factor.
    pub async fn login(
        &mut self,
        username: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<LoginInfo, EndpointError> {
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
            .await?
            .ok_or_else(|| EndpointError::Connection("no login result".into()))?;
        if result.status != LoginStatus::Ok {
            return Err(EndpointError::Login {
                status: result.status,
                blocked_until_ms: result.blocked_until_ms,
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
    pub async fn change_password(&mut self, old: &str, new: &str) -> Result<(), EndpointError> {
        self.send(RelayMessage::ChangePassword {
            old_password: Secret::new(old.to_owned()),
            new_password: Secret::new(new.to_owned()),
        })?;
        let reply = self
            .await_reply(|m| matches!(m, RelayMessage::RequestResult(_)), |m| m)
            .await?;
        match reply {
            RelayMessage::RequestResult(r) if r.error.is_none() => {
                if let Some(login) = self.login.as_mut() {
                    login.must_change_password = false;
                }
                Ok(())
            }
            RelayMessage::RequestResult(r) => Err(EndpointError::Refused(r.detail)),
            _ => Err(EndpointError::Refused("unexpected answer".into())),
        }
    }

    /// Asks the relay for a session code (relay default TTL).
    pub async fn issue_code(&mut self) -> Result<Invitation, EndpointError> {
        self.send(RelayMessage::IssueCode { ttl_secs: 0 })?;
        let reply = self
            .await_reply(
                |m| {
                    matches!(
                        m,
                        RelayMessage::CodeIssued(_) | RelayMessage::RequestResult(_)
                    )
                },
                |m| m,
            )
            .await?;
        match reply {
            RelayMessage::CodeIssued(issued) => Ok(Invitation { issued }),
            RelayMessage::RequestResult(r) => Err(EndpointError::Refused(r.detail)),
            _ => Err(EndpointError::Refused("unexpected answer".into())),
        }
    }

    /// Accepts or declines a chat-first contact.
    pub fn answer_contact(&self, contact_id: u64, accept: bool) -> Result<(), EndpointError> {
        self.send(RelayMessage::ContactAnswer { contact_id, accept })
    }

    /// Sends any relay-control message (admin requests, transfers, invites).
    pub fn send_relay(&self, message: RelayMessage) -> Result<(), EndpointError> {
        self.send(message)
    }

    /// The next console event; `None` once the connection is gone.
    pub async fn next_event(&mut self) -> Option<LobbyEvent> {
        let item = match self.pending.pop_front() {
            Some(item) => item,
            None => self.lobby.recv().await?,
        };
        Some(match item {
            LobbyItem::Session(handle) => LobbyEvent::SessionStarted(*handle),
            LobbyItem::Relay(RelayMessage::ContactRequest(c)) => LobbyEvent::ContactRequest(c),
            LobbyItem::Relay(RelayMessage::SessionOffer(o)) => LobbyEvent::SessionOffer(o),
            LobbyItem::Relay(RelayMessage::PresenceUpdate { operators }) => {
                LobbyEvent::Presence(operators)
            }
            LobbyItem::Relay(other) => LobbyEvent::Relay(other),
            LobbyItem::Reconnecting => LobbyEvent::ConnectionLost,
            LobbyItem::Reconnected => {
                self.login = None;
                LobbyEvent::Reconnected
            }
        })
    }
}
