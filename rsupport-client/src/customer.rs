//! [`Customer`]: the customer's program, joining by code or contacting an
//! operator by ID.

use rsupport_proto::relay::{ContactOperator, CustomerInfo, RelayMessage, Secret};
use rsupport_proto::Role;
use tokio::sync::mpsc;

use super::connection::{ConnectionTask, LobbyItem, TaskCommand};
use super::{EndpointError, HostPlatform, RelayTarget, SessionHandle};
use rsupport_core::session::Side;

/// The customer's connection to the relay. Consumed by
/// [`join`](Self::join) or [`contact`](Self::contact).
#[derive(Debug)]
pub struct Customer {
    commands: mpsc::UnboundedSender<TaskCommand>,
    lobby: mpsc::UnboundedReceiver<LobbyItem>,
}

impl Customer {
    /// Connects over TLS. `platform` is what the operator will see and
    /// control — after the customer consents, never before.
    pub async fn connect(
        target: &RelayTarget,
        platform: HostPlatform,
    ) -> Result<Customer, EndpointError> {
        let software = concat!("rsupport/", env!("CARGO_PKG_VERSION"));
        let mut conn = target.connect().await?;
        conn.hello(Role::Customer, software).await?;
        let mut platform = Some(platform);
        let (commands, lobby) = ConnectionTask::spawn(
            conn,
            Side::Customer,
            "Customer".to_owned(),
            Box::new(move || platform.take()),
            None,
            Some(target.dialer(Role::Customer, software.to_owned())),
        );
        Ok(Customer { commands, lobby })
    }

    fn send(&self, message: RelayMessage) -> Result<(), EndpointError> {
        self.commands
            .send(TaskCommand::Relay(message))
            .map_err(|_| EndpointError::Connection("connection task ended".into()))
    }

    /// Joins the operator who issued `code`.
    pub async fn join(
        self,
        code: &str,
        customer: CustomerInfo,
    ) -> Result<SessionHandle, EndpointError> {
        self.send(RelayMessage::JoinByCode {
            code: Secret::new(code.trim().to_owned()),
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
    ) -> Result<SessionHandle, EndpointError> {
        self.send(RelayMessage::ContactOperator(ContactOperator {
            operator_id: operator_id.to_owned(),
            customer,
            first_message: first_message.to_owned(),
        }))?;
        self.await_session().await
    }

    async fn await_session(mut self) -> Result<SessionHandle, EndpointError> {
        loop {
            match self.lobby.recv().await {
                Some(LobbyItem::Session(handle)) => return Ok(*handle),
                Some(LobbyItem::Relay(RelayMessage::JoinRefused {
                    reason,
                    retry_after_ms,
                })) => {
                    return Err(EndpointError::JoinRefused {
                        reason,
                        retry_after_ms,
                    })
                }
                Some(LobbyItem::Relay(RelayMessage::RequestResult(r))) if r.error.is_some() => {
                    return Err(EndpointError::Refused(r.detail))
                }
                Some(LobbyItem::Relay(_) | LobbyItem::Reconnecting | LobbyItem::Reconnected) => {}
                None => return Err(EndpointError::Connection("relay connection closed".into())),
            }
        }
    }
}
