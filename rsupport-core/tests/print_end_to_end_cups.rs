//! End to end on this machine with a real CUPS: an application prints a
//! multi-page PDF with `lp` to the customer's virtual printer queue; the job
//! crosses the print channel (customer and operator state machines, real
//! wire encoding, in memory) and is printed on the operator's side to a
//! cups-pdf queue, from which a PDF with the same number of pages comes out.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

mod print_util;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rsupport_core::print::{
    CupsQueueSink, CupsRegistration, PrintMessage, PrintOutcome, PrintPolicy, PrintReceiver,
    PrintSender, PrintSink, PrintStage, PrinterRegistration, ReceiverEvent, SaveToDirectory,
    SenderEvent, SinkJob, VirtualPrinter, VirtualPrinterConfig, VirtualPrinterJob,
};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::ConnectionMode;

const CUPS_PDF_PPD: &str = "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd";

/// Where cups-pdf writes, from its configuration (`Out` directive).
fn cups_pdf_out_dir() -> PathBuf {
    let conf = std::fs::read_to_string("/etc/cups/cups-pdf.conf")
        .expect("cups-pdf is not installed: run scripts/install-print-deps.sh");
    let out = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("Out ").map(str::trim))
        .expect("cups-pdf.conf has no Out line: run scripts/install-print-deps.sh");
    assert!(
        !out.contains('$'),
        "cups-pdf output goes to a per-user dir ({out}); run scripts/install-print-deps.sh"
    );
    PathBuf::from(out)
}

fn pdfs_in(dir: &Path) -> HashSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
                .collect()
        })
        .unwrap_or_default()
}

fn wire(msg: PrintMessage) -> PrintMessage {
    match SessionMessage::decode(SessionMessage::Print(msg).encode()).unwrap() {
        SessionMessage::Print(m) => m,
        other => panic!("{other:?}"),
    }
}

/// An operator-side PDF queue; removed on drop.
struct PdfQueue(String);

impl PdfQueue {
    fn create(name: &str) -> Self {
        let out = Command::new("lpadmin")
            .args(["-p", name, "-E", "-v", "cups-pdf:/", "-P", CUPS_PDF_PPD])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "creating the cups-pdf queue: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PdfQueue(name.to_owned())
    }
}

impl Drop for PdfQueue {
    fn drop(&mut self) {
        let _ = Command::new("lpadmin").args(["-x", &self.0]).status();
    }
}

/// Runs the customer and operator state machines against each other until
/// the job has a result, printing through `sink`. Returns the customer's
/// final event and the stages it saw.
async fn carry_job(
    job: &VirtualPrinterJob,
    operator_spool: &Path,
    sink: &dyn PrintSink,
) -> (SenderEvent, Vec<PrintStage>) {
    let policy = PrintPolicy::new(true, ConnectionMode::ControlCustomer);
    let mut sender = PrintSender::new(policy);
    let mut receiver = PrintReceiver::new(policy);
    let id = sender.offer(job).unwrap();
    let mut document = std::fs::File::open(&job.path).unwrap();
    let mut spool = std::fs::File::create(operator_spool).unwrap();
    let mut stages = Vec::new();
    loop {
        while let Some(m) = sender.poll_transmit() {
            receiver.handle_message(wire(m)).unwrap();
        }
        if let Some(r) = sender.poll_read() {
            use std::io::{Read, Seek, SeekFrom};
            document.seek(SeekFrom::Start(r.offset)).unwrap();
            let mut buf = vec![0; r.len];
            document.read_exact(&mut buf).unwrap();
            sender.handle_read(r.job_id, Bytes::from(buf)).unwrap();
        }
        while let Some(e) = receiver.poll_event() {
            match e {
                ReceiverEvent::Offered(o) => receiver.accept(o.job_id).unwrap(),
                ReceiverEvent::Write { data, .. } => spool.write_all(&data).unwrap(),
                ReceiverEvent::Received(o) => {
                    spool.sync_all().unwrap();
                    let seen = Arc::new(Mutex::new(Vec::new()));
                    let record = seen.clone();
                    let on_stage = move |s: PrintStage| record.lock().unwrap().push(s);
                    let sink_job = SinkJob::new(o.name.clone(), o.format, operator_spool, o.copies);
                    let done = tokio::time::timeout(
                        Duration::from_secs(60),
                        sink.deliver(&sink_job, &on_stage),
                    )
                    .await
                    .expect("sink finished within 60 s");
                    for s in seen.lock().unwrap().drain(..) {
                        receiver.sink_progress(o.job_id, s).unwrap();
                    }
                    receiver
                        .sink_finished(o.job_id, done.outcome, &done.destination, &done.detail)
                        .unwrap();
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        while let Some(m) = receiver.poll_transmit() {
            sender.handle_message(wire(m)).unwrap();
        }
        while let Some(e) = sender.poll_event() {
            match e {
                SenderEvent::Progress { stage, .. } => stages.push(stage),
                SenderEvent::Finished { job_id, .. } => {
                    assert_eq!(job_id, id);
                    return (e, stages);
                }
                SenderEvent::Accepted { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lp_on_the_customer_side_comes_out_of_the_operators_pdf_printer() {
    print_util::require_cups();
    let out_dir = cups_pdf_out_dir();
    let dir = print_util::temp_dir("print-e2e");
    let tag = std::process::id();

    // Customer side: the virtual printer, registered as a CUPS queue.
    let mut printer = VirtualPrinter::start(VirtualPrinterConfig::new(
        "rsupport remote",
        dir.join("customer-spool"),
    ))
    .await
    .unwrap();
    let customer_queue = format!("rsupport-e2e-remote-{tag}");
    let mut registration = CupsRegistration::install(&customer_queue, printer.uri())
        .await
        .expect("lpadmin -m everywhere");
    // Operator side: a PDF printer.
    let operator_queue = PdfQueue::create(&format!("rsupport-e2e-pdf-{tag}"));
    let before = pdfs_in(&out_dir);

    // An application prints a 5-page PDF.
    let pdf = dir.join("report.pdf");
    std::fs::write(&pdf, print_util::make_pdf(5)).unwrap();
    let title = format!("E2E report {tag}");
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

    let job = tokio::time::timeout(Duration::from_secs(60), printer.next_job())
        .await
        .expect("job arrives")
        .unwrap();
    assert_eq!((job.name.as_str(), job.pages), (title.as_str(), Some(5)));

    let sink = CupsQueueSink::new(&operator_queue.0).unwrap();
    let (finished, stages) = carry_job(&job, &dir.join("operator-spool.pdf"), &sink).await;
    let SenderEvent::Finished {
        outcome,
        destination,
        detail,
        ..
    } = finished
    else {
        unreachable!()
    };
    assert_eq!(outcome, PrintOutcome::Printed, "detail: {detail}");
    assert_eq!(destination, operator_queue.0);
    assert!(
        stages.contains(&PrintStage::Receiving) && stages.contains(&PrintStage::Queued),
        "{stages:?}"
    );

    // cups-pdf wrote a new PDF with the same pages (CUPS may have rewritten
    // the bytes on the way: pages are compared, not bytes).
    let produced = print_util::wait_for(Duration::from_secs(20), || {
        pdfs_in(&out_dir)
            .difference(&before)
            .find(|p| p.to_string_lossy().contains(&tag.to_string()))
            .cloned()
    })
    .await
    .expect("cups-pdf produced the document");
    assert_eq!(print_util::pdfinfo_pages(&produced), 5);

    // The customer's CUPS job completed too (CUPS followed it over IPP).
    let done = print_util::wait_for(Duration::from_secs(20), || {
        let o = Command::new("lpstat")
            .args(["-o", &customer_queue])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(done.is_some(), "customer-side CUPS job still pending");

    registration.uninstall().await.unwrap();
    let _ = std::fs::remove_file(&job.path);
    let _ = std::fs::remove_file(&produced);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_printer_the_job_is_saved_under_a_safe_name() {
    let dir = print_util::temp_dir("print-save");
    let doc = dir.join("incoming.spool");
    std::fs::write(&doc, print_util::make_pdf(2)).unwrap();
    let sink = SaveToDirectory::new(dir.join("saved"));
    let job = VirtualPrinterJob::new(
        1,
        "../../etc/Quarterly: report.pdf",
        rsupport_core::print::DocumentFormat::Pdf,
        std::fs::metadata(&doc).unwrap().len(),
        Some(2),
        1,
        &doc,
    );
    let (finished, _) = carry_job(&job, &dir.join("operator.spool"), &sink).await;
    let SenderEvent::Finished {
        outcome,
        destination,
        ..
    } = finished
    else {
        unreachable!()
    };
    assert_eq!(outcome, PrintOutcome::Saved);
    let saved = PathBuf::from(&destination);
    assert_eq!(
        saved.parent(),
        Some(dir.join("saved").as_path()),
        "stays inside the directory"
    );
    assert_eq!(saved.file_name().unwrap(), "_.._etc_Quarterly_ report.pdf");
    assert_eq!(print_util::pdfinfo_pages(&saved), 2);
    // A second job with the same title does not overwrite the first.
    let (second, _) = carry_job(&job, &dir.join("operator2.spool"), &sink).await;
    let SenderEvent::Finished {
        destination: second,
        ..
    } = second
    else {
        unreachable!()
    };
    assert_ne!(second, destination);
    let _ = std::fs::remove_dir_all(&dir);
}
