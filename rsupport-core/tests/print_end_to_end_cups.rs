//! End to end on this machine with a real CUPS: an application prints a
//! multi-page PDF with `lp` to the customer's virtual printer queue; the job
//! crosses the print channel (customer and operator state machines, real
//! wire encoding, in memory) and is printed on the operator's side to a
//! cups-pdf queue, from which a PDF with the same number of pages comes out.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

mod print_util;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rsupport_core::print::{
    run_customer, run_operator, BoxFuture, CupsQueueSink, CupsRegistration, CustomerPrintEvent,
    DocumentFormat, OperatorCommand, OperatorPrintEvent, PrintMessage, PrintOutcome, PrintPolicy,
    PrintReceiver, PrintSender, PrintSink, PrintStage, PrinterRegistration, ReceiverEvent,
    SaveToDirectory, SenderEvent, VirtualPrinter, VirtualPrinterConfig, VirtualPrinterJob,
    VirtualPrinterSource,
};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::ConnectionMode;
use tokio::sync::mpsc;

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

/// Carries messages one way through the real wire encoding, as the session
/// connection will.
fn forward(mut from: mpsc::Receiver<PrintMessage>, to: mpsc::Sender<PrintMessage>) {
    tokio::spawn(async move {
        while let Some(m) = from.recv().await {
            if to.send(wire(m)).await.is_err() {
                return;
            }
        }
    });
}

/// Runs both drivers (customer with `source`, operator with `sink`), the
/// operator accepting every offer, until the customer sees one job finish.
/// Returns that final event and the stages the customer saw.
async fn one_job_through_the_drivers<S: VirtualPrinterSource + 'static>(
    source: S,
    sink: Arc<dyn PrintSink>,
    operator_spool: PathBuf,
) -> (SenderEvent, Vec<PrintStage>) {
    let policy = PrintPolicy::new(true, ConnectionMode::ControlCustomer);
    let (c_out_tx, c_out_rx) = mpsc::channel(16);
    let (c_in_tx, c_in_rx) = mpsc::channel(16);
    let (o_out_tx, o_out_rx) = mpsc::channel(16);
    let (o_in_tx, o_in_rx) = mpsc::channel(16);
    forward(c_out_rx, o_in_tx);
    forward(o_out_rx, c_in_tx);
    let (c_events_tx, mut c_events) = mpsc::unbounded_channel();
    let (o_events_tx, mut o_events) = mpsc::unbounded_channel();
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let customer = tokio::spawn(run_customer(
        source,
        PrintSender::new(policy),
        c_in_rx,
        c_out_tx,
        c_events_tx,
    ));
    let operator = tokio::spawn(run_operator(
        PrintReceiver::new(policy),
        sink,
        operator_spool.clone(),
        o_in_rx,
        o_out_tx,
        commands_rx,
        o_events_tx,
    ));
    // The operator's product: accept every offer.
    let product = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(e) = o_events.recv().await {
            if let OperatorPrintEvent::Channel(ReceiverEvent::Offered(o)) = &e {
                commands_tx
                    .send(OperatorCommand::Accept(o.job_id))
                    .await
                    .unwrap();
            }
            seen.push(e);
        }
        seen
    });
    let mut stages = Vec::new();
    let finished = loop {
        match tokio::time::timeout(Duration::from_secs(60), c_events.recv())
            .await
            .expect("job finishes within 60 s")
            .unwrap()
        {
            CustomerPrintEvent::Channel(SenderEvent::Progress { stage, .. }) => stages.push(stage),
            CustomerPrintEvent::Channel(e @ SenderEvent::Finished { .. }) => break e,
            CustomerPrintEvent::NotSent { reason, .. } => panic!("not sent: {reason}"),
            _ => {}
        }
    };
    customer.abort();
    operator.abort();
    product.abort();
    assert!(
        std::fs::read_dir(&operator_spool).unwrap().next().is_none(),
        "operator spool cleaned up"
    );
    (finished, stages)
}

/// A platform-style source fed by the test: jobs pushed into a channel.
struct ChannelSource(mpsc::UnboundedReceiver<VirtualPrinterJob>);

impl VirtualPrinterSource for ChannelSource {
    fn next_job(&mut self) -> BoxFuture<'_, Option<VirtualPrinterJob>> {
        Box::pin(self.0.recv())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lp_on_the_customer_side_comes_out_of_the_operators_pdf_printer() {
    print_util::require_cups();
    let out_dir = cups_pdf_out_dir();
    let dir = print_util::temp_dir("print-e2e");
    let tag = std::process::id();

    // Customer side: the virtual printer, registered as a CUPS queue.
    let printer = VirtualPrinter::start(VirtualPrinterConfig::new(
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

    let sink = Arc::new(CupsQueueSink::new(&operator_queue.0).unwrap());
    let customer_spool = dir.join("customer-spool");
    let (finished, stages) =
        one_job_through_the_drivers(printer, sink, dir.join("operator-spool")).await;
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
    assert!(
        std::fs::read_dir(&customer_spool).unwrap().next().is_none(),
        "customer spool cleaned up"
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
    let _ = std::fs::remove_file(&produced);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_printer_the_job_is_saved_under_a_safe_name() {
    let dir = print_util::temp_dir("print-save");
    let sink: Arc<dyn PrintSink> = Arc::new(SaveToDirectory::new(dir.join("saved")));
    let mut destinations = Vec::new();
    for n in 0..2 {
        let doc = dir.join(format!("incoming-{n}.spool"));
        std::fs::write(&doc, print_util::make_pdf(2)).unwrap();
        let size = std::fs::metadata(&doc).unwrap().len();
        let (tx, rx) = mpsc::unbounded_channel();
        tx.send(VirtualPrinterJob::new(
            1,
            "../../etc/Quarterly: report.pdf",
            DocumentFormat::Pdf,
            size,
            Some(2),
            1,
            &doc,
        ))
        .unwrap();
        let (finished, _) = one_job_through_the_drivers(
            ChannelSource(rx),
            sink.clone(),
            dir.join("operator-spool"),
        )
        .await;
        let SenderEvent::Finished {
            outcome,
            destination,
            ..
        } = finished
        else {
            unreachable!()
        };
        assert_eq!(outcome, PrintOutcome::Saved);
        assert!(
            !doc.exists(),
            "the customer driver deletes the spool file when the job ends"
        );
        destinations.push(PathBuf::from(destination));
    }
    let saved = &destinations[0];
    assert_eq!(
        saved.parent(),
        Some(dir.join("saved").as_path()),
        "stays inside the directory"
    );
    assert_eq!(saved.file_name().unwrap(), "_.._etc_Quarterly_ report.pdf");
    assert_eq!(print_util::pdfinfo_pages(saved), 2);
    assert_ne!(
        destinations[0], destinations[1],
        "a second job with the same title does not overwrite the first"
    );
    assert_eq!(print_util::pdfinfo_pages(&destinations[1]), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
