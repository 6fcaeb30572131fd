//! Control channel: connection modes and consent, pause, revoke, transfer and
//! invite notices, recording, time warnings, end.

use crate::common::{ConnectionMode, EndReason};
use crate::error::DecodeError;
use crate::limits::{MAX_FEATURES, MAX_NAME, MAX_NOTE};
use crate::pb::{self, control_message::Body};
use crate::wire::{check_count, check_str, required, wire_enum, Wire};

wire_enum! {
    /// The consenting party's decision on a mode request.
    pub enum ConsentDecision => ConsentDecision {
        /// Allowed.
        Allow => Allow,
        /// Refused.
        Deny => Deny,
        /// Nobody answered in time; treated as a refusal.
        Timeout => Timeout,
    }
}

wire_enum! {
    /// Why control was withdrawn.
    pub enum RevokeCause => RevokeCause {
        /// The host's user pressed "stop control".
        User => User,
        /// The host's user moved the mouse or typed: local input wins.
        LocalInput => LocalInput,
        /// A policy (e.g. an admin restriction) withdrew it.
        Policy => Policy,
    }
}

/// One control message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlMessage {
    /// Ask for a connection mode; the affected party must consent.
    ModeRequest {
        /// Echoed in the answer.
        request_id: u32,
        /// The mode asked for.
        mode: ConnectionMode,
        /// Shown to the person asked.
        reason: String,
    },
    /// The consenting party's answer.
    ModeAnswer {
        /// The request answered.
        request_id: u32,
        /// Allow, deny or timeout.
        decision: ConsentDecision,
        /// The mode in force after the answer (`None` before any mode was granted).
        mode: Option<ConnectionMode>,
    },
    /// Sharing paused or resumed by the host's user.
    PauseState {
        /// Whether sharing is paused now.
        paused: bool,
    },
    /// Control withdrawn; further input is ignored by the host.
    ControlRevoked {
        /// Why.
        cause: RevokeCause,
    },
    /// A viewer asks for control back after a revoke.
    ControlRequest {
        /// Echoed in the answer (a `ModeAnswer`).
        request_id: u32,
    },
    /// What the sender supports.
    Capabilities(Capabilities),
    /// The session is being handed to another operator.
    TransferNotice {
        /// Display name of the new operator.
        to_operator_name: String,
        /// Note from the handing operator.
        note: String,
    },
    /// Another operator joined (or left) as a viewer.
    InviteNotice {
        /// Display name of that operator.
        operator_name: String,
        /// Joined (true) or left (false).
        joined: bool,
    },
    /// Recording started or stopped.
    RecordingNotice {
        /// Whether the session is being recorded now.
        recording: bool,
    },
    /// The licence time limit ends the session soon.
    TimeWarning {
        /// Time left in ms.
        remaining_ms: u64,
    },
    /// The session ends.
    End {
        /// Why.
        reason: EndReason,
        /// Human-readable detail.
        detail: String,
    },
    /// The host will reboot and reconnect.
    RebootNotice {
        /// How long viewers should wait before giving up, ms.
        expected_downtime_ms: u64,
    },
}

/// Feature flags a party supports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Feature names, e.g. `"files"`, `"print"`, `"jpeg-tiles"`.
    pub features: Vec<String>,
    /// Tile cache entries the viewer keeps; 0 = none.
    pub tile_cache_entries: u32,
}

impl Wire for ControlMessage {
    type Pb = pb::ControlMessage;

    fn to_pb(&self) -> pb::ControlMessage {
        let body = match self {
            ControlMessage::ModeRequest {
                request_id,
                mode,
                reason,
            } => Body::ModeRequest(pb::ModeRequest {
                request_id: *request_id,
                mode: mode.to_wire(),
                reason: reason.clone(),
            }),
            ControlMessage::ModeAnswer {
                request_id,
                decision,
                mode,
            } => Body::ModeAnswer(pb::ModeAnswer {
                request_id: *request_id,
                decision: decision.to_wire(),
                mode: mode.map_or(0, ConnectionMode::to_wire),
            }),
            ControlMessage::PauseState { paused } => {
                Body::PauseState(pb::PauseState { paused: *paused })
            }
            ControlMessage::ControlRevoked { cause } => Body::ControlRevoked(pb::ControlRevoked {
                cause: cause.to_wire(),
            }),
            ControlMessage::ControlRequest { request_id } => {
                Body::ControlRequest(pb::ControlRequest {
                    request_id: *request_id,
                })
            }
            ControlMessage::Capabilities(c) => Body::Capabilities(pb::Capabilities {
                features: c.features.clone(),
                tile_cache_entries: c.tile_cache_entries,
            }),
            ControlMessage::TransferNotice {
                to_operator_name,
                note,
            } => Body::TransferNotice(pb::TransferNotice {
                to_operator_name: to_operator_name.clone(),
                note: note.clone(),
            }),
            ControlMessage::InviteNotice {
                operator_name,
                joined,
            } => Body::InviteNotice(pb::InviteNotice {
                operator_name: operator_name.clone(),
                joined: *joined,
            }),
            ControlMessage::RecordingNotice { recording } => {
                Body::RecordingNotice(pb::RecordingNotice {
                    recording: *recording,
                })
            }
            ControlMessage::TimeWarning { remaining_ms } => Body::TimeWarning(pb::TimeWarning {
                remaining_ms: *remaining_ms,
            }),
            ControlMessage::End { reason, detail } => Body::End(pb::End {
                reason: reason.to_wire(),
                detail: detail.clone(),
            }),
            ControlMessage::RebootNotice {
                expected_downtime_ms,
            } => Body::RebootNotice(pb::RebootNotice {
                expected_downtime_ms: *expected_downtime_ms,
            }),
        };
        pb::ControlMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::ControlMessage) -> Result<Self, DecodeError> {
        Ok(match required("control.body", pb.body)? {
            Body::ModeRequest(m) => {
                check_str("mode_request.reason", &m.reason, MAX_NOTE)?;
                ControlMessage::ModeRequest {
                    request_id: m.request_id,
                    mode: ConnectionMode::from_wire("mode_request.mode", m.mode)?,
                    reason: m.reason,
                }
            }
            Body::ModeAnswer(a) => ControlMessage::ModeAnswer {
                request_id: a.request_id,
                decision: ConsentDecision::from_wire("mode_answer.decision", a.decision)?,
                mode: ConnectionMode::from_wire_opt("mode_answer.mode", a.mode)?,
            },
            Body::PauseState(p) => ControlMessage::PauseState { paused: p.paused },
            Body::ControlRevoked(r) => ControlMessage::ControlRevoked {
                cause: RevokeCause::from_wire("control_revoked.cause", r.cause)?,
            },
            Body::ControlRequest(r) => ControlMessage::ControlRequest {
                request_id: r.request_id,
            },
            Body::Capabilities(c) => {
                check_count("capabilities.features", &c.features, MAX_FEATURES)?;
                for f in &c.features {
                    check_str("capabilities.features", f, MAX_NAME)?;
                }
                ControlMessage::Capabilities(Capabilities {
                    features: c.features,
                    tile_cache_entries: c.tile_cache_entries,
                })
            }
            Body::TransferNotice(t) => {
                check_str(
                    "transfer_notice.to_operator_name",
                    &t.to_operator_name,
                    MAX_NAME,
                )?;
                check_str("transfer_notice.note", &t.note, MAX_NOTE)?;
                ControlMessage::TransferNotice {
                    to_operator_name: t.to_operator_name,
                    note: t.note,
                }
            }
            Body::InviteNotice(i) => {
                check_str("invite_notice.operator_name", &i.operator_name, MAX_NAME)?;
                ControlMessage::InviteNotice {
                    operator_name: i.operator_name,
                    joined: i.joined,
                }
            }
            Body::RecordingNotice(r) => ControlMessage::RecordingNotice {
                recording: r.recording,
            },
            Body::TimeWarning(t) => ControlMessage::TimeWarning {
                remaining_ms: t.remaining_ms,
            },
            Body::End(e) => {
                check_str("end.detail", &e.detail, MAX_NOTE)?;
                ControlMessage::End {
                    reason: EndReason::from_wire("end.reason", e.reason)?,
                    detail: e.detail,
                }
            }
            Body::RebootNotice(r) => ControlMessage::RebootNotice {
                expected_downtime_ms: r.expected_downtime_ms,
            },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    pub(crate) fn control_message() -> impl Strategy<Value = ControlMessage> {
        prop_oneof![
            (any::<u32>(), one_of(ConnectionMode::ALL), text(32)).prop_map(
                |(request_id, mode, reason)| {
                    ControlMessage::ModeRequest {
                        request_id,
                        mode,
                        reason,
                    }
                }
            ),
            (
                any::<u32>(),
                one_of(ConsentDecision::ALL),
                proptest::option::of(one_of(ConnectionMode::ALL))
            )
                .prop_map(|(request_id, decision, mode)| ControlMessage::ModeAnswer {
                    request_id,
                    decision,
                    mode
                }),
            any::<bool>().prop_map(|paused| ControlMessage::PauseState { paused }),
            one_of(RevokeCause::ALL).prop_map(|cause| ControlMessage::ControlRevoked { cause }),
            any::<u32>().prop_map(|request_id| ControlMessage::ControlRequest { request_id }),
            (proptest::collection::vec(text(12), 0..4), any::<u32>()).prop_map(
                |(features, tile_cache_entries)| {
                    ControlMessage::Capabilities(Capabilities {
                        features,
                        tile_cache_entries,
                    })
                }
            ),
            (text(16), text(32)).prop_map(|(to_operator_name, note)| {
                ControlMessage::TransferNotice {
                    to_operator_name,
                    note,
                }
            }),
            (text(16), any::<bool>()).prop_map(|(operator_name, joined)| {
                ControlMessage::InviteNotice {
                    operator_name,
                    joined,
                }
            }),
            any::<bool>().prop_map(|recording| ControlMessage::RecordingNotice { recording }),
            any::<u64>().prop_map(|remaining_ms| ControlMessage::TimeWarning { remaining_ms }),
            (one_of(EndReason::ALL), text(32))
                .prop_map(|(reason, detail)| ControlMessage::End { reason, detail }),
            any::<u64>().prop_map(|expected_downtime_ms| ControlMessage::RebootNotice {
                expected_downtime_ms
            }),
        ]
    }

    proptest! {
        #[test]
        fn control_round_trips(m in control_message()) {
            assert_round_trip(&m);
        }
    }

    #[test]
    fn mode_request_without_mode_is_refused() {
        let pb = pb::ControlMessage {
            body: Some(Body::ModeRequest(pb::ModeRequest {
                request_id: 1,
                mode: 0,
                reason: String::new(),
            })),
        };
        assert_eq!(
            ControlMessage::from_pb(pb),
            Err(DecodeError::MissingField("mode_request.mode"))
        );
    }
}
