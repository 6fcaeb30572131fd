//! End-to-end encryption between operator and customer: the relay forwards
//! what it cannot read or forge.
//!
//! - [`KeyExchange`] says how a session's keys are agreed: CPace (a PAKE)
//!   over the secret digits of the session code, which the relay never sees;
//!   for chat-first contact, X25519 with the operator signing for the help
//!   desk ([`HelpdeskKey`]) and the customer checking the key it pins
//!   ([`HelpdeskPublicKey`]).
//! - Both sides confirm the keys before anything else is sent: no consent is
//!   asked and no frame, chat line or file moves before that.
//! - [`RecordLayer`] seals every session payload (AES-256-GCM, one key per
//!   direction and epoch, sequence numbers per priority class).
//! - [`Protection`] is what each side shows: encrypted with a fingerprint
//!   both people can compare, or plaintext where the vendor allows it for
//!   old peers.
//!
//! The [`Session`](crate::session::Session) runs all of it; products see
//! [`SessionEvent::Protection`](crate::session::SessionEvent::Protection).
//! Why the choices: `docs/E2E.md`.

mod channel;
mod handshake;
mod keys;
mod record;

pub(crate) use channel::{Received, SecureChannel};
pub use handshake::ExchangeError;
pub use record::{RecordError, RecordLayer, RECORD_OVERHEAD};

use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use rsupport_proto::limits::CODE_SECRET_DIGITS;
use rsupport_proto::relay::Secret;

/// How long a side waits for the key exchange to complete.
pub const EXCHANGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Plain words for a session the *other* side ended because of end-to-end
/// protection (the relay passes on only the reason).
pub fn ended_by_peer_detail(reason: rsupport_proto::EndReason) -> Option<&'static str> {
    use rsupport_proto::EndReason as R;
    match reason {
        R::KeyExchangeFailed => Some(
            "the other side could not set up the secure connection: the code does not match, \
             or someone between you tried to listen in. Nothing was shared; start again with a new code",
        ),
        R::Tampered => Some(
            "the other side found the traffic changed on the way (someone between you \
             tampered with it) and ended the session",
        ),
        R::NotEncrypted => Some(
            "the session could not be end-to-end encrypted and one side refuses sessions the \
             relay could read; update the older program",
        ),
        _ => None,
    }
}

/// How a session's keys are agreed.
#[derive(Clone)]
#[non_exhaustive]
pub enum KeyExchange {
    /// A session code: CPace over its secret digits (the last
    /// [`CODE_SECRET_DIGITS`], which the relay never sees).
    Code {
        /// The secret digits.
        secret: Secret<String>,
    },
    /// Chat-first contact: ephemeral X25519. The operator's program signs
    /// with the help desk's key when it holds one; a customer program that
    /// pins the help desk's public key refuses an operator that cannot sign.
    Contact {
        /// Operator side: the help desk's signing key, if this program holds it.
        helpdesk: Option<HelpdeskKey>,
        /// Customer side: the help desk's public key this program trusts.
        pinned: Option<HelpdeskPublicKey>,
    },
    /// No encryption: the relay can read everything. Only for peers that
    /// speak protocol 1, where the vendor allows it.
    Plaintext,
}

impl std::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyExchange::Code { .. } => f.write_str("Code(***)"),
            KeyExchange::Contact { helpdesk, pinned } => f
                .debug_struct("Contact")
                .field("signs", &helpdesk.is_some())
                .field("pinned", pinned)
                .finish(),
            KeyExchange::Plaintext => f.write_str("Plaintext"),
        }
    }
}

/// A session code split into the part the relay checks and the secret part
/// that keys the exchange.
#[derive(Clone, PartialEq, Eq)]
pub struct SplitCode {
    /// The leading digits: sent to the relay to find the session.
    pub routing: String,
    /// The last [`CODE_SECRET_DIGITS`] digits: never leave this program.
    pub secret: Secret<String>,
}

impl std::fmt::Debug for SplitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SplitCode(***)")
    }
}

impl SplitCode {
    /// Splits what a customer typed (spaces and dashes allowed). `None`
    /// when it holds anything but digits or is too short to hold a secret
    /// part and a routing part of at least six digits.
    pub fn parse(typed: &str) -> Option<SplitCode> {
        let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !digits.chars().all(|c| c.is_ascii_digit())
            || digits.len() < CODE_SECRET_DIGITS + 6
            || digits.len() > rsupport_proto::limits::MAX_CODE
        {
            return None;
        }
        let (routing, secret) = digits.split_at(digits.len() - CODE_SECRET_DIGITS);
        Some(SplitCode {
            routing: routing.to_owned(),
            secret: Secret::new(secret.to_owned()),
        })
    }

    /// Operator side: a fresh secret for the code the relay issued.
    pub fn extend(routing: &str) -> Result<SplitCode, ExchangeError> {
        use ring::rand::SecureRandom;
        let rng = SystemRandom::new();
        let mut secret = String::with_capacity(CODE_SECRET_DIGITS);
        while secret.len() < CODE_SECRET_DIGITS {
            let mut b = [0u8; 1];
            rng.fill(&mut b).map_err(|_| ExchangeError::Random)?;
            // 250 = 25 × 10: rejecting 250..=255 keeps every digit equally likely.
            if b[0] < 250 {
                secret.push(char::from(b'0' + b[0] % 10));
            }
        }
        Ok(SplitCode {
            routing: routing.to_owned(),
            secret: Secret::new(secret),
        })
    }

    /// All the digits, as the customer types them.
    pub fn full(&self) -> String {
        format!("{}{}", self.routing, self.secret.expose())
    }
}

/// The help desk's signing key (Ed25519), held by operators' programs and
/// never by the relay. Its public half ([`HelpdeskKey::public_key`]) goes
/// into the customer program the vendor ships.
#[derive(Clone)]
pub struct HelpdeskKey {
    pair: std::sync::Arc<Ed25519KeyPair>,
    pkcs8: Secret<Vec<u8>>,
}

impl std::fmt::Debug for HelpdeskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HelpdeskKey(public {})", self.public_key())
    }
}

impl HelpdeskKey {
    /// A new random key.
    pub fn generate() -> Result<Self, ExchangeError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| ExchangeError::Random)?;
        Self::from_pkcs8(doc.as_ref()).map_err(|_| ExchangeError::Random)
    }

    /// A key from its PKCS#8 bytes (as [`HelpdeskKey::to_pkcs8`] wrote them).
    pub fn from_pkcs8(bytes: &[u8]) -> Result<Self, InvalidKey> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|_| InvalidKey)?;
        Ok(HelpdeskKey {
            pair: std::sync::Arc::new(pair),
            pkcs8: Secret::new(bytes.to_vec()),
        })
    }

    /// The PKCS#8 bytes to store (in a file only its owner can read).
    pub fn to_pkcs8(&self) -> &[u8] {
        self.pkcs8.expose()
    }
}

/// The public half of a [`HelpdeskKey`]: 32 bytes, written as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HelpdeskPublicKey(pub [u8; 32]);

impl std::fmt::Display for HelpdeskPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::Debug for HelpdeskPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HelpdeskPublicKey({self})")
    }
}

impl std::str::FromStr for HelpdeskPublicKey {
    type Err = InvalidKey;

    fn from_str(s: &str) -> Result<Self, InvalidKey> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return Err(InvalidKey);
        }
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or(InvalidKey)?, 16)
                .map_err(|_| InvalidKey)?;
        }
        Ok(HelpdeskPublicKey(k))
    }
}

/// A help-desk key that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a help-desk key: expected an Ed25519 PKCS#8 key file, or 64 hex digits for the public key"
)]
pub struct InvalidKey;

/// What vouches for the peer's end of the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// Both typed or read the same session code.
    Code,
    /// The operator signed with the help-desk key this customer program pins.
    Helpdesk,
    /// Nothing but the fingerprint: encrypted against a relay that only
    /// listens; compare the fingerprint by phone to rule out one that
    /// takes part.
    Unverified,
}

/// How a session is protected, for both people to see.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protection {
    /// The key exchange is still running: nothing is sent yet.
    Negotiating,
    /// End-to-end encrypted.
    Encrypted {
        /// Eight digits ("1234 5678"), the same on both sides.
        fingerprint: String,
        /// What vouches for the peer.
        verification: Verification,
    },
    /// Not end-to-end encrypted: the relay can read this session.
    Plaintext,
}

impl std::fmt::Display for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Protection::Negotiating => f.write_str("setting up end-to-end encryption"),
            Protection::Encrypted {
                fingerprint,
                verification: Verification::Unverified,
            } => write!(
                f,
                "end-to-end encrypted, not verified (fingerprint {fingerprint}: compare it by phone)"
            ),
            Protection::Encrypted { fingerprint, .. } => {
                write!(f, "end-to-end encrypted (fingerprint {fingerprint})")
            }
            Protection::Plaintext => {
                f.write_str("not end-to-end encrypted: the relay can read this session")
            }
        }
    }
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
