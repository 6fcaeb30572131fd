//! The tokio drivers on their unhappy paths: the operator declines, the
//! customer cancels while the operator's printer is busy (the sink's work is
//! dropped), and spool files are cleaned up on both sides.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

use rsupport_testkit::print as print_util;

use std::sync::Arc;
use std::time::Duration;

use print_util::ChannelSource;
use rsupport_client::print::{run_customer, run_operator, OperatorCommand};
use rsupport_core::print::{
    CustomerPrintEvent, DocumentFormat, OperatorPrintEvent, PrintOutcome, PrintPolicy,
    PrintReceiver, PrintSender, PrintStage, ReceiverEvent, SenderEvent, SinkOutcome,
    VirtualPrinterJob,
};
use rsupport_print::{BoxFuture, PrintSink, SinkJob, StageCallback};
use rsupport_proto::ConnectionMode;
use tokio::sync::{mpsc, oneshot};

/// A printer that never finishes; tells the test when its work is dropped.
struct StuckPrinter {
    dropped: std::sync::Mutex<Option<oneshot::Sender<()>>>,
}

struct OnDrop(Option<oneshot::Sender<()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

impl PrintSink for StuckPrinter {
    fn deliver<'a>(
        &'a self,
        _job: &'a SinkJob,
        stage: StageCallback<'a>,
    ) -> BoxFuture<'a, SinkOutcome> {
        let guard = OnDrop(self.dropped.lock().unwrap().take());
        Box::pin(async move {
            let _guard = guard;
            stage(PrintStage::Printing);
            std::future::pending::<SinkOutcome>().await
        })
    }
}

struct Session {
    jobs: mpsc::UnboundedSender<VirtualPrinterJob>,
    customer: mpsc::Receiver<CustomerPrintEvent>,
    operator: mpsc::Receiver<OperatorPrintEvent>,
    commands: mpsc::Sender<OperatorCommand>,
    operator_spool: std::path::PathBuf,
}

fn start(sink: Arc<dyn PrintSink>, dir: &std::path::Path) -> Session {
    let policy = PrintPolicy::new(true, ConnectionMode::ManageCustomer);
    let (c_out, o_in) = mpsc::channel(16);
    let (o_out, c_in) = mpsc::channel(16);
    let (jobs, source) = mpsc::unbounded_channel();
    let (c_events, customer) = mpsc::channel(64);
    let (o_events, operator) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(16);
    let operator_spool = dir.join("operator-spool");
    tokio::spawn(run_customer(
        ChannelSource(source),
        PrintSender::new(policy),
        c_in,
        c_out,
        mpsc::channel(1).1,
        c_events,
    ));
    tokio::spawn(run_operator(
        PrintReceiver::new(policy),
        sink,
        operator_spool.clone(),
        o_in,
        o_out,
        commands_rx,
        o_events,
    ));
    Session {
        jobs,
        customer,
        operator,
        commands,
        operator_spool,
    }
}

fn spooled_job(dir: &std::path::Path, name: &str) -> VirtualPrinterJob {
    let path = dir.join(format!("{name}.spool"));
    std::fs::write(&path, print_util::make_pdf(3)).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    VirtualPrinterJob::new(1, name, DocumentFormat::Pdf, size, Some(3), 1, path)
}

async fn next<T>(rx: &mut mpsc::Receiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("event in time")
        .expect("driver alive")
}

async fn finished(s: &mut Session) -> (PrintOutcome, String) {
    loop {
        if let CustomerPrintEvent::Channel(SenderEvent::Finished {
            outcome, detail, ..
        }) = next(&mut s.customer).await
        {
            return (outcome, detail);
        }
    }
}

async fn offered(s: &mut Session) -> u64 {
    loop {
        if let OperatorPrintEvent::Channel(ReceiverEvent::Offered(o)) = next(&mut s.operator).await
        {
            return o.job_id;
        }
    }
}

#[tokio::test]
async fn a_declined_job_is_reported_and_its_spool_removed() {
    let dir = print_util::temp_dir("drv-decline");
    let sink = Arc::new(StuckPrinter {
        dropped: std::sync::Mutex::new(None),
    });
    let mut s = start(sink, &dir);
    let job = spooled_job(&dir, "declined");
    s.jobs.send(job.clone()).unwrap();
    let id = offered(&mut s).await;
    s.commands
        .send(OperatorCommand::Decline(id, "no paper today".into()))
        .await
        .unwrap();
    assert_eq!(
        finished(&mut s).await,
        (PrintOutcome::Declined, "no paper today".into())
    );
    assert!(!job.path.exists(), "customer spool removed");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_operator_cancelling_a_busy_printer_drops_the_print_work() {
    let dir = print_util::temp_dir("drv-cancel");
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let sink = Arc::new(StuckPrinter {
        dropped: std::sync::Mutex::new(Some(dropped_tx)),
    });
    let mut s = start(sink, &dir);
    let job = spooled_job(&dir, "stuck");
    s.jobs.send(job.clone()).unwrap();
    let id = offered(&mut s).await;
    s.commands.send(OperatorCommand::Accept(id)).await.unwrap();
    // Wait until the printer works on it.
    loop {
        if let OperatorPrintEvent::Stage {
            stage: PrintStage::Printing,
            ..
        } = next(&mut s.operator).await
        {
            break;
        }
    }
    assert_eq!(
        std::fs::read_dir(&s.operator_spool).unwrap().count(),
        1,
        "document spooled on the operator side"
    );
    s.commands
        .send(OperatorCommand::Cancel(id, "wrong document".into()))
        .await
        .unwrap();
    assert_eq!(
        finished(&mut s).await,
        (PrintOutcome::Cancelled, "wrong document".into())
    );
    tokio::time::timeout(Duration::from_secs(5), dropped_rx)
        .await
        .expect("sink work dropped")
        .unwrap();
    let cleaned = print_util::wait_for(Duration::from_secs(5), || {
        (std::fs::read_dir(&s.operator_spool).unwrap().count() == 0).then_some(())
    })
    .await;
    assert!(cleaned.is_some(), "operator spool removed");
    assert!(!job.path.exists(), "customer spool removed");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn outside_control_mode_nothing_is_sent() {
    let dir = print_util::temp_dir("drv-view");
    let policy = PrintPolicy::new(true, ConnectionMode::ViewCustomer);
    let (c_out, mut o_in) = mpsc::channel(16);
    let (_o_out, c_in) = mpsc::channel(16);
    let (jobs, source) = mpsc::unbounded_channel();
    let (c_events, mut customer) = mpsc::channel(64);
    tokio::spawn(run_customer(
        ChannelSource(source),
        PrintSender::new(policy),
        c_in,
        c_out,
        mpsc::channel(1).1,
        c_events,
    ));
    let job = spooled_job(&dir, "private");
    jobs.send(job.clone()).unwrap();
    match next(&mut customer).await {
        CustomerPrintEvent::NotSent { name, .. } => assert_eq!(name, "private"),
        other => panic!("{other:?}"),
    }
    assert!(
        o_in.try_recv().is_err(),
        "no message left the customer's machine"
    );
    assert!(!job.path.exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// SECURITY M10: a link planted at the operator's spool folder (or a folder
/// open to other users) is refused; nothing is written through it and the
/// job ends with a reason.
#[cfg(unix)]
#[tokio::test]
async fn a_planted_spool_folder_is_refused_and_never_written_through() {
    use std::os::unix::fs::PermissionsExt;
    for planted in ["link", "open folder"] {
        let dir = print_util::temp_dir("drv-planted");
        let victim = dir.join("victim");
        std::fs::create_dir(&victim).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o777)).unwrap();
        let spool = dir.join("operator-spool");
        match planted {
            "link" => std::os::unix::fs::symlink(&victim, &spool).unwrap(),
            _ => std::fs::rename(&victim, &spool).unwrap(),
        }
        let sink = Arc::new(StuckPrinter {
            dropped: std::sync::Mutex::new(None),
        });
        let mut s = start(sink, &dir);
        let job = spooled_job(&dir, "payroll");
        s.jobs.send(job.clone()).unwrap();
        let id = offered(&mut s).await;
        s.commands.send(OperatorCommand::Accept(id)).await.unwrap();
        let (outcome, detail) = finished(&mut s).await;
        assert_eq!(outcome, PrintOutcome::Cancelled, "{planted}");
        assert!(detail.contains("could not store"), "{planted}: {detail}");
        assert_eq!(
            std::fs::read_dir(&spool).unwrap().count(),
            0,
            "{planted}: nothing written into the planted folder"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
