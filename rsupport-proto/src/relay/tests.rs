//! Round-trip and refusal tests for every relay-control message.

use super::admin::*;
use super::*;
use crate::limits::{MAX_MODES, MAX_SECRET};
use crate::pb::{self, relay_message::Body};
use crate::wire::strategies::*;
use crate::wire::Wire;
use proptest::prelude::*;

fn secret(max: usize) -> impl Strategy<Value = Secret<String>> {
    text(max).prop_map(Secret::new)
}

fn digits() -> impl Strategy<Value = Secret<String>> {
    "[0-9]{0,12}".prop_map(Secret::new)
}

fn modes() -> impl Strategy<Value = Vec<ConnectionMode>> {
    proptest::collection::vec(one_of(ConnectionMode::ALL), 0..5)
}

fn customer() -> impl Strategy<Value = CustomerInfo> {
    (text(12), text(24), text(8), text(8)).prop_map(|(name, description, os, hostname)| {
        CustomerInfo {
            name,
            description,
            os,
            hostname,
        }
    })
}

fn request_result() -> impl Strategy<Value = RequestResult> {
    (proptest::option::of(one_of(RequestError::ALL)), text(16))
        .prop_map(|(error, detail)| RequestResult { error, detail })
}

fn handover() -> impl Strategy<Value = SessionHandover> {
    (any::<u64>(), text(8), text(16)).prop_map(|(session_id, operator_id, note)| SessionHandover {
        session_id,
        operator_id,
        note,
    })
}

fn settings() -> impl Strategy<Value = RelaySettings> {
    (
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(text(24)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(a, b, c, d, e, f, g, h, i, j, k)| RelaySettings {
            max_failed_logins: a,
            lockout_ms: b,
            code_length: c,
            code_ttl_ms: d,
            max_concurrent_sessions: e,
            max_session_ms: f,
            time_warning_ms: g,
            join_url_template: h,
            remote_printing: i,
            resume_grace_ms: j,
            allow_plaintext_sessions: k,
        })
}

fn audit_record() -> impl Strategy<Value = AuditRecord> {
    (
        (
            any::<u64>(),
            any::<u64>(),
            text(8),
            text(8),
            text(8),
            any::<u64>(),
            text(12),
        ),
        (
            modes(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
        ),
        (proptest::option::of(one_of(EndReason::ALL)), text(12)),
    )
        .prop_map(
            |(
                (id, at_ms, kind, operator_username, source, session_id, customer),
                (modes, started_ms, ended_ms, bytes_to_operator, bytes_to_customer),
                (end_reason, detail),
            )| AuditRecord {
                id,
                at_ms,
                kind,
                operator_username,
                source,
                session_id,
                customer,
                modes,
                started_ms,
                ended_ms,
                bytes_to_operator,
                bytes_to_customer,
                end_reason,
                detail,
            },
        )
}

fn account() -> impl Strategy<Value = AccountSummary> {
    (
        (
            text(8),
            text(8),
            one_of(Role::ALL),
            any::<bool>(),
            any::<u64>(),
        ),
        (modes(), any::<bool>(), any::<bool>(), text(8)),
    )
        .prop_map(
            |(
                (username, display_name, role, enabled, blocked_until_ms),
                (allowed_modes, full_file_control, totp_enabled, operator_id),
            )| AccountSummary {
                username,
                display_name,
                role,
                enabled,
                blocked_until_ms,
                allowed_modes,
                full_file_control,
                totp_enabled,
                operator_id,
            },
        )
}

pub(crate) fn admin_command() -> impl Strategy<Value = AdminCommand> {
    prop_oneof![
        (text(8), text(8), secret(16), one_of(Role::ALL)).prop_map(
            |(username, display_name, password, role)| {
                AdminCommand::CreateAccount {
                    username,
                    display_name,
                    password,
                    role,
                }
            }
        ),
        (text(8), any::<bool>())
            .prop_map(|(username, enabled)| AdminCommand::SetAccountEnabled { username, enabled }),
        (text(8), text(8), text(8)).prop_map(|(username, new_username, new_display_name)| {
            AdminCommand::RenameAccount {
                username,
                new_username,
                new_display_name,
            }
        }),
        (text(8), secret(16)).prop_map(|(username, new_password)| AdminCommand::ResetPassword {
            username,
            new_password
        }),
        (text(8), modes())
            .prop_map(|(username, modes)| AdminCommand::SetAllowedModes { username, modes }),
        (text(8), any::<bool>())
            .prop_map(|(username, enabled)| AdminCommand::SetFullFileControl { username, enabled }),
        text(8).prop_map(|username| AdminCommand::UnblockAccount { username }),
        Just(AdminCommand::ListAccounts),
        (
            any::<u64>(),
            any::<u64>(),
            text(8),
            any::<u32>(),
            any::<u64>()
        )
            .prop_map(|(from_ms, to_ms, operator_username, limit, after_id)| {
                AdminCommand::QueryAudit(AuditQuery {
                    from_ms,
                    to_ms,
                    operator_username,
                    limit,
                    after_id,
                })
            }),
        Just(AdminCommand::GetSettings),
        settings().prop_map(AdminCommand::UpdateSettings),
        (text(8), secret(32)).prop_map(|(username, secret_base32)| AdminCommand::SetTotp {
            username,
            secret_base32
        }),
        any::<u64>().prop_map(|session_id| AdminCommand::EndSession { session_id }),
        (any::<u64>(), any::<u32>())
            .prop_map(|(after_id, limit)| AdminCommand::ListSessions { after_id, limit }),
    ]
}

fn party_link() -> impl Strategy<Value = PartyLink> {
    prop_oneof![
        Just(PartyLink::Connected),
        (1..u64::MAX).prop_map(|until_ms| PartyLink::Suspended { until_ms }),
    ]
}

fn live_session() -> impl Strategy<Value = LiveSession> {
    (
        (any::<u64>(), text(8), text(12), text(24), any::<u64>()),
        (
            modes(),
            any::<bool>(),
            party_link(),
            party_link(),
            proptest::option::of(1..u64::MAX),
        ),
    )
        .prop_map(
            |(
                (session_id, operator_username, customer_name, customer_description, started_ms),
                (allowed_modes, end_to_end, operator, customer, time_limit_ms),
            )| LiveSession {
                session_id,
                operator_username,
                customer_name,
                customer_description,
                started_ms,
                allowed_modes,
                end_to_end,
                operator,
                customer,
                time_limit_ms,
            },
        )
}

fn admin_reply() -> impl Strategy<Value = AdminReply> {
    prop_oneof![
        request_result().prop_map(AdminReply::Result),
        proptest::collection::vec(account(), 0..3).prop_map(AdminReply::Accounts),
        (
            proptest::collection::vec(audit_record(), 0..3),
            any::<bool>()
        )
            .prop_map(|(records, truncated)| AdminReply::Audit(AuditPage { records, truncated })),
        settings().prop_map(AdminReply::Settings),
        (
            proptest::collection::vec(live_session(), 0..3),
            any::<bool>()
        )
            .prop_map(
                |(sessions, truncated)| AdminReply::Sessions(LiveSessionPage {
                    sessions,
                    truncated
                })
            ),
    ]
}

fn login_result() -> impl Strategy<Value = LoginResult> {
    (
        (
            one_of(LoginStatus::ALL),
            any::<u64>(),
            proptest::option::of(one_of(Role::ALL)),
        ),
        (text(8), text(8), modes(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (status, blocked_until_ms, role),
                (operator_id, display_name, allowed_modes, full_file_control, must_change_password),
            )| LoginResult {
                status,
                blocked_until_ms,
                role,
                operator_id,
                display_name,
                allowed_modes,
                full_file_control,
                must_change_password,
            },
        )
}

fn paired() -> impl Strategy<Value = Paired> {
    (
        (
            any::<u64>(),
            one_of(Role::ALL),
            text(8),
            customer(),
            any::<u64>(),
        ),
        (
            bytes(32),
            one_of(PairingOrigin::ALL),
            modes(),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (session_id, peer_role, peer_name, customer, time_limit_ms),
                (token, origin, allowed_modes, full_file_control, remote_printing),
            )| Paired {
                session_id,
                peer_role,
                peer_name,
                customer,
                time_limit_ms,
                resume_token: Secret::new(token),
                origin,
                allowed_modes,
                full_file_control,
                remote_printing,
                code: format!("{}", session_id % 10_000_000),
                plaintext: full_file_control ^ remote_printing,
            },
        )
}

pub(crate) fn relay_message() -> impl Strategy<Value = RelayMessage> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), one_of(Role::ALL), text(16)).prop_map(
            |(min_version, max_version, role, software)| {
                RelayMessage::Hello(Hello {
                    min_version,
                    max_version,
                    role,
                    software,
                })
            }
        ),
        (any::<u32>(), text(16), any::<u64>()).prop_map(|(version, relay_name, now_ms)| {
            RelayMessage::HelloAck(HelloAck {
                version,
                relay_name,
                now_ms,
            })
        }),
        (text(8), secret(16), digits()).prop_map(|(username, password, totp)| RelayMessage::Login(
            Login {
                username,
                password,
                totp
            }
        )),
        login_result().prop_map(RelayMessage::LoginResult),
        (secret(16), secret(16)).prop_map(|(old_password, new_password)| {
            RelayMessage::ChangePassword {
                old_password,
                new_password,
            }
        }),
        request_result().prop_map(RelayMessage::RequestResult),
        any::<u32>().prop_map(|ttl_secs| RelayMessage::IssueCode { ttl_secs }),
        (digits(), any::<u64>(), text(24)).prop_map(|(code, expires_at_ms, join_link)| {
            RelayMessage::CodeIssued(CodeIssued {
                code,
                expires_at_ms,
                join_link,
            })
        }),
        digits().prop_map(|code| RelayMessage::CancelCode { code }),
        (digits(), customer())
            .prop_map(|(code, customer)| RelayMessage::JoinByCode { code, customer }),
        (text(8), customer(), text(32)).prop_map(|(operator_id, customer, first_message)| {
            RelayMessage::ContactOperator(ContactOperator {
                operator_id,
                customer,
                first_message,
            })
        }),
        (any::<u64>(), customer(), text(32)).prop_map(|(contact_id, customer, first_message)| {
            RelayMessage::ContactRequest(ContactRequest {
                contact_id,
                customer,
                first_message,
            })
        }),
        (any::<u64>(), any::<bool>())
            .prop_map(|(contact_id, accept)| RelayMessage::ContactAnswer { contact_id, accept }),
        paired().prop_map(RelayMessage::Paired),
        (one_of(JoinRefusal::ALL), any::<u64>()).prop_map(|(reason, retry_after_ms)| {
            RelayMessage::JoinRefused {
                reason,
                retry_after_ms,
            }
        }),
        (any::<u64>(), one_of(EndReason::ALL))
            .prop_map(|(session_id, reason)| RelayMessage::LeaveSession { session_id, reason }),
        (any::<u64>(), one_of(EndReason::ALL), any::<u64>()).prop_map(
            |(session_id, reason, duration_ms)| {
                RelayMessage::SessionEnded {
                    session_id,
                    reason,
                    duration_ms,
                }
            }
        ),
        (any::<u64>(), any::<u64>()).prop_map(|(session_id, remaining_ms)| {
            RelayMessage::TimeLimitWarning {
                session_id,
                remaining_ms,
            }
        }),
        (any::<u64>(), admin_command()).prop_map(|(request_id, command)| {
            RelayMessage::AdminRequest(AdminRequest {
                request_id,
                command,
            })
        }),
        (any::<u64>(), admin_reply()).prop_map(|(request_id, reply)| RelayMessage::AdminResponse(
            AdminResponse { request_id, reply }
        )),
        any::<u64>().prop_map(|nonce| RelayMessage::Ping { nonce }),
        any::<u64>().prop_map(|nonce| RelayMessage::Pong { nonce }),
        (one_of(CloseReason::ALL), text(16))
            .prop_map(|(reason, detail)| RelayMessage::Close { reason, detail }),
        (any::<u64>(), bytes(32)).prop_map(|(session_id, t)| RelayMessage::Resume {
            session_id,
            resume_token: Secret::new(t)
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(session_id, grace_ms)| {
            RelayMessage::PeerSuspended {
                session_id,
                grace_ms,
            }
        }),
        any::<u64>().prop_map(|session_id| RelayMessage::PeerResumed { session_id }),
        handover().prop_map(RelayMessage::TransferSession),
        handover().prop_map(RelayMessage::InviteOperator),
        (
            any::<u64>(),
            any::<u64>(),
            text(8),
            customer(),
            text(16),
            any::<bool>()
        )
            .prop_map(
                |(offer_id, session_id, from_operator_id, customer, note, transfer)| {
                    RelayMessage::SessionOffer(SessionOffer {
                        offer_id,
                        session_id,
                        from_operator_id,
                        customer,
                        note,
                        transfer,
                    })
                }
            ),
        (any::<u64>(), any::<bool>())
            .prop_map(|(offer_id, accept)| RelayMessage::SessionOfferAnswer { offer_id, accept }),
        proptest::collection::vec(
            (text(8), text(8), any::<bool>(), any::<u32>()).prop_map(
                |(operator_id, display_name, online, active_sessions)| {
                    OperatorPresence {
                        operator_id,
                        display_name,
                        online,
                        active_sessions,
                    }
                }
            ),
            0..4
        )
        .prop_map(|operators| RelayMessage::PresenceUpdate { operators }),
    ]
}

proptest! {
    #[test]
    fn relay_messages_round_trip(m in relay_message()) {
        let back = RelayMessage::decode(m.encode()).expect("valid message decodes");
        prop_assert_eq!(back, m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = RelayMessage::decode(Bytes::from(b));
    }
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let m = RelayMessage::Login(Login {
        username: "aiko".into(),
        password: "Hunter2hunter2".into(),
        totp: "123456".into(),
    });
    let shown = format!("{m:?}");
    assert!(shown.contains("aiko"));
    assert!(!shown.contains("Hunter2"), "{shown}");
    assert!(!shown.contains("123456"), "{shown}");
}

#[test]
fn over_long_password_is_refused() {
    let m = RelayMessage::Login(Login {
        username: "aiko".into(),
        password: Secret::new("x".repeat(MAX_SECRET + 1)),
        totp: Secret::default(),
    });
    assert!(matches!(
        RelayMessage::decode(m.encode()),
        Err(DecodeError::TooLong {
            field: "login.password",
            ..
        })
    ));
}

#[test]
fn resume_tokens_are_redacted_and_bounded() {
    let m = RelayMessage::Resume {
        session_id: 7,
        resume_token: Secret::new(Bytes::from_static(b"token-bytes-0123")),
    };
    let shown = format!("{m:?}");
    assert!(shown.contains('7'));
    assert!(!shown.contains("token-bytes"), "{shown}");
    let long = RelayMessage::Resume {
        session_id: 7,
        resume_token: Secret::new(Bytes::from(vec![0u8; crate::limits::MAX_TOKEN + 1])),
    };
    assert!(matches!(
        RelayMessage::decode(long.encode()),
        Err(DecodeError::TooLong {
            field: "resume.resume_token",
            ..
        })
    ));
}

#[test]
fn failed_request_result_needs_an_error() {
    let pb = pb::RequestResult {
        ok: false,
        error: 0,
        detail: String::new(),
    };
    assert_eq!(
        RequestResult::from_pb(pb),
        Err(DecodeError::MissingField("request_result.error"))
    );
}

#[test]
fn too_many_modes_are_refused() {
    let pb = pb::RelayMessage {
        body: Some(Body::LoginResult(pb::LoginResult {
            status: LoginStatus::Ok.to_wire(),
            allowed_modes: vec![1; MAX_MODES + 1],
            ..Default::default()
        })),
    };
    assert!(matches!(
        RelayMessage::from_pb(pb),
        Err(DecodeError::TooMany {
            field: "login_result.allowed_modes",
            ..
        })
    ));
}

#[test]
fn empty_body_is_refused() {
    assert_eq!(
        RelayMessage::decode(Bytes::new()),
        Err(DecodeError::MissingField("relay.body"))
    );
}

#[test]
fn live_sessions_are_bounded_and_keep_their_party_states() {
    let session = LiveSession {
        session_id: 9,
        operator_username: "aiko".into(),
        customer_name: "Bob".into(),
        customer_description: "printer broken".into(),
        started_ms: 1_000,
        allowed_modes: vec![ConnectionMode::ViewCustomer],
        end_to_end: true,
        operator: PartyLink::Connected,
        customer: PartyLink::Suspended { until_ms: 61_000 },
        time_limit_ms: None,
    };
    let reply = |sessions: Vec<LiveSession>| {
        RelayMessage::AdminResponse(AdminResponse {
            request_id: 1,
            reply: AdminReply::Sessions(LiveSessionPage {
                sessions,
                truncated: false,
            }),
        })
    };
    let m = reply(vec![session.clone()]);
    assert_eq!(RelayMessage::decode(m.encode()).unwrap(), m);

    let mut long = session.clone();
    long.customer_name = "x".repeat(crate::limits::MAX_NAME + 1);
    assert!(matches!(
        RelayMessage::decode(reply(vec![long]).encode()),
        Err(DecodeError::TooLong {
            field: "live_session.customer_name",
            ..
        })
    ));
    let too_many = reply(vec![session; crate::limits::MAX_LIST + 1]);
    assert!(RelayMessage::decode(too_many.encode()).is_err());
}
