//! Remote printing in live sessions through a real relay over TLS: the
//! customer's printer jobs reach the operator's printer or folder only in
//! control/manage modes and only when the relay's administrator allows it;
//! both sides hear progress and the result. One test prints with `lp` to a
//! real CUPS queue and gets the pages out of a cups-pdf printer.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use rsupport_testkit::print as print_util;
use rsupport_testkit::relay as support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use print_util::{ChannelSource, PdfQueue};
use rsupport_client::{HostPlatform, OperatorOptions, SessionHandle};
use rsupport_core::print::{
    CustomerPrintEvent, DocumentFormat, OperatorPrintEvent, PrintError, PrintEvent, PrintOutcome,
    PrintStage, ReceiverEvent, SenderEvent, VirtualPrinterJob,
};
use rsupport_core::session::SessionEvent;
use rsupport_print::{
    CupsQueueSink, CupsRegistration, PrinterRegistration, SaveToDirectory, VirtualPrinter,
    VirtualPrinterConfig,
};
use rsupport_proto::print::PrintJobOffer;
use rsupport_proto::ConnectionMode;
use support::{grant, paired_with, start_relay, start_relay_with, wait_for};
use tokio::sync::mpsc;

/// A customer platform whose printer is fed by the test.
fn platform_with_test_printer() -> (HostPlatform, mpsc::UnboundedSender<VirtualPrinterJob>) {
    let (jobs, rx) = mpsc::unbounded_channel();
    (
        HostPlatform::synthetic().with_printer(ChannelSource(rx)),
        jobs,
    )
}

/// A spooled PDF job, as a virtual printer hands it over.
fn spooled(dir: &Path, name: &str, pages: u32) -> (VirtualPrinterJob, Vec<u8>) {
    let bytes = print_util::make_pdf(pages);
    let path = dir.join(format!("{name}.spool"));
    std::fs::write(&path, &bytes).unwrap();
    let job = VirtualPrinterJob::new(
        0,
        name,
        DocumentFormat::Pdf,
        bytes.len() as u64,
        Some(pages),
        1,
        path,
    );
    (job, bytes)
}

fn operator_saving_to(dir: &Path) -> OperatorOptions {
    let mut options = OperatorOptions::default()
        .with_print_sink(Arc::new(SaveToDirectory::new(dir.join("saved"))));
    options.print_spool_dir = Some(dir.join("operator-spool"));
    options
}

async fn offered_to_operator(op: &mut SessionHandle) -> PrintJobOffer {
    wait_for(op, |e| match e {
        SessionEvent::Print(PrintEvent::Operator(OperatorPrintEvent::Channel(
            ReceiverEvent::Offered(offer),
        ))) => Some(offer.clone()),
        _ => None,
    })
    .await
}

/// The customer's final word on a job: outcome, destination, detail.
async fn finished_at_customer(cu: &mut SessionHandle) -> (PrintOutcome, String, String) {
    wait_for(cu, |e| match e {
        SessionEvent::Print(PrintEvent::Customer(CustomerPrintEvent::Channel(
            SenderEvent::Finished {
                outcome,
                destination,
                detail,
                ..
            },
        ))) => Some((*outcome, destination.clone(), detail.clone())),
        _ => None,
    })
    .await
}

async fn refused_at_customer(cu: &mut SessionHandle) -> (String, PrintError) {
    wait_for(cu, |e| match e {
        SessionEvent::Print(PrintEvent::Customer(CustomerPrintEvent::NotSent { name, reason })) => {
            Some((name.clone(), reason.clone()))
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_travel_only_in_control_modes_and_arrive_intact() {
    let dir = print_util::temp_dir("session-print");
    let target = start_relay(None).await;
    let (platform, jobs) = platform_with_test_printer();
    let (_operator, mut op, mut cu) =
        paired_with(&target, operator_saving_to(&dir), platform).await;

    // Viewing only: the job stays on the customer's machine.
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    let (job, _) = spooled(&dir, "payslip", 1);
    jobs.send(job).unwrap();
    let (name, reason) = refused_at_customer(&mut cu).await;
    assert_eq!(name, "payslip");
    assert_eq!(reason, PrintError::NotAllowed);

    // In control mode the operator is asked; a declined job is reported.
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    let (job, _) = spooled(&dir, "draft", 2);
    jobs.send(job).unwrap();
    let offer = offered_to_operator(&mut op).await;
    assert_eq!((offer.name.as_str(), offer.pages), ("draft", 2));
    op.decline_print(offer.job_id, "not now").await.unwrap();
    let (outcome, _, detail) = finished_at_customer(&mut cu).await;
    assert_eq!(outcome, PrintOutcome::Declined);
    assert!(detail.contains("not now"), "{detail}");

    // An accepted job is saved on the operator's side byte for byte.
    let (job, bytes) = spooled(&dir, "Quarterly report", 3);
    let spool = job.path.clone();
    jobs.send(job).unwrap();
    let offer = offered_to_operator(&mut op).await;
    op.accept_print(offer.job_id).await.unwrap();
    let (outcome, destination, detail) = finished_at_customer(&mut cu).await;
    assert_eq!(outcome, PrintOutcome::Saved, "{detail}");
    let saved = std::fs::read(&destination).unwrap();
    assert_eq!(saved, bytes, "the saved document equals the printed one");
    assert!(Path::new(&destination).starts_with(dir.join("saved")));
    let done = wait_for(&mut op, |e| match e {
        SessionEvent::Print(PrintEvent::Operator(OperatorPrintEvent::Done { outcome, .. })) => {
            Some(outcome.outcome)
        }
        _ => None,
    })
    .await;
    assert_eq!(done, PrintOutcome::Saved);
    assert!(!spool.exists(), "the customer's spool file is removed");

    // Back to viewing: printing is off again.
    grant(&mut op, &mut cu, ConnectionMode::ViewCustomer).await;
    let (job, _) = spooled(&dir, "late", 1);
    jobs.send(job).unwrap();
    assert_eq!(refused_at_customer(&mut cu).await.1, PrintError::NotAllowed);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_can_turn_printing_off_and_an_operator_without_printer_declines() {
    let dir = print_util::temp_dir("session-print-off");
    // Printing switched off by the relay's administrator.
    let target = start_relay_with(None, false, |c| c.settings.remote_printing = false).await;
    let (platform, jobs) = platform_with_test_printer();
    let (_operator, mut op, mut cu) =
        paired_with(&target, operator_saving_to(&dir), platform).await;
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;
    let (job, _) = spooled(&dir, "secret", 1);
    jobs.send(job).unwrap();
    assert_eq!(refused_at_customer(&mut cu).await.1, PrintError::NotAllowed);

    // Printing allowed, but the operator's program has no printer or folder.
    let target = start_relay(None).await;
    let (platform, jobs) = platform_with_test_printer();
    let (_operator, mut op, mut cu) =
        paired_with(&target, OperatorOptions::default(), platform).await;
    grant(&mut op, &mut cu, ConnectionMode::ManageCustomer).await;
    let (job, _) = spooled(&dir, "memo", 1);
    jobs.send(job).unwrap();
    let (outcome, _, detail) = finished_at_customer(&mut cu).await;
    assert_eq!(outcome, PrintOutcome::Declined);
    assert!(detail.contains("not set up"), "{detail}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lp_on_the_customer_side_comes_out_of_the_operators_pdf_printer() {
    print_util::require_cups();
    let out_dir = print_util::cups_pdf_out_dir();
    let dir = print_util::temp_dir("session-print-cups");
    let tag = std::process::id();

    // Customer: the SDK's virtual printer, registered as a CUPS queue.
    let printer = VirtualPrinter::start(VirtualPrinterConfig::new(
        "rsupport remote",
        dir.join("customer-spool"),
    ))
    .await
    .unwrap();
    let customer_queue = format!("rsupport-session-remote-{tag}");
    let mut registration = CupsRegistration::install(&customer_queue, printer.uri())
        .await
        .expect("lpadmin -m everywhere");
    // Operator: a PDF printer.
    let operator_queue = PdfQueue::create(&format!("rsupport-session-pdf-{tag}"));
    let mut options = OperatorOptions::default()
        .with_print_sink(Arc::new(CupsQueueSink::new(&operator_queue.0).unwrap()));
    options.print_spool_dir = Some(dir.join("operator-spool"));
    let before = print_util::pdfs_in(&out_dir);

    let target = start_relay(None).await;
    let platform = HostPlatform::synthetic().with_printer(printer);
    let (_operator, mut op, mut cu) = paired_with(&target, options, platform).await;
    grant(&mut op, &mut cu, ConnectionMode::ControlCustomer).await;

    // An application prints a 4-page PDF.
    let pdf = dir.join("invoice.pdf");
    std::fs::write(&pdf, print_util::make_pdf(4)).unwrap();
    let title = format!("Invoice {tag}");
    let lp = Command::new("lp")
        .args(["-d", &customer_queue, "-t", &title])
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        lp.status.success(),
        "lp: {}",
        String::from_utf8_lossy(&lp.stderr)
    );

    let offer = offered_to_operator(&mut op).await;
    assert_eq!(offer.name, title);
    op.accept_print(offer.job_id).await.unwrap();
    let mut stages = Vec::new();
    let (outcome, destination, detail) = wait_for(&mut cu, |e| match e {
        SessionEvent::Print(PrintEvent::Customer(CustomerPrintEvent::Channel(e))) => match e {
            SenderEvent::Progress { stage, .. } => {
                stages.push(*stage);
                None
            }
            SenderEvent::Finished {
                outcome,
                destination,
                detail,
                ..
            } => Some((*outcome, destination.clone(), detail.clone())),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(outcome, PrintOutcome::Printed, "{detail}");
    assert_eq!(destination, operator_queue.0);
    assert!(stages.contains(&PrintStage::Queued), "{stages:?}");

    // cups-pdf wrote a PDF with the same pages (CUPS may rewrite the bytes).
    let produced = print_util::wait_for(std::time::Duration::from_secs(20), || {
        print_util::pdfs_in(&out_dir)
            .difference(&before)
            .find(|p| p.to_string_lossy().contains(&tag.to_string()))
            .cloned()
    })
    .await
    .expect("cups-pdf produced the document");
    assert_eq!(print_util::pdfinfo_pages(&produced), 4);

    registration.uninstall().await.unwrap();
    let _ = std::fs::remove_file(&produced);
    let _ = std::fs::remove_dir_all(&dir);
}
