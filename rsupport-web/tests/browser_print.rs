//! Remote printing into the web console: the customer prints a PDF while
//! the operator controls; the job shows in the browser's print inbox, is
//! accepted there, and the browser downloads exactly the bytes printed. The
//! customer's side hears the job was saved. While only viewing, the same
//! job is refused on the customer's side and never reaches the browser.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use rsupport_client::{Customer, HostPlatform};
use rsupport_core::print::{
    CustomerPrintEvent, DocumentFormat, PrintError, PrintEvent, PrintOutcome, SenderEvent,
    VirtualPrinterJob,
};
use rsupport_core::session::{ControlEvent, SessionEvent};
use rsupport_proto::relay::CustomerInfo;
use rsupport_testkit::print::{make_pdf, ChannelSource};
use rsupport_testkit::relay::wait_for;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{relay_with_console, Browser};

async fn grant_next(cu: &mut rsupport_client::SessionHandle) {
    let request_id = wait_for(cu, |e| match e {
        SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
            Some(*request_id)
        }
        _ => None,
    })
    .await;
    cu.decide(request_id, true).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_print_job_arrives_in_the_browser_inbox_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (target, url) = relay_with_console().await;
    let mut browser = Browser::start().await;
    let code = support::operator_with_code(&mut browser, &url).await;
    let (jobs, rx) = tokio::sync::mpsc::unbounded_channel();
    let platform = HostPlatform::synthetic().with_printer(ChannelSource(rx));
    let customer = Customer::connect(&target, platform).await.unwrap();
    let mut cu = customer
        .join(
            &code,
            CustomerInfo {
                name: "Bob".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    browser.run(json!({"cmd": "wait_session"})).await;
    let pdf = make_pdf(2);
    let spooled = |name: &str| {
        let path = dir.path().join(format!("{name}.spool"));
        std::fs::write(&path, &pdf).unwrap();
        VirtualPrinterJob::new(
            0,
            name,
            DocumentFormat::Pdf,
            pdf.len() as u64,
            Some(2),
            1,
            path,
        )
    };

    // Viewing only: the customer's side refuses to print to the operator.
    browser.run(json!({"cmd": "request", "mode": "view"})).await;
    grant_next(&mut cu).await;
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "viewing"}))
        .await;
    jobs.send(spooled("while viewing")).unwrap();
    let refused = wait_for(&mut cu, |e| match e {
        SessionEvent::Print(PrintEvent::Customer(CustomerPrintEvent::NotSent {
            reason, ..
        })) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(refused, PrintError::NotAllowed);

    // Controlling: the job reaches the inbox and is downloaded intact.
    browser
        .run(json!({"cmd": "request", "mode": "control"}))
        .await;
    grant_next(&mut cu).await;
    browser
        .run(json!({"cmd": "wait_text", "testid": "state", "text": "controlling"}))
        .await;
    jobs.send(spooled("invoice")).unwrap();
    browser
        .run(json!({"cmd": "button", "testid": "print-accept"}))
        .await;
    let saved_path = dir.path().join("downloaded.pdf");
    let saved = browser
        .run(json!({"cmd": "click_download", "testid": "print-download", "path": saved_path}))
        .await;
    assert_eq!(saved["name"], json!("invoice.pdf"));
    let downloaded = std::fs::read(&saved_path).unwrap();
    assert_eq!(
        Sha256::digest(&downloaded),
        Sha256::digest(&pdf),
        "the PDF is intact"
    );
    let (outcome, destination) = wait_for(&mut cu, |e| match e {
        SessionEvent::Print(PrintEvent::Customer(CustomerPrintEvent::Channel(
            SenderEvent::Finished {
                outcome,
                destination,
                ..
            },
        ))) => Some((*outcome, destination.clone())),
        _ => None,
    })
    .await;
    assert_eq!(outcome, PrintOutcome::Saved);
    assert_eq!(destination, "the operator's browser");
    browser.screenshot("operator-print-inbox").await;
    browser.quit().await;
}
