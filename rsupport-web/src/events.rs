//! What the console shows: events for the page, as JSON objects with a
//! `type` field, so the TypeScript layer needs no generated bindings.

use rsupport_core::e2e::{Protection, Verification};
use rsupport_core::files::{Direction, FileEvent};
use rsupport_core::session::{ConnectionState, Control, Sharing};
use rsupport_proto::relay::LoginStatus;
use rsupport_proto::{ConnectionMode, EndReason, Role};
use serde_json::{json, Value};

/// Something the page shows or acts on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConsoleEvent {
    /// The relay answered `Hello`: log in next.
    Connected {
        /// The relay's display name.
        relay_name: String,
    },
    /// Logged in.
    LoggedIn {
        /// The ID customers use for chat-first contact.
        operator_id: String,
        /// Display name.
        display_name: String,
        /// Operator or admin.
        role: Role,
        /// Modes this operator may ask for.
        allowed_modes: Vec<ConnectionMode>,
        /// The password must be changed before anything else.
        must_change_password: bool,
    },
    /// The relay refused the login.
    LoginRefused {
        /// Why.
        status: LoginStatus,
        /// Until when the account or source is blocked (ms since the epoch; 0: not blocked).
        blocked_until_ms: u64,
    },
    /// The password was changed.
    PasswordChanged,
    /// A request was refused; `message` says what and what to do.
    Refused {
        /// The request, in words ("issue a session code").
        action: &'static str,
        /// The relay's answer, in plain words.
        message: String,
    },
    /// A session code for the customer.
    CodeIssued {
        /// All the digits the customer types (the relay's and the secret ones).
        code: String,
        /// The join link, with the secret digits after `#` (empty when the relay has no link).
        join_link: String,
        /// When the code stops working (ms since the epoch).
        expires_at_ms: u64,
    },
    /// A customer asks for this operator by ID, with a first message.
    ContactRequest {
        /// Pass to `answer_contact`.
        contact: u64,
        /// The customer's name.
        name: String,
        /// What the customer says the problem is.
        description: String,
        /// The first chat line.
        first_message: String,
    },
    /// A customer joined: a session started.
    SessionStarted {
        /// The session.
        session: u64,
        /// The customer's name.
        peer_name: String,
        /// Modes the admin allows in this session.
        allowed_modes: Vec<ConnectionMode>,
        /// The customer came through a chat-first contact (not a code).
        by_contact: bool,
    },
    /// How the session is protected (sent once the keys are agreed).
    Protection {
        /// The session.
        session: u64,
        /// The protection.
        protection: Protection,
    },
    /// The agreed sharing state changed.
    Sharing {
        /// The session.
        session: u64,
        /// The state.
        sharing: Sharing,
    },
    /// The customer refused a mode (or did not answer in time).
    ModeRefused {
        /// The session.
        session: u64,
        /// The mode asked for.
        mode: ConnectionMode,
    },
    /// The screen changed: draw what
    /// [`Console::take_changes`](crate::Console::take_changes) gives.
    Frame {
        /// The session.
        session: u64,
        /// Framebuffer width.
        width: u32,
        /// Framebuffer height.
        height: u32,
    },
    /// The customer's cursor moved or changed shape.
    Cursor {
        /// The session.
        session: u64,
        /// Hot spot, frame coordinates.
        x: i32,
        /// Hot spot, frame coordinates.
        y: i32,
        /// Shown or hidden.
        visible: bool,
        /// Shape, for [`Console::cursor_image`](crate::Console::cursor_image).
        shape_id: u64,
    },
    /// A chat line from the customer.
    Chat {
        /// The session.
        session: u64,
        /// Sender's display name.
        from: String,
        /// The line.
        text: String,
    },
    /// The customer is typing, or stopped.
    PeerTyping {
        /// The session.
        session: u64,
        /// Typing now.
        typing: bool,
    },
    /// A notice from the customer's side, in words.
    Notice {
        /// The session.
        session: u64,
        /// What happened.
        text: String,
    },
    /// The session ended.
    Ended {
        /// The session.
        session: u64,
        /// Why.
        reason: EndReason,
        /// In plain words.
        detail: String,
        /// The customer ended it.
        by_peer: bool,
    },
    /// A file transfer event (offers, progress, results).
    File {
        /// The session.
        session: u64,
        /// What happened.
        event: FileEvent,
    },
    /// The page must read `len` bytes at `offset` of the `File` it offered
    /// as `upload`, and pass them back with the `read` number.
    FileRead {
        /// The session.
        session: u64,
        /// Pass back with the bytes.
        read: u64,
        /// The page's name for the `File`.
        upload: String,
        /// Where.
        offset: u64,
        /// How much.
        len: usize,
    },
    /// A file from the customer arrived, verified, and waits to be saved.
    DownloadReady {
        /// The session.
        session: u64,
        /// Pass to `take_download`.
        download: u64,
        /// Its name.
        name: String,
        /// Its size.
        size: u64,
    },
    /// The customer's monitors or shareable windows changed.
    Display {
        /// The session.
        session: u64,
        /// "monitors" or "windows".
        what: &'static str,
        /// The list, as the page shows it.
        value: Value,
    },
    /// A screenshot arrived; take it with `take_screenshot`.
    ScreenshotReady {
        /// The session.
        session: u64,
        /// The request it answers.
        request: u32,
    },
    /// The drawings changed: render the overlay again.
    Drawings {
        /// The session.
        session: u64,
    },
    /// The customer printed: a job waits to be accepted or declined.
    PrintOffered {
        /// The session.
        session: u64,
        /// The job.
        job: u64,
        /// Document name.
        name: String,
        /// Size in bytes.
        size: u64,
        /// Pages (0: unknown).
        pages: u32,
    },
    /// A print job arrived whole and verified: download or print it.
    PrintReady {
        /// The session.
        session: u64,
        /// The job.
        job: u64,
    },
    /// A print job ended before arriving (cancelled, declined, broken).
    PrintEnded {
        /// The session.
        session: u64,
        /// The job.
        job: u64,
        /// Why.
        detail: String,
    },
    /// The path to the customer dropped or came back (the session goes on).
    Connection {
        /// The session.
        session: u64,
        /// What happened.
        state: ConnectionState,
    },
    /// Our connection to the relay dropped; the page dials again.
    Reconnecting,
    /// Connected again and every session resumed. Log in again to issue
    /// codes (the console keeps no password).
    Reconnected,
    /// The relay closed the connection; reload the page to connect again.
    Closed {
        /// In plain words.
        detail: String,
    },
}

impl ConsoleEvent {
    /// The event as a JSON object for the page.
    pub fn to_json(&self) -> Value {
        match self {
            ConsoleEvent::Connected { relay_name } => {
                json!({"type": "connected", "relay_name": relay_name})
            }
            ConsoleEvent::LoggedIn {
                operator_id,
                display_name,
                role,
                allowed_modes,
                must_change_password,
            } => json!({
                "type": "logged_in",
                "operator_id": operator_id,
                "display_name": display_name,
                "role": if *role == Role::Admin { "admin" } else { "operator" },
                "allowed_modes": allowed_modes.iter().map(|m| mode_name(*m)).collect::<Vec<_>>(),
                "must_change_password": must_change_password,
            }),
            ConsoleEvent::LoginRefused {
                status,
                blocked_until_ms,
            } => json!({
                "type": "login_refused",
                "status": format!("{status:?}"),
                "message": login_refusal(*status),
                "blocked_until_ms": blocked_until_ms,
            }),
            ConsoleEvent::PasswordChanged => json!({"type": "password_changed"}),
            ConsoleEvent::Refused { action, message } => {
                json!({"type": "refused", "action": action, "message": message})
            }
            ConsoleEvent::CodeIssued {
                code,
                join_link,
                expires_at_ms,
            } => json!({
                "type": "code_issued",
                "code": code,
                "join_link": join_link,
                "expires_at_ms": expires_at_ms,
            }),
            ConsoleEvent::ContactRequest {
                contact,
                name,
                description,
                first_message,
            } => json!({
                "type": "contact_request",
                "contact": contact.to_string(),
                "name": name,
                "description": description,
                "first_message": first_message,
            }),
            ConsoleEvent::SessionStarted {
                session,
                peer_name,
                allowed_modes,
                by_contact,
            } => json!({
                "by_contact": by_contact,
                "type": "session_started",
                "session": session.to_string(),
                "peer_name": peer_name,
                "allowed_modes": allowed_modes.iter().map(|m| mode_name(*m)).collect::<Vec<_>>(),
            }),
            ConsoleEvent::Protection {
                session,
                protection,
            } => protection_json(*session, protection),
            ConsoleEvent::Sharing { session, sharing } => sharing_json(*session, sharing),
            ConsoleEvent::ModeRefused { session, mode } => json!({
                "type": "mode_refused",
                "session": session.to_string(),
                "mode": mode_name(*mode),
            }),
            ConsoleEvent::Frame {
                session,
                width,
                height,
            } => json!({
                "type": "frame",
                "session": session.to_string(),
                "width": width,
                "height": height,
            }),
            ConsoleEvent::Cursor {
                session,
                x,
                y,
                visible,
                shape_id,
            } => json!({
                "type": "cursor",
                "session": session.to_string(),
                "x": x, "y": y, "visible": visible,
                "shape_id": shape_id.to_string(),
            }),
            ConsoleEvent::Chat {
                session,
                from,
                text,
            } => json!({
                "type": "chat",
                "session": session.to_string(),
                "from": from,
                "text": text,
            }),
            ConsoleEvent::PeerTyping { session, typing } => json!({
                "type": "peer_typing",
                "session": session.to_string(),
                "typing": typing,
            }),
            ConsoleEvent::Notice { session, text } => json!({
                "type": "notice",
                "session": session.to_string(),
                "text": text,
            }),
            ConsoleEvent::Ended {
                session,
                reason,
                detail,
                by_peer,
            } => json!({
                "type": "ended",
                "session": session.to_string(),
                "reason": format!("{reason:?}"),
                "detail": detail,
                "by_peer": by_peer,
            }),
            ConsoleEvent::File { session, event } => file_json(*session, event),
            ConsoleEvent::FileRead {
                session,
                read,
                upload,
                offset,
                len,
            } => json!({
                "type": "file_read",
                "session": session.to_string(),
                "read": read.to_string(),
                "upload": upload,
                "offset": offset,
                "len": len,
            }),
            ConsoleEvent::DownloadReady {
                session,
                download,
                name,
                size,
            } => json!({
                "type": "download_ready",
                "session": session.to_string(),
                "download": download.to_string(),
                "name": name,
                "size": size,
            }),
            ConsoleEvent::Display {
                session,
                what,
                value,
            } => json!({"type": *what, "session": session.to_string(), "list": value}),
            ConsoleEvent::ScreenshotReady { session, request } => json!({
                "type": "screenshot_ready", "session": session.to_string(), "request": request,
            }),
            ConsoleEvent::Drawings { session } => {
                json!({"type": "drawings", "session": session.to_string()})
            }
            ConsoleEvent::PrintOffered {
                session,
                job,
                name,
                size,
                pages,
            } => json!({
                "type": "print_offered", "session": session.to_string(), "job": job.to_string(),
                "name": name, "size": size, "pages": pages,
            }),
            ConsoleEvent::PrintReady { session, job } => json!({
                "type": "print_ready", "session": session.to_string(), "job": job.to_string(),
            }),
            ConsoleEvent::PrintEnded {
                session,
                job,
                detail,
            } => json!({
                "type": "print_ended", "session": session.to_string(), "job": job.to_string(),
                "detail": detail,
            }),
            ConsoleEvent::Connection { session, state } => {
                let (what, grace_ms) = match state {
                    ConnectionState::Reconnecting => ("reconnecting", 0),
                    ConnectionState::Resumed => ("resumed", 0),
                    ConnectionState::PeerSuspended { grace_ms } => ("peer_away", *grace_ms),
                    ConnectionState::PeerResumed => ("peer_back", 0),
                    _ => ("other", 0),
                };
                json!({
                    "type": "connection", "session": session.to_string(), "state": what,
                    "grace_ms": grace_ms,
                })
            }
            ConsoleEvent::Reconnecting => json!({"type": "reconnecting"}),
            ConsoleEvent::Reconnected => json!({"type": "reconnected"}),
            ConsoleEvent::Closed { detail } => json!({"type": "closed", "detail": detail}),
        }
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Send => "send",
        _ => "receive",
    }
}

fn file_json(session: u64, event: &FileEvent) -> Value {
    let session = session.to_string();
    let entries = |entries: &[rsupport_core::files::FileEntry]| {
        entries
            .iter()
            .map(|e| json!({"path": e.path, "size": e.size, "directory": e.directory}))
            .collect::<Vec<_>>()
    };
    match event {
        FileEvent::OfferReceived {
            transfer_id,
            entries: list,
            total_size,
        }
        | FileEvent::OfferAutoAccepted {
            transfer_id,
            entries: list,
            total_size,
        } => json!({
            "type": "file_offer",
            "session": session,
            "transfer": transfer_id.to_string(),
            "entries": entries(list),
            "total_size": total_size,
            "auto_accepted": matches!(event, FileEvent::OfferAutoAccepted { .. }),
        }),
        FileEvent::Progress(p) => json!({
            "type": "file_progress",
            "session": session,
            "transfer": p.transfer_id.to_string(),
            "direction": direction(p.direction),
            "done": p.bytes_done,
            "total": p.bytes_total,
            "rate": p.bytes_per_second,
            "eta_s": p.eta.map(|d| d.as_secs()),
        }),
        FileEvent::Accepted { transfer_id } => json!({
            "type": "file_accepted", "session": session, "transfer": transfer_id.to_string(),
        }),
        FileEvent::Declined {
            transfer_id,
            reason,
        }
        | FileEvent::OfferRefused {
            transfer_id,
            reason,
        } => json!({
            "type": "file_declined", "session": session, "transfer": transfer_id.to_string(),
            "reason": reason,
        }),
        FileEvent::OfferRejected {
            transfer_id, error, ..
        } => json!({
            "type": "file_declined", "session": session, "transfer": transfer_id.to_string(),
            "reason": error.to_string(),
        }),
        FileEvent::EntryCompleted {
            transfer_id,
            entry,
            direction: d,
        } => json!({
            "type": "file_entry_done", "session": session, "transfer": transfer_id.to_string(),
            "entry": entry, "direction": direction(*d),
        }),
        FileEvent::EntryFailed {
            transfer_id,
            entry,
            direction: d,
            error,
        } => json!({
            "type": "file_entry_failed", "session": session, "transfer": transfer_id.to_string(),
            "entry": entry, "direction": direction(*d), "error": error.to_string(),
        }),
        FileEvent::Finished {
            transfer_id,
            direction: d,
            failed_entries,
        } => json!({
            "type": "file_finished", "session": session, "transfer": transfer_id.to_string(),
            "direction": direction(*d), "failed": failed_entries,
        }),
        FileEvent::Cancelled {
            transfer_id,
            direction: d,
            by_peer,
            reason,
        } => json!({
            "type": "file_cancelled", "session": session, "transfer": transfer_id.to_string(),
            "direction": direction(*d), "by_peer": by_peer, "reason": reason,
        }),
        _ => json!({"type": "file_other", "session": session}),
    }
}

fn protection_json(session: u64, protection: &Protection) -> Value {
    let (state, fingerprint, verified) = match protection {
        Protection::Negotiating => ("negotiating", String::new(), false),
        Protection::Encrypted {
            fingerprint,
            verification,
        } => (
            "encrypted",
            fingerprint.clone(),
            !matches!(verification, Verification::Unverified),
        ),
        _ => ("plaintext", String::new(), false),
    };
    json!({
        "type": "protection",
        "session": session.to_string(),
        "state": state,
        "fingerprint": fingerprint,
        "verified": verified,
        "text": protection.to_string(),
    })
}

fn sharing_json(session: u64, sharing: &Sharing) -> Value {
    let (mode, paused, control) = match sharing {
        Sharing::Idle => (None, false, "none"),
        Sharing::Active {
            mode,
            paused,
            control,
        } => (
            Some(mode_name(*mode)),
            *paused,
            match control {
                Control::ViewOnly => "view_only",
                Control::Granted => "granted",
                Control::Revoked(_) => "revoked",
            },
        ),
    };
    json!({
        "type": "sharing",
        "session": session.to_string(),
        "mode": mode,
        "paused": paused,
        "control": control,
    })
}

/// The page's name for a mode ("view", "control", …).
pub fn mode_name(mode: ConnectionMode) -> &'static str {
    mode.short_name()
}

/// The mode the page names, if any.
pub fn mode_from_name(name: &str) -> Option<ConnectionMode> {
    ConnectionMode::from_short_name(name)
}

/// A refused login, in words a person can act on.
pub fn login_refusal(status: LoginStatus) -> &'static str {
    match status {
        LoginStatus::Ok => "logged in",
        LoginStatus::BadCredentials => "The user name or password is wrong. Check both and try again.",
        LoginStatus::TotpRequired => "This account needs the six-digit code from your authenticator app.",
        LoginStatus::BadTotp => "The authenticator code is wrong or expired. Enter the current one.",
        LoginStatus::Blocked => {
            "Too many wrong attempts: this account is blocked for a while. Wait, or ask an admin to unblock it."
        }
        LoginStatus::Disabled => "This account is disabled. Ask an admin to enable it.",
        LoginStatus::NotAllowed => "This account may not log in here. Ask an admin.",
        LoginStatus::RateLimited => "Too many logins from this address. Wait a minute and try again.",
        _ => "The relay refused the login. Try again later or ask an admin.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_names_round_trip() {
        for mode in [
            ConnectionMode::ViewCustomer,
            ConnectionMode::ControlCustomer,
            ConnectionMode::ManageCustomer,
            ConnectionMode::ShareOperatorScreen,
            ConnectionMode::ShowOperatorScreen,
        ] {
            assert_eq!(mode_from_name(mode_name(mode)), Some(mode));
        }
        assert_eq!(mode_from_name("everything"), None);
    }

    #[test]
    fn session_ids_travel_as_strings() {
        // JavaScript numbers lose precision above 2^53; session ids are u64.
        let event = ConsoleEvent::Chat {
            session: u64::MAX,
            from: "Ann".into(),
            text: "hi".into(),
        };
        assert_eq!(event.to_json()["session"], "18446744073709551615");
    }
}
