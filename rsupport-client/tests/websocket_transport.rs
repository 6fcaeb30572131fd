//! Programs on networks that only let HTTPS through: the operator and the
//! customer reach the relay in a WebSocket on its port
//! (`RelayTarget::over_websocket`), with the same protocol and end-to-end
//! encryption: sessions run between WebSocket and plain-TLS parties either
//! way round, with frames and chat flowing.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use rsupport_client::{Customer, HostPlatform, Operator, OperatorOptions};
use rsupport_core::e2e::Protection;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::{ChatEvent, SessionEvent};
use rsupport_proto::relay::CustomerInfo;
use rsupport_proto::ConnectionMode;
use rsupport_testkit::relay::{grant, session_started, start_relay, wait_for, OPERATOR, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_operator_and_a_tls_customer_share_a_session() {
    let target = start_relay(None).await;
    let over_ws = target.clone().over_websocket();
    let mut operator = Operator::connect(&over_ws, OperatorOptions::default())
        .await
        .unwrap();
    operator.login(OPERATOR, PASSWORD, None).await.unwrap();
    let invitation = operator.issue_code().await.unwrap();
    let customer = Customer::connect(&target, HostPlatform::synthetic())
        .await
        .unwrap();
    let info = CustomerInfo {
        name: "Bob".into(),
        ..Default::default()
    };
    let join = tokio::spawn(async move { customer.join(invitation.code(), info).await });
    let mut op = session_started(&mut operator).await;
    let mut cu = join.await.unwrap().unwrap();
    let protection = wait_for(&mut op, |e| match e {
        SessionEvent::Protection(p) => Some(p.clone()),
        _ => None,
    })
    .await;
    assert!(
        matches!(protection, Protection::Encrypted { .. }),
        "end to end over the WebSocket too: {protection}"
    );
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    wait_for(&mut op, |e| match e {
        SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(()),
        _ => None,
    })
    .await;
    cu.send_chat("over HTTPS only?").await.unwrap();
    let line = wait_for(&mut op, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line, "over HTTPS only?");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_over_websocket_joins_an_operator_over_tls() {
    let target = start_relay(None).await;
    let mut operator = rsupport_testkit::relay::operator_logged_in(&target).await;
    let invitation = operator.issue_code().await.unwrap();
    let customer = Customer::connect(&target.clone().over_websocket(), HostPlatform::synthetic())
        .await
        .unwrap();
    let code = invitation.code().to_owned();
    let join = tokio::spawn(async move { customer.join(&code, CustomerInfo::default()).await });
    let op = session_started(&mut operator).await;
    let mut cu = join.await.unwrap().unwrap();
    op.send_chat("hello through the WebSocket").await.unwrap();
    let line = wait_for(&mut cu, |e| match e {
        SessionEvent::Chat(ChatEvent::Received(l)) => Some(l.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(line, "hello through the WebSocket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_is_really_used() {
    // A relay with its web front door off speaks only the native protocol:
    // a program set to use the WebSocket cannot get in, one without can.
    let target =
        rsupport_testkit::relay::start_relay_with(None, false, |c| c.web_enabled = false).await;
    let refused = Operator::connect(&target.clone().over_websocket(), OperatorOptions::default())
        .await
        .expect_err("no WebSocket without the web front door");
    assert!(
        refused.to_string().contains("WebSocket") || refused.to_string().contains("reach"),
        "{refused}"
    );
    Operator::connect(&target, OperatorOptions::default())
        .await
        .unwrap();
}
