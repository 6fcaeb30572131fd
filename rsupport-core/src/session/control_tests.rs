//! Two control channels wired back to back on a virtual clock.

use super::*;

const ALL_MODES: &[ConnectionMode] = ConnectionMode::ALL;

struct Pair {
    operator: ControlChannel,
    customer: ControlChannel,
    now: Instant,
}

impl Pair {
    fn new(allowed: &[ConnectionMode]) -> Pair {
        let policy = SessionPolicy::allowing(allowed.iter().copied());
        Pair {
            operator: ControlChannel::new(Side::Operator, policy.clone()),
            customer: ControlChannel::new(Side::Customer, policy),
            now: Instant::now(),
        }
    }

    /// Delivers every queued message both ways until both are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(m) = self.operator.poll_transmit() {
                self.customer.handle_message(m, self.now).unwrap();
                moved = true;
            }
            while let Some(m) = self.customer.poll_transmit() {
                self.operator.handle_message(m, self.now).unwrap();
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.customer.poll_timeout().is_some_and(|t| t <= self.now) {
            self.customer.handle_timeout(self.now);
        }
        self.pump();
    }

    /// The operator asks for `mode` and the customer allows it.
    fn grant(&mut self, mode: ConnectionMode) {
        self.operator.request_mode(mode, "").unwrap();
        self.pump();
        let id = self.consent_request();
        self.customer.decide(id, true).unwrap();
        self.pump();
    }

    fn consent_request(&mut self) -> u32 {
        let mut found = None;
        while let Some(e) = self.customer.poll_event() {
            if let ControlEvent::ConsentRequested { request_id, .. } = e {
                found = Some(request_id);
            }
        }
        found.expect("customer was asked")
    }
}

fn events(ch: &mut ControlChannel) -> Vec<ControlEvent> {
    std::iter::from_fn(|| ch.poll_event()).collect()
}

#[test]
fn nothing_is_shared_before_consent() {
    let mut p = Pair::new(ALL_MODES);
    p.operator
        .request_mode(ConnectionMode::ControlCustomer, "printer")
        .unwrap();
    p.pump();
    assert!(!p.customer.sends_screen());
    assert!(!p.customer.accepts_input());
    assert!(!p.operator.may_send_input());
}

#[test]
fn allowed_request_grants_the_mode_on_both_sides() {
    let mut p = Pair::new(ALL_MODES);
    p.grant(ConnectionMode::ControlCustomer);
    assert!(p.customer.sends_screen());
    assert!(p.customer.accepts_input());
    assert!(p.operator.may_send_input());
    assert_eq!(p.operator.sharing(), p.customer.sharing());
}

#[test]
fn denied_request_shares_nothing_and_tells_the_operator() {
    let mut p = Pair::new(ALL_MODES);
    p.operator
        .request_mode(ConnectionMode::ViewCustomer, "")
        .unwrap();
    p.pump();
    let id = p.consent_request();
    p.customer.decide(id, false).unwrap();
    p.pump();
    assert_eq!(p.customer.sharing(), Sharing::Idle);
    assert!(
        events(&mut p.operator).contains(&ControlEvent::ModeRefused {
            mode: ConnectionMode::ViewCustomer,
            decision: ConsentDecision::Deny
        })
    );
}

#[test]
fn unanswered_request_times_out_as_a_refusal() {
    let mut p = Pair::new(ALL_MODES);
    p.operator
        .request_mode(ConnectionMode::ControlCustomer, "")
        .unwrap();
    p.pump();
    let id = p.consent_request();
    p.advance(DEFAULT_CONSENT_TIMEOUT - Duration::from_millis(1));
    assert!(
        p.customer.poll_timeout().is_some(),
        "still waiting at 59.999 s"
    );
    p.advance(Duration::from_millis(1));
    assert!(events(&mut p.customer).contains(&ControlEvent::ConsentTimedOut { request_id: id }));
    assert!(events(&mut p.operator).iter().any(|e| matches!(
        e,
        ControlEvent::ModeRefused {
            decision: ConsentDecision::Timeout,
            ..
        }
    )));
    // A late "allow" click changes nothing.
    assert_eq!(
        p.customer.decide(id, true),
        Err(ControlError::NoSuchRequest(id))
    );
    assert_eq!(p.customer.sharing(), Sharing::Idle);
}

#[test]
fn policy_forbidden_modes_are_refused_on_both_sides() {
    let mut p = Pair::new(&[ConnectionMode::ViewCustomer]);
    assert_eq!(
        p.operator.request_mode(ConnectionMode::ControlCustomer, ""),
        Err(ControlError::ModeNotAllowed(
            ConnectionMode::ControlCustomer
        ))
    );
    // A modified operator program that sends it anyway is refused by the customer side.
    p.customer
        .handle_message(
            ControlMessage::ModeRequest {
                request_id: 9,
                mode: ConnectionMode::ManageCustomer,
                reason: String::new(),
            },
            p.now,
        )
        .unwrap();
    assert_eq!(
        p.customer.poll_transmit(),
        Some(ControlMessage::ModeAnswer {
            request_id: 9,
            decision: ConsentDecision::Deny,
            mode: None
        })
    );
    assert_eq!(
        events(&mut p.customer),
        vec![ControlEvent::RefusedByPolicy {
            mode: ConnectionMode::ManageCustomer
        }]
    );
}

#[test]
fn forged_allow_from_a_peer_never_grants_anything_on_the_customer_side() {
    let mut p = Pair::new(ALL_MODES);
    // The customer never asks, so a ModeAnswer arriving there is a violation.
    let forged = ControlMessage::ModeAnswer {
        request_id: 1,
        decision: ConsentDecision::Allow,
        mode: Some(ConnectionMode::ControlCustomer),
    };
    assert!(p.customer.handle_message(forged, p.now).is_err());
    assert!(!p.customer.accepts_input());
}

#[test]
fn pause_stops_screen_and_input_until_resumed() {
    let mut p = Pair::new(ALL_MODES);
    p.grant(ConnectionMode::ControlCustomer);
    p.customer.set_paused(true).unwrap();
    p.pump();
    assert!(!p.customer.sends_screen());
    assert!(!p.customer.accepts_input());
    assert!(!p.operator.may_send_input());
    p.customer.set_paused(false).unwrap();
    p.pump();
    assert!(p.customer.sends_screen() && p.customer.accepts_input());
    // The viewer cannot pause the host.
    assert_eq!(p.operator.set_paused(true), Err(ControlError::NotHost));
}

#[test]
fn revoked_control_keeps_viewing_and_needs_new_consent() {
    let mut p = Pair::new(ALL_MODES);
    p.grant(ConnectionMode::ControlCustomer);
    p.customer.revoke_control(RevokeCause::LocalInput).unwrap();
    p.pump();
    assert!(p.customer.sends_screen());
    assert!(!p.customer.accepts_input());
    assert!(!p.operator.may_send_input());
    p.operator.request_control().unwrap();
    p.pump();
    let id = p.consent_request();
    p.customer.decide(id, true).unwrap();
    p.pump();
    assert!(p.customer.accepts_input() && p.operator.may_send_input());
}

#[test]
fn share_operator_screen_makes_the_operator_the_host() {
    let mut p = Pair::new(ALL_MODES);
    p.grant(ConnectionMode::ShareOperatorScreen);
    assert!(p.operator.sends_screen());
    assert!(p.operator.accepts_input());
    assert!(p.customer.may_send_input());
    assert!(!p.customer.sends_screen());
    // The operator, as host, can take control back.
    p.operator.revoke_control(RevokeCause::User).unwrap();
    p.pump();
    assert!(!p.customer.may_send_input());
}

#[test]
fn end_from_either_side_stops_everything() {
    let mut p = Pair::new(ALL_MODES);
    p.grant(ConnectionMode::ControlCustomer);
    p.customer.end(EndReason::CustomerEnded, "thanks");
    p.pump();
    assert!(p.customer.is_ended() && p.operator.is_ended());
    assert!(p.operator.ended_by_peer() && !p.customer.ended_by_peer());
    assert!(!p.customer.sends_screen() && !p.customer.accepts_input());
    assert!(events(&mut p.operator).contains(&ControlEvent::Ended {
        reason: EndReason::CustomerEnded,
        detail: "thanks".into(),
        by_peer: true
    }));
    assert_eq!(
        p.operator.request_mode(ConnectionMode::ViewCustomer, ""),
        Err(ControlError::Ended)
    );
}

#[test]
fn a_newer_request_supersedes_the_pending_one() {
    let mut p = Pair::new(ALL_MODES);
    p.operator
        .request_mode(ConnectionMode::ViewCustomer, "")
        .unwrap();
    p.pump();
    let first = p.consent_request();
    p.operator
        .request_mode(ConnectionMode::ControlCustomer, "")
        .unwrap();
    p.pump();
    let second = p.consent_request();
    assert_ne!(first, second);
    assert_eq!(
        p.customer.decide(first, true),
        Err(ControlError::NoSuchRequest(first))
    );
    p.customer.decide(second, true).unwrap();
    p.pump();
    assert_eq!(
        p.operator.sharing().mode(),
        Some(ConnectionMode::ControlCustomer)
    );
}
