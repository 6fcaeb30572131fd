//! [`Encryption`]: a program's end-to-end encryption settings, and the
//! choice of key exchange for each new session.
//!
//! Sessions are end-to-end encrypted by default and nothing needs setting
//! for session codes: the operator's program adds secret digits to the code
//! the relay issues, the customer types them, and the relay never sees them.
//! Chat-first contacts have no code; a vendor who gives its operators' programs
//! the help desk's key ([`Encryption::sign_as_helpdesk`]) and its customer
//! program the public half ([`Encryption::trust_helpdesk`]) gets contacts the
//! customer program can verify. Without that, contacts are encrypted but
//! unverified (both sides see the fingerprint to compare by phone).

use std::collections::VecDeque;

use rsupport_core::e2e::{HelpdeskKey, HelpdeskPublicKey, KeyExchange};
use rsupport_core::Side;
use rsupport_proto::relay::{Paired, PairingOrigin, Secret};

/// End-to-end encryption settings, set on the
/// [`RelayTarget`](crate::RelayTarget) a program connects with.
#[derive(Clone, Default)]
pub struct Encryption {
    pub(crate) allow_plaintext: bool,
    pub(crate) helpdesk_key: Option<HelpdeskKey>,
    pub(crate) trusted_helpdesk: Option<HelpdeskPublicKey>,
    pub(crate) protocol_1_only: bool,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("allow_plaintext", &self.allow_plaintext)
            .field(
                "signs_as",
                &self.helpdesk_key.as_ref().map(HelpdeskKey::public_key),
            )
            .field("trusted_helpdesk", &self.trusted_helpdesk)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Encryption {
    fn eq(&self, other: &Self) -> bool {
        self.allow_plaintext == other.allow_plaintext
            && self.helpdesk_key.as_ref().map(HelpdeskKey::public_key)
                == other.helpdesk_key.as_ref().map(HelpdeskKey::public_key)
            && self.trusted_helpdesk == other.trusted_helpdesk
            && self.protocol_1_only == other.protocol_1_only
    }
}

impl Eq for Encryption {}

impl Encryption {
    /// Accepts sessions with peers whose program is too old to encrypt end to
    /// end (protocol 1), where the relay allows them too. Both sides are
    /// told the session is not end-to-end encrypted. Off by default: such a
    /// session ends at once with `EndReason::NotEncrypted`.
    pub fn allow_plaintext(mut self, allow: bool) -> Self {
        self.allow_plaintext = allow;
        self
    }

    /// Operator's program: signs chat-first key exchanges with the help
    /// desk's key, so customer programs that trust it can verify they reach
    /// the help desk. Keep the key file private to the operator's account;
    /// never put it on the relay.
    pub fn sign_as_helpdesk(mut self, key: HelpdeskKey) -> Self {
        self.helpdesk_key = Some(key);
        self
    }

    /// Customer's program: chat-first contacts must be signed by this help
    /// desk key; an operator (or relay) that cannot sign is refused before
    /// anything is shared.
    pub fn trust_helpdesk(mut self, key: HelpdeskPublicKey) -> Self {
        self.trusted_helpdesk = Some(key);
        self
    }

    /// Behaves as a protocol-1 program (no end-to-end encryption): for
    /// compatibility tests of relays and programs. Never use it in a product.
    #[doc(hidden)]
    pub fn speak_protocol_1_only(mut self) -> Self {
        self.protocol_1_only = true;
        self.allow_plaintext = true;
        self
    }

    /// Whether this program behaves as a protocol-1 one.
    pub(crate) fn speaks_protocol_1(&self) -> bool {
        self.protocol_1_only
    }

    /// The highest protocol version this program announces.
    pub(crate) fn max_version(&self) -> u32 {
        if self.protocol_1_only {
            1
        } else {
            rsupport_proto::PROTOCOL_VERSION
        }
    }
}

/// Most secrets an operator's program keeps for codes not used yet (the
/// relay allows 5 live codes per operator).
const MAX_CODE_SECRETS: usize = 64;

/// The code secrets a connection holds: the operator's for codes it issued,
/// the customer's for the code it joins with.
#[derive(Default)]
pub(crate) struct CodeSecrets {
    issued: VecDeque<(String, Secret<String>)>,
    joining: Option<Secret<String>>,
}

impl CodeSecrets {
    /// Operator: remember the secret digits of an issued code.
    pub(crate) fn issued(&mut self, routing: String, secret: Secret<String>) {
        self.issued.retain(|(r, _)| *r != routing);
        if self.issued.len() >= MAX_CODE_SECRETS {
            self.issued.pop_front();
        }
        self.issued.push_back((routing, secret));
    }

    /// Operator: a code was cancelled.
    pub(crate) fn forget(&mut self, routing: &str) {
        self.issued.retain(|(r, _)| r != routing);
    }

    /// Customer: the secret digits of the code being joined.
    pub(crate) fn joining(&mut self, secret: Secret<String>) {
        self.joining = Some(secret);
    }

    /// How `paired`'s keys are agreed on `side`, with `settings`.
    pub(crate) fn key_exchange(
        &mut self,
        side: Side,
        paired: &Paired,
        settings: &Encryption,
    ) -> KeyExchange {
        if paired.plaintext || settings.protocol_1_only {
            return KeyExchange::Plaintext;
        }
        let secret = match (paired.origin, side) {
            (PairingOrigin::SessionCode, Side::Customer) => self.joining.take(),
            (PairingOrigin::SessionCode, Side::Operator) => {
                let at = self.issued.iter().position(|(r, _)| *r == paired.code);
                at.and_then(|i| self.issued.remove(i)).map(|(_, s)| s)
            }
            (PairingOrigin::Contact, Side::Operator) => {
                return KeyExchange::Contact {
                    helpdesk: settings.helpdesk_key.clone(),
                    pinned: None,
                }
            }
            (PairingOrigin::Contact, Side::Customer) => {
                return KeyExchange::Contact {
                    helpdesk: None,
                    pinned: settings.trusted_helpdesk,
                }
            }
            // A hand-over has no keys for the new operator yet (see
            // docs/E2E.md): the exchange fails with a clear reason.
            _ => None,
        };
        KeyExchange::Code {
            secret: secret.unwrap_or_default(),
        }
    }
}
