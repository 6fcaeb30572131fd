//! The deadline to log in, join, contact or resume after `Hello` (H3).
//!
//! Without it, a connection that said `Hello` and then only `Ping`s held a
//! connection slot forever, so one host could fill the relay. A connection
//! that is not logged in and takes part in no session, contact request or
//! resume is *unengaged*; it is closed once it has stayed unengaged from
//! one check to the next, [`RelayConfig::auth_timeout_ms`] apart. A `Ping`
//! does not count as engagement.
//!
//! The first check comes `auth_timeout_ms` after `Hello`. A connection found
//! engaged (a customer in a session, say) is looked at again one period later;
//! a customer whose session or contact has ended is given one whole further
//! period before it is closed, so it is closed between one and two periods
//! after it became idle.

use rsupport_proto::CloseReason;

use super::broker::{Broker, Conn, ConnId, Phase};
#[cfg(doc)]
use super::config::RelayConfig;

/// When to look at a connection next, and whether it was engaged last time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthCheck {
    at_ms: u64,
    was_engaged: bool,
}

impl AuthCheck {
    /// The first check, one period after `Hello`.
    pub(crate) fn after_hello(now_ms: u64, period_ms: u64) -> Self {
        AuthCheck {
            at_ms: now_ms.saturating_add(period_ms),
            was_engaged: false,
        }
    }
}

impl Conn {
    /// Logged-in connections have no auth deadline; the others do until they
    /// are closed.
    pub(crate) fn auth_deadline(&self) -> Option<u64> {
        match self.phase {
            Phase::Anonymous | Phase::Customer => self.auth_check.map(|c| c.at_ms),
            _ => None,
        }
    }

    /// Takes part in something that needs no login: a session (joined,
    /// paired or resumed) or a pending contact request.
    fn engaged(&self) -> bool {
        !self.sessions.is_empty() || self.contact.is_some()
    }
}

impl Broker {
    /// Closes connections that stayed unengaged for a whole period and
    /// schedules the next check for the others.
    pub(crate) fn check_auth_deadlines(&mut self, now_ms: u64) {
        let period = self.config.auth_timeout_ms;
        let mut late: Vec<ConnId> = Vec::new();
        for (&id, c) in self.conns.iter_mut() {
            let Some(at) = c.auth_deadline() else {
                continue;
            };
            if at > now_ms {
                continue;
            }
            let engaged = c.engaged();
            if !engaged && !c.auth_check.is_some_and(|a| a.was_engaged) {
                late.push(id);
                continue;
            }
            c.auth_check = Some(AuthCheck {
                at_ms: now_ms.saturating_add(period),
                was_engaged: engaged,
            });
        }
        let secs = period / 1000;
        for conn in late {
            self.close(
                conn,
                CloseReason::Timeout,
                &format!(
                    "nothing to do: log in, or join or contact an operator, within {secs} s \
                     of connecting; connect again when you are ready"
                ),
            );
        }
    }
}
