//! Session codes: issuing (with per-operator and relay-wide caps),
//! cancelling, expiry, and the codes' tie to the console that issued them.
//!
//! A code belongs to the *connection* that issued it, not merely to the
//! user name: the customer who uses it is paired with that console, never
//! with another login of the same account (which could be someone holding
//! stolen credentials). When that connection goes, its codes are cancelled.

use rand::RngCore;
use rsupport_proto::relay::{CodeIssued, RelayMessage, RequestError, RequestResult, Secret};
use sha2::{Digest, Sha256};

use super::broker::{Broker, ConnId};

/// An issued, unused session code.
#[derive(Debug)]
pub(crate) struct PendingCode {
    pub(crate) username: String,
    pub(crate) expires_at_ms: u64,
    /// The issuing connection: customers are paired with it, and the code
    /// is cancelled when it goes.
    pub(crate) issuer: ConnId,
}

/// SHA-256 of a code: the key codes are stored and looked up under. The
/// code is normalised first (see [`normalize_code`]).
pub(crate) fn code_key(code: &str) -> [u8; 32] {
    Sha256::digest(normalize_code(code).as_bytes()).into()
}

/// A code as a person typed it, in the form the relay issued it: ASCII
/// spaces, tabs and dashes are dropped, so `"123 456 789 012"`,
/// `"123-456-789-012"` and `" 123456789012 "` all find `123456789012`,
/// whatever client sent them. Other characters stay, so such a code simply
/// matches nothing.
pub(crate) fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, ' ' | '\t' | '-'))
        .collect()
}

impl Broker {
    pub(crate) fn handle_issue_code(&mut self, conn: ConnId, ttl_secs: u32, now_ms: u64) {
        let Some(p) = self.principal(conn) else {
            return;
        };
        let username = p.username.clone();
        // More live codes mean better odds for a guesser: the code-length
        // rule (`RelayConfig::min_code_length`) counts on these caps.
        let live = self.codes.values().filter(|c| c.expires_at_ms > now_ms);
        let (total, mine) = live.fold((0usize, 0usize), |(t, m), c| {
            (t + 1, m + usize::from(c.username == username))
        });
        if mine >= self.config.max_codes_per_operator as usize {
            let max = self.config.max_codes_per_operator;
            self.reply(
                conn,
                RequestResult::err(
                    RequestError::LimitReached,
                    format!(
                        "you already have {max} unused session codes (the most allowed); \
                         cancel one or wait until one is used or expires"
                    ),
                ),
            );
            return;
        }
        if total >= self.config.max_live_codes as usize {
            self.reply(
                conn,
                RequestResult::err(
                    RequestError::LimitReached,
                    "the relay has as many unused session codes as it allows; \
                     cancel an unused code or try again in a few minutes",
                ),
            );
            return;
        }
        let default_ttl = self.settings.code_ttl_ms;
        let ttl_ms = if ttl_secs == 0 {
            default_ttl
        } else {
            (u64::from(ttl_secs) * 1000).min(default_ttl)
        };
        // Draw until unused (collisions are rare; the bound keeps this finite).
        let mut code = String::new();
        for _ in 0..16 {
            code = (0..self.settings.code_length)
                .map(|_| char::from(b'0' + (self.rng.next_u32() % 10) as u8))
                .collect();
            if !self.codes.contains_key(&code_key(&code)) {
                break;
            }
        }
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        self.codes.insert(
            code_key(&code),
            PendingCode {
                username: username.clone(),
                expires_at_ms,
                issuer: conn,
            },
        );
        self.audit(now_ms, "code_issued", &username, conn, |r| {
            r.detail = format!("expires_at_ms={expires_at_ms}")
        });
        let join_link = self.settings.join_link(&code);
        self.send(
            conn,
            RelayMessage::CodeIssued(CodeIssued {
                code: Secret::new(code),
                expires_at_ms,
                join_link,
            }),
        );
    }

    pub(crate) fn handle_cancel_code(&mut self, conn: ConnId, code: &str, now_ms: u64) {
        let Some(p) = self.principal(conn) else {
            return;
        };
        let username = p.username.clone();
        let key = code_key(code);
        if self.codes.get(&key).is_some_and(|c| c.username == username) {
            self.codes.remove(&key);
            self.audit(now_ms, "code_cancelled", &username, conn, |_| {});
            self.reply(conn, RequestResult::ok());
        } else {
            self.reply(
                conn,
                RequestResult::err(RequestError::NotFound, "no such code"),
            );
        }
    }

    /// The console `conn` is gone: its unused codes go with it.
    pub(crate) fn cancel_codes_of(&mut self, conn: ConnId, now_ms: u64) {
        let gone: Vec<[u8; 32]> = self
            .codes
            .iter()
            .filter(|(_, c)| c.issuer == conn)
            .map(|(k, _)| *k)
            .collect();
        for k in gone {
            if let Some(c) = self.codes.remove(&k) {
                self.audit(now_ms, "code_cancelled", &c.username, conn, |r| {
                    r.detail = "the issuing console disconnected".into()
                });
            }
        }
    }

    pub(crate) fn expire_codes(&mut self, now_ms: u64) {
        let expired: Vec<[u8; 32]> = self
            .codes
            .iter()
            .filter(|(_, c)| c.expires_at_ms <= now_ms)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(c) = self.codes.remove(&k) {
                self.audit(now_ms, "code_expired", &c.username, c.issuer, |_| {});
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{code_key, normalize_code};

    #[test]
    fn codes_typed_with_spaces_dashes_or_tabs_find_the_issued_code() {
        for typed in [
            "123 456 789 012",
            "123-456-789-012",
            " 123456789012 ",
            "\t123 456 - 789 012\t",
            "123456789012",
        ] {
            assert_eq!(normalize_code(typed), "123456789012", "{typed:?}");
            assert_eq!(code_key(typed), code_key("123456789012"), "{typed:?}");
        }
        assert_ne!(code_key("123456_789012"), code_key("123456789012"));
        assert_ne!(code_key("123456789013"), code_key("123456789012"));
    }
}
