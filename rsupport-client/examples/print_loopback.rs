//! Remote printing on one machine: a virtual printer registered as a CUPS
//! queue (customer side) connected in-process to an operator side that
//! prints to a CUPS queue or saves to a directory.
//!
//! ```text
//! cargo run -p rsupport-client --example print_loopback -- rsupport-demo /tmp/rsupport-printed
//! lp -d rsupport-demo some.pdf        # in another terminal
//! ```
//!
//! The second argument is a directory (save as PDF) or `cups:<queue>` (print
//! there). Needs CUPS (`scripts/install-print-deps.sh`). Ctrl+C or SIGTERM
//! removes the queue.

use std::sync::Arc;

use rsupport_client::print::{run_customer, run_operator, OperatorCommand};
use rsupport_core::print::{
    OperatorPrintEvent, PrintPolicy, PrintReceiver, PrintSender, ReceiverEvent,
};
use rsupport_print::{
    CupsQueueSink, CupsRegistration, PrintSink, PrinterRegistration, SaveToDirectory,
    VirtualPrinter, VirtualPrinterConfig,
};
use rsupport_proto::ConnectionMode;
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let queue = args.next().unwrap_or_else(|| "rsupport-demo".into());
    let target = args
        .next()
        .unwrap_or_else(|| "/tmp/rsupport-printed".into());
    let sink: Arc<dyn PrintSink> = match target.strip_prefix("cups:") {
        Some(q) => Arc::new(CupsQueueSink::new(q)?),
        None => Arc::new(SaveToDirectory::new(&target)),
    };
    let work = std::env::temp_dir().join(format!("rsupport-print-loopback-{}", std::process::id()));

    let printer = VirtualPrinter::start(VirtualPrinterConfig::new(
        "rsupport demo",
        work.join("customer"),
    ))
    .await?;
    let mut registration = CupsRegistration::install(&queue, printer.uri()).await?;
    println!("queue {queue} → {} ; jobs go to {target}", printer.uri());

    let policy = PrintPolicy::new(true, ConnectionMode::ControlCustomer);
    let (c_out, o_in) = mpsc::channel(16);
    let (o_out, c_in) = mpsc::channel(16);
    let (c_events, mut customer) = mpsc::channel(64);
    let (o_events, mut operator) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(16);
    tokio::spawn(run_customer(
        printer,
        PrintSender::new(policy),
        c_in,
        c_out,
        mpsc::channel(1).1, // the policy never changes here
        c_events,
    ));
    tokio::spawn(run_operator(
        PrintReceiver::new(policy),
        sink,
        work.join("operator"),
        o_in,
        o_out,
        commands_rx,
        o_events,
    ));

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            Some(e) = customer.recv() => println!("customer: {e:?}"),
            Some(e) = operator.recv() => {
                if let OperatorPrintEvent::Channel(ReceiverEvent::Offered(o)) = &e {
                    // A real console asks the operator; the demo accepts.
                    commands.send(OperatorCommand::Accept(o.job_id)).await?;
                }
                println!("operator: {e:?}");
            }
        }
    }
    registration.uninstall().await?;
    let _ = std::fs::remove_dir_all(work);
    Ok(())
}
