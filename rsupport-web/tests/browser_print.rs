//! Remote printing into the web console: the customer prints a PDF while
//! the operator controls; the job shows in the browser's print inbox, is
//! accepted there, and the browser downloads exactly the bytes printed. The
//! customer's side hears the job was saved. While only viewing, the same
//! job is refused on the customer's side and never reaches the browser.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use rsupport_client::HostPlatform;
use rsupport_core::print::{
    CustomerPrintEvent, DocumentFormat, PrintError, PrintEvent, PrintOutcome, SenderEvent,
    VirtualPrinterJob,
};
use rsupport_core::session::SessionEvent;
use rsupport_testkit::print::{make_pdf, ChannelSource};
use rsupport_testkit::relay::wait_for;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{allow_next, Scene};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_print_job_arrives_in_the_browser_inbox_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (jobs, rx) = tokio::sync::mpsc::unbounded_channel();
    let platform = HostPlatform::synthetic().with_printer(ChannelSource(rx));
    let Scene {
        mut browser,
        mut cu,
        ..
    } = Scene::start(platform).await;
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
    allow_next(&mut cu).await;
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
    allow_next(&mut cu).await;
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
