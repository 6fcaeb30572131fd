//! The key exchange, sans-IO: customer and operator trade two or three
//! [`Handshake`] messages and end up with the same [`SessionKeys`], both
//! having checked the other's key confirmation — or with a failure.
//!
//! ```text
//! session code (CPace over the code's secret digits)
//!   customer → operator   PakeStart    { suite, share_c }
//!   operator → customer   PakeReply    { share_o, confirm_o }   customer checks confirm_o
//!   customer → operator   Confirm      { confirm_c }            operator checks confirm_c
//!
//! chat-first contact (X25519; the operator signs with the help desk's key)
//!   customer → operator   ContactStart { suite, share_c }
//!   operator → customer   ContactReply { share_o, signature, confirm_o }
//!   customer → operator   Confirm      { confirm_c }
//! ```
//!
//! A wrong code gives the two sides different keys: the customer's check of
//! `confirm_o` fails, and a party in the middle that runs its own exchange
//! with each side fails the same way unless it guessed the code (one guess
//! per attempt, and every attempt ends the session visibly).

use bytes::Bytes;
use pake_cpace::{CPace, Step1Out, STEP1_PACKET_BYTES, STEP2_PACKET_BYTES};
use ring::agreement::{self, EphemeralPrivateKey, UnparsedPublicKey, X25519};
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use rsupport_proto::e2e::Handshake;

use super::keys::{transcript_hash, SessionKeys, SUITE};
use super::{HelpdeskKey, HelpdeskPublicKey, KeyExchange, Verification};
use crate::Side;

const CUSTOMER_ID: &str = "rsupport customer";
const OPERATOR_ID: &str = "rsupport operator";

/// Why the exchange failed, in words for the person at each end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The keys did not match: a wrong code, or someone in the middle.
    #[error(
        "the secure connection could not be set up: the code does not match, or someone \
         between you tried to listen in. Nothing was shared; start again with a new code"
    )]
    Mismatch,
    /// The operator could not prove it belongs to the help desk this
    /// program trusts.
    #[error(
        "the operator could not prove it belongs to the help desk this program trusts; \
         nothing was shared. Contact the help desk another way"
    )]
    NotHelpdesk,
    /// The peer sent something that is not part of this exchange.
    #[error("the other side sent an unexpected key-exchange message ({0})")]
    Unexpected(&'static str),
    /// The other side reported its own failure.
    #[error("the other side could not set up the secure connection: {0}")]
    PeerFailed(String),
    /// No session-code secret is known for this session (the operator's
    /// program did not issue the code the customer used).
    #[error("this program does not hold the secret part of the code the customer used")]
    NoSecret,
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Random,
    /// No answer in time.
    #[error("the other side did not complete the secure connection in time")]
    Timeout,
}

/// The exchange reached agreement on this side.
pub(crate) struct Agreed {
    pub(crate) keys: SessionKeys,
    pub(crate) verification: Verification,
}

/// What one step of the exchange produced.
#[derive(Default)]
pub(crate) struct Step {
    /// A message for the peer.
    pub(crate) send: Option<Handshake>,
    /// Keys both sides confirmed (from this side's point of view).
    pub(crate) agreed: Option<Agreed>,
}

enum State {
    /// Operator: waiting for the customer's first message.
    AwaitStart,
    /// Customer (code): waiting for the operator's reply.
    AwaitPakeReply { step1: Box<Step1Out>, share: Bytes },
    /// Customer (contact): waiting for the operator's reply.
    AwaitContactReply {
        private: EphemeralPrivateKey,
        share: Bytes,
    },
    /// Operator: waiting for the customer's confirmation.
    AwaitConfirm {
        keys: Box<SessionKeys>,
        verification: Verification,
    },
    /// Agreed or failed: no more messages.
    Done,
}

/// One side's key exchange.
pub(crate) struct Exchange {
    session_id: u64,
    method: KeyExchange,
    state: State,
}

fn ad(session_id: u64) -> Vec<u8> {
    let mut ad = SUITE.as_bytes().to_vec();
    ad.extend_from_slice(&session_id.to_be_bytes());
    ad
}

impl Exchange {
    /// Starts the exchange; the customer's first message is in the step.
    pub(crate) fn start(
        side: Side,
        session_id: u64,
        method: KeyExchange,
    ) -> Result<(Self, Step), ExchangeError> {
        let mut exchange = Exchange {
            session_id,
            method,
            state: State::AwaitStart,
        };
        let mut step = Step::default();
        if side == Side::Customer {
            step.send = Some(exchange.first_message()?);
        }
        Ok((exchange, step))
    }

    fn first_message(&mut self) -> Result<Handshake, ExchangeError> {
        match &self.method {
            KeyExchange::Code { secret } => {
                let step1 = CPace::step1(
                    secret.expose().as_str(),
                    CUSTOMER_ID,
                    OPERATOR_ID,
                    Some(ad(self.session_id)),
                )
                .map_err(|_| ExchangeError::Random)?;
                let share = Bytes::copy_from_slice(&step1.packet());
                self.state = State::AwaitPakeReply {
                    step1: Box::new(step1),
                    share: share.clone(),
                };
                Ok(Handshake::PakeStart {
                    suite: SUITE.into(),
                    share,
                })
            }
            KeyExchange::Contact { .. } => {
                let rng = SystemRandom::new();
                let private = EphemeralPrivateKey::generate(&X25519, &rng)
                    .map_err(|_| ExchangeError::Random)?;
                let public = private
                    .compute_public_key()
                    .map_err(|_| ExchangeError::Random)?;
                let share = Bytes::copy_from_slice(public.as_ref());
                self.state = State::AwaitContactReply {
                    private,
                    share: share.clone(),
                };
                Ok(Handshake::ContactStart {
                    suite: SUITE.into(),
                    share,
                })
            }
            KeyExchange::Plaintext => Err(ExchangeError::Unexpected("plaintext session")),
        }
    }

    /// The peer's next message.
    pub(crate) fn handle(&mut self, message: Handshake) -> Result<Step, ExchangeError> {
        let state = std::mem::replace(&mut self.state, State::Done);
        match (state, message) {
            (_, Handshake::Failed { reason }) => Err(ExchangeError::PeerFailed(
                rsupport_proto::text::clean_display_text(&reason, 256),
            )),
            (State::AwaitStart, Handshake::PakeStart { suite, share }) => {
                self.operator_pake(&suite, &share)
            }
            (State::AwaitStart, Handshake::ContactStart { suite, share }) => {
                self.operator_contact(&suite, &share)
            }
            (
                State::AwaitPakeReply { step1, share },
                Handshake::PakeReply {
                    share: reply,
                    confirm,
                },
            ) => {
                let packet: [u8; STEP2_PACKET_BYTES] = reply
                    .as_ref()
                    .try_into()
                    .map_err(|_| ExchangeError::Unexpected("PAKE share of the wrong size"))?;
                let shared = step1.step3(&packet).map_err(|_| ExchangeError::Mismatch)?;
                let keys = SessionKeys::derive(
                    &[shared.k1, shared.k2].concat(),
                    self.transcript(&share, &reply),
                );
                self.customer_finish(keys, &confirm, Verification::Code)
            }
            (
                State::AwaitContactReply { private, share },
                Handshake::ContactReply {
                    share: reply,
                    signature,
                    confirm,
                },
            ) => {
                let transcript = self.transcript(&share, &reply);
                let verification = self.check_helpdesk(&transcript, &signature)?;
                let peer = UnparsedPublicKey::new(&X25519, reply.as_ref());
                let shared = agreement::agree_ephemeral(private, &peer, |s| s.to_vec())
                    .map_err(|_| ExchangeError::Mismatch)?;
                let keys = SessionKeys::derive(&shared, transcript);
                self.customer_finish(keys, &confirm, verification)
            }
            (State::AwaitConfirm { keys, verification }, Handshake::Confirm { confirm }) => {
                if !keys.check_confirmation(Side::Customer, &confirm) {
                    return Err(ExchangeError::Mismatch);
                }
                Ok(Step {
                    send: None,
                    agreed: Some(Agreed {
                        keys: *keys,
                        verification,
                    }),
                })
            }
            (_, m) => Err(ExchangeError::Unexpected(match m {
                Handshake::PakeStart { .. } => "a second start",
                Handshake::ContactStart { .. } => "a second start",
                Handshake::PakeReply { .. } | Handshake::ContactReply { .. } => {
                    "a reply out of turn"
                }
                Handshake::Confirm { .. } => "a confirmation out of turn",
                _ => "an unknown message",
            })),
        }
    }

    fn transcript(&self, customer_share: &[u8], operator_share: &[u8]) -> [u8; 32] {
        transcript_hash(&[
            SUITE.as_bytes(),
            &self.session_id.to_be_bytes(),
            customer_share,
            operator_share,
        ])
    }

    fn check_suite(suite: &str) -> Result<(), ExchangeError> {
        if suite == SUITE {
            Ok(())
        } else {
            Err(ExchangeError::Unexpected(
                "an exchange this version does not speak",
            ))
        }
    }

    fn operator_pake(&mut self, suite: &str, share: &[u8]) -> Result<Step, ExchangeError> {
        Self::check_suite(suite)?;
        let KeyExchange::Code { secret } = &self.method else {
            return Err(ExchangeError::Unexpected(
                "a code exchange in a contact session",
            ));
        };
        if secret.expose().is_empty() {
            return Err(ExchangeError::NoSecret);
        }
        let packet: [u8; STEP1_PACKET_BYTES] = share
            .try_into()
            .map_err(|_| ExchangeError::Unexpected("PAKE share of the wrong size"))?;
        let step2 = CPace::step2(
            &packet,
            secret.expose().as_str(),
            CUSTOMER_ID,
            OPERATOR_ID,
            Some(ad(self.session_id)),
        )
        .map_err(|_| ExchangeError::Mismatch)?;
        let reply = step2.packet();
        let shared = step2.shared_keys();
        let keys = SessionKeys::derive(
            &[shared.k1, shared.k2].concat(),
            self.transcript(share, &reply),
        );
        let confirm = Bytes::from(keys.confirmation(Side::Operator));
        self.state = State::AwaitConfirm {
            keys: Box::new(keys),
            verification: Verification::Code,
        };
        Ok(Step {
            send: Some(Handshake::PakeReply {
                share: Bytes::copy_from_slice(&reply),
                confirm,
            }),
            agreed: None,
        })
    }

    fn operator_contact(&mut self, suite: &str, share: &[u8]) -> Result<Step, ExchangeError> {
        Self::check_suite(suite)?;
        let KeyExchange::Contact { helpdesk, .. } = &self.method else {
            return Err(ExchangeError::Unexpected(
                "a contact exchange in a code session",
            ));
        };
        let rng = SystemRandom::new();
        let private =
            EphemeralPrivateKey::generate(&X25519, &rng).map_err(|_| ExchangeError::Random)?;
        let public = private
            .compute_public_key()
            .map_err(|_| ExchangeError::Random)?;
        let reply = public.as_ref().to_vec();
        let transcript = self.transcript(share, &reply);
        let (signature, verification) = match helpdesk {
            Some(key) => (
                Bytes::copy_from_slice(key.pair.sign(&transcript).as_ref()),
                Verification::Helpdesk,
            ),
            None => (Bytes::new(), Verification::Unverified),
        };
        let peer = UnparsedPublicKey::new(&X25519, share);
        let shared = agreement::agree_ephemeral(private, &peer, |s| s.to_vec())
            .map_err(|_| ExchangeError::Mismatch)?;
        let keys = SessionKeys::derive(&shared, transcript);
        let confirm = Bytes::from(keys.confirmation(Side::Operator));
        self.state = State::AwaitConfirm {
            keys: Box::new(keys),
            verification,
        };
        Ok(Step {
            send: Some(Handshake::ContactReply {
                share: Bytes::from(reply),
                signature,
                confirm,
            }),
            agreed: None,
        })
    }

    /// Customer, contact: a pinned help-desk key must have signed the
    /// transcript; without a pinned key the session is encrypted but not
    /// verified (the fingerprint is the only check).
    fn check_helpdesk(
        &self,
        transcript: &[u8; 32],
        signature: &[u8],
    ) -> Result<Verification, ExchangeError> {
        let KeyExchange::Contact { pinned, .. } = &self.method else {
            return Err(ExchangeError::Unexpected(
                "a contact reply in a code session",
            ));
        };
        match pinned {
            None => Ok(Verification::Unverified),
            Some(key) => signature::UnparsedPublicKey::new(&signature::ED25519, key.0)
                .verify(transcript, signature)
                .map(|()| Verification::Helpdesk)
                .map_err(|_| ExchangeError::NotHelpdesk),
        }
    }

    fn customer_finish(
        &mut self,
        keys: SessionKeys,
        confirm: &[u8],
        verification: Verification,
    ) -> Result<Step, ExchangeError> {
        if !keys.check_confirmation(Side::Operator, confirm) {
            return Err(ExchangeError::Mismatch);
        }
        Ok(Step {
            send: Some(Handshake::Confirm {
                confirm: Bytes::from(keys.confirmation(Side::Customer)),
            }),
            agreed: Some(Agreed { keys, verification }),
        })
    }
}

impl HelpdeskKey {
    /// The public half customers pin.
    pub fn public_key(&self) -> HelpdeskPublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.pair.public_key().as_ref());
        HelpdeskPublicKey(k)
    }
}
