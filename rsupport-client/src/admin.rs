//! [`Admin`]: what an admin account can do from a program — accounts,
//! relay settings, the audit history, live sessions and ending them.
//!
//! ```no_run
//! # async fn run(operator: &mut rsupport_client::Operator) -> Result<(), rsupport_client::ClientError> {
//! use rsupport_client::admin::NewAccount;
//!
//! let mut admin = operator.admin()?; // logged in with an admin account
//! admin.create_account(NewAccount::operator("kenji", "Kenji Mori", "Initial-harbor-lantern-7")).await?;
//! for account in admin.list_accounts().await? {
//!     println!("{} ({}), enabled: {}", account.username, account.display_name, account.enabled);
//! }
//! admin.set_account_enabled("kenji", false).await?;
//! # Ok(()) }
//! ```

use rsupport_proto::relay::{AdminCommand, AdminReply, AdminRequest, RelayMessage, Secret};
use rsupport_proto::{ConnectionMode, Role};

pub use rsupport_proto::relay::admin::{
    AccountSummary, AuditPage, AuditQuery, AuditRecord, LiveSession, LiveSessionPage, PartyLink,
    RelaySettings,
};

use super::{ClientError, Operator};

/// A new account for [`Admin::create_account`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewAccount {
    /// Login name.
    pub username: String,
    /// Name shown to customers and colleagues.
    pub display_name: String,
    /// Initial password; the user must change it at first login.
    pub password: Secret<String>,
    /// Operator or admin.
    pub role: Role,
}

impl NewAccount {
    /// An operator account.
    pub fn operator(
        username: impl Into<String>,
        display_name: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        NewAccount {
            username: username.into(),
            display_name: display_name.into(),
            password: Secret::new(password.into()),
            role: Role::Operator,
        }
    }

    /// An admin account.
    pub fn admin(
        username: impl Into<String>,
        display_name: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        NewAccount {
            role: Role::Admin,
            ..NewAccount::operator(username, display_name, password)
        }
    }
}

/// The admin facet of a logged-in admin's [`Operator`]; from
/// [`Operator::admin`]. Each call waits for the relay's answer.
#[derive(Debug)]
pub struct Admin<'a> {
    operator: &'a mut Operator,
}

impl<'a> Admin<'a> {
    pub(crate) fn new(operator: &'a mut Operator) -> Self {
        Admin { operator }
    }

    async fn ask(&mut self, command: AdminCommand) -> Result<AdminReply, ClientError> {
        let request_id = self.operator.next_admin_request();
        self.operator
            .send(RelayMessage::AdminRequest(AdminRequest {
                request_id,
                command,
            }))?;
        self.operator
            .await_reply(
                |m| matches!(m, RelayMessage::AdminResponse(r) if r.request_id == request_id),
                |m| match m {
                    RelayMessage::AdminResponse(r) => Some(r.reply),
                    _ => None,
                },
            )
            .await
    }

    async fn command(
        &mut self,
        action: &'static str,
        command: AdminCommand,
    ) -> Result<(), ClientError> {
        match self.ask(command).await? {
            AdminReply::Result(r) if r.is_ok() => Ok(()),
            AdminReply::Result(r) => Err(ClientError::refused(action, r)),
            _ => Err(ClientError::lost()),
        }
    }

    /// Every account, without secrets.
    pub async fn list_accounts(&mut self) -> Result<Vec<AccountSummary>, ClientError> {
        match self.ask(AdminCommand::ListAccounts).await? {
            AdminReply::Accounts(accounts) => Ok(accounts),
            AdminReply::Result(r) => Err(ClientError::refused("list the accounts", r)),
            _ => Err(ClientError::lost()),
        }
    }

    /// Creates an account; the user must change the password at first login.
    pub async fn create_account(&mut self, account: NewAccount) -> Result<(), ClientError> {
        self.command(
            "create the account",
            AdminCommand::CreateAccount {
                username: account.username,
                display_name: account.display_name,
                password: account.password,
                role: account.role,
            },
        )
        .await
    }

    /// Enables or disables an account (a disabled account cannot log in
    /// and is logged out now).
    pub async fn set_account_enabled(
        &mut self,
        username: &str,
        enabled: bool,
    ) -> Result<(), ClientError> {
        self.command(
            "enable or disable the account",
            AdminCommand::SetAccountEnabled {
                username: username.to_owned(),
                enabled,
            },
        )
        .await
    }

    /// Sets a new password; the user must change it at next login.
    pub async fn reset_password(
        &mut self,
        username: &str,
        new_password: &str,
    ) -> Result<(), ClientError> {
        self.command(
            "reset the password",
            AdminCommand::ResetPassword {
                username: username.to_owned(),
                new_password: Secret::new(new_password.to_owned()),
            },
        )
        .await
    }

    /// Lifts a lockout after failed logins now.
    pub async fn unblock_account(&mut self, username: &str) -> Result<(), ClientError> {
        self.command(
            "unblock the account",
            AdminCommand::UnblockAccount {
                username: username.to_owned(),
            },
        )
        .await
    }

    /// Which connection modes an operator may request.
    pub async fn set_allowed_modes(
        &mut self,
        username: &str,
        modes: &[ConnectionMode],
    ) -> Result<(), ClientError> {
        self.command(
            "set the allowed modes",
            AdminCommand::SetAllowedModes {
                username: username.to_owned(),
                modes: modes.to_vec(),
            },
        )
        .await
    }

    /// Grants or withdraws full file transfer control (offers skip the
    /// customer's prompt in control modes).
    pub async fn set_full_file_control(
        &mut self,
        username: &str,
        enabled: bool,
    ) -> Result<(), ClientError> {
        self.command(
            "change file transfer control",
            AdminCommand::SetFullFileControl {
                username: username.to_owned(),
                enabled,
            },
        )
        .await
    }

    /// The relay settings (every field set).
    pub async fn settings(&mut self) -> Result<RelaySettings, ClientError> {
        match self.ask(AdminCommand::GetSettings).await? {
            AdminReply::Settings(s) => Ok(s),
            AdminReply::Result(r) => Err(ClientError::refused("read the settings", r)),
            _ => Err(ClientError::lost()),
        }
    }

    /// Changes the settings that are `Some` in `changes`.
    pub async fn update_settings(&mut self, changes: RelaySettings) -> Result<(), ClientError> {
        self.command("change the settings", AdminCommand::UpdateSettings(changes))
            .await
    }

    /// One page of the audit history; page on with
    /// [`AuditQuery::after_id`] set to the last record's id while
    /// [`AuditPage::truncated`].
    pub async fn audit(&mut self, query: AuditQuery) -> Result<AuditPage, ClientError> {
        match self.ask(AdminCommand::QueryAudit(query)).await? {
            AdminReply::Audit(page) => Ok(page),
            AdminReply::Result(r) => Err(ClientError::refused("query the audit history", r)),
            _ => Err(ClientError::lost()),
        }
    }

    /// One page of the sessions the relay is running now, in id order
    /// (`limit` 0: the relay's default page); page on with `after_id` set
    /// to the last session's id while [`LiveSessionPage::truncated`].
    pub async fn live_sessions(
        &mut self,
        after_id: u64,
        limit: u32,
    ) -> Result<LiveSessionPage, ClientError> {
        match self
            .ask(AdminCommand::ListSessions { after_id, limit })
            .await?
        {
            AdminReply::Sessions(page) => Ok(page),
            AdminReply::Result(r) => Err(ClientError::refused("list the live sessions", r)),
            _ => Err(ClientError::lost()),
        }
    }

    /// Ends a running session (both parties are told).
    pub async fn end_session(&mut self, session_id: u64) -> Result<(), ClientError> {
        self.command("end the session", AdminCommand::EndSession { session_id })
            .await
    }
}
