//! [`Customer`]: the customer's program, joining by code or contacting an
//! operator by ID.

use rsupport_proto::relay::{ContactOperator, CustomerInfo, RelayMessage, Secret};
use rsupport_proto::Role;
use tokio::sync::mpsc;

use super::connection::{ConnectionTask, LobbyItem, TaskCommand};
use super::{ClientError, HostPlatform, RelayTarget, SessionHandle};
use rsupport_core::e2e::SplitCode;
use rsupport_core::session::Side;

/// The customer's connection to the relay. Consumed by
/// [`join`](Self::join) or [`contact`](Self::contact).
#[derive(Debug)]
pub struct Customer {
    commands: mpsc::UnboundedSender<TaskCommand>,
    lobby: mpsc::Receiver<LobbyItem>,
    /// Behaves as a protocol-1 program: sends every digit to the relay.
    protocol_1: bool,
}

impl Customer {
    /// Connects over TLS. `platform` is what the operator will see and
    /// control — after the customer consents, never before.
    pub async fn connect(
        target: &RelayTarget,
        platform: HostPlatform,
    ) -> Result<Customer, ClientError> {
        let software = concat!("rsupport/", env!("CARGO_PKG_VERSION"));
        let mut conn = target.connect().await?;
        target.hello(&mut conn, Role::Customer, software).await?;
        let mut platform = Some(platform);
        let (commands, lobby) = ConnectionTask::spawn(
            conn,
            Side::Customer,
            "Customer".to_owned(),
            Box::new(move || platform.take()),
            None,
            Some(target.dialer(Role::Customer, software.to_owned())),
            target.encryption().clone(),
        );
        Ok(Customer {
            commands,
            lobby,
            protocol_1: target.encryption().speaks_protocol_1(),
        })
    }

    fn send(&self, message: RelayMessage) -> Result<(), ClientError> {
        self.commands
            .send(TaskCommand::Relay(message))
            .map_err(|_| ClientError::lost())
    }

    /// Joins the operator who issued `code`. The code may be typed as
    /// read out: `"123 456 789 012"`, `"123-456-789-012"` and
    /// `" 123456789012 "` all work
    /// (ASCII spaces, tabs and dashes are ignored); any other character
    /// but digits is refused with [`NotAllowed::InvalidCode`](crate::NotAllowed::InvalidCode)
    /// before anything is sent.
    pub async fn join(
        self,
        code: &str,
        customer: CustomerInfo,
    ) -> Result<SessionHandle, ClientError> {
        let code = crate::invite::normalize_code(code)?;
        if self.protocol_1 {
            // What a program from before end-to-end encryption sends.
            self.send(RelayMessage::JoinByCode {
                code: Secret::new(code),
                customer,
            })?;
            return self.await_session().await;
        }
        // The last digits key the end-to-end encryption and stay here; the
        // relay gets only the digits it issued.
        let split = SplitCode::parse(&code).ok_or_else(|| crate::NotAllowed::InvalidCode {
            problem: format!(
                "it is too short: a session code has at least {} digits",
                6 + rsupport_proto::limits::CODE_SECRET_DIGITS
            ),
        })?;
        self.commands
            .send(TaskCommand::Joining(split.secret.clone()))
            .map_err(|_| ClientError::lost())?;
        self.send(RelayMessage::JoinByCode {
            code: Secret::new(split.routing),
            customer,
        })?;
        self.await_session().await
    }

    /// Asks the operator with this ID for help (chat-first). The session
    /// starts when the operator accepts; chat works at once, remote access
    /// only after the customer allows it.
    pub async fn contact(
        self,
        operator_id: &str,
        customer: CustomerInfo,
        first_message: &str,
    ) -> Result<SessionHandle, ClientError> {
        self.send(RelayMessage::ContactOperator(ContactOperator {
            operator_id: operator_id.to_owned(),
            customer,
            first_message: first_message.to_owned(),
        }))?;
        self.await_session().await
    }

    async fn await_session(mut self) -> Result<SessionHandle, ClientError> {
        loop {
            match self.lobby.recv().await {
                Some(LobbyItem::Session(handle)) => return Ok(*handle),
                Some(LobbyItem::Relay(RelayMessage::JoinRefused {
                    reason,
                    retry_after_ms,
                })) => {
                    return Err(ClientError::JoinRefused {
                        reason,
                        retry_at_ms: (retry_after_ms != 0).then_some(retry_after_ms),
                    })
                }
                Some(LobbyItem::Relay(RelayMessage::RequestResult(r))) if r.error.is_some() => {
                    return Err(ClientError::refused("start the session", r))
                }
                Some(LobbyItem::Relay(_) | LobbyItem::Reconnecting | LobbyItem::Reconnected) => {}
                None => return Err(ClientError::lost()),
            }
        }
    }
}
