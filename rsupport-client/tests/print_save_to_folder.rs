//! The print drivers end to end in memory (real wire encoding): a job from a
//! platform source is saved on the operator's side under a safe name. The
//! path through a real relay and a real CUPS is in `session_print.rs`.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

use rsupport_testkit::print as print_util;

use print_util::ChannelSource;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rsupport_client::print::{run_customer, run_operator, OperatorCommand};
use rsupport_core::print::{
    CustomerPrintEvent, DocumentFormat, OperatorPrintEvent, PrintMessage, PrintOutcome,
    PrintPolicy, PrintReceiver, PrintSender, PrintStage, ReceiverEvent, SenderEvent,
    VirtualPrinterJob,
};
use rsupport_print::{PrintSink, SaveToDirectory, VirtualPrinterSource};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::ConnectionMode;
use tokio::sync::mpsc;

fn wire(msg: PrintMessage) -> PrintMessage {
    match SessionMessage::decode(SessionMessage::Print(msg).encode()).unwrap() {
        SessionMessage::Print(m) => m,
        other => panic!("{other:?}"),
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
    let (c_events_tx, mut c_events) = mpsc::channel(64);
    let (o_events_tx, mut o_events) = mpsc::channel(64);
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let customer = tokio::spawn(run_customer(
        source,
        PrintSender::new(policy),
        c_in_rx,
        c_out_tx,
        mpsc::channel(1).1,
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
