//! Tokio drivers that run the print state machines with real files: what a
//! session wires in. Print messages go in and out through channels; the
//! session layer wraps them as `SessionMessage::Print` on the connection.
//!
//! Both drivers return when the channel from the peer closes.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rsupport_proto::print::{PrintMessage, PrintStage};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use rsupport_core::print::{
    CustomerPrintEvent, OperatorPrintEvent, PrintPolicy, PrintReceiver, PrintSender, ReceiverEvent,
    SenderEvent, SinkOutcome,
};
use rsupport_print::{PrintSink, SinkJob, VirtualPrinterSource};

/// What the customer's product (or the session) tells [`run_customer`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomerCommand {
    /// Cancel a job at any stage.
    Cancel(u64, String),
    /// The session mode or admin settings changed. When printing is no
    /// longer allowed, jobs in flight are cancelled.
    SetPolicy(PrintPolicy),
}

/// Runs the customer side: offers each job from `source`, streams accepted
/// documents from their spool files, deletes each spool file when its job
/// ends, obeys `commands`, and reports to `events`. `source` futures must be
/// cancel-safe ([`rsupport_print::VirtualPrinter`]'s are).
pub async fn run_customer<S: VirtualPrinterSource>(
    source: S,
    sender: PrintSender,
    from_operator: mpsc::Receiver<PrintMessage>,
    to_operator: mpsc::Sender<PrintMessage>,
    commands: mpsc::Receiver<CustomerCommand>,
    events: mpsc::Sender<CustomerPrintEvent>,
) {
    customer_driver(
        source,
        sender,
        from_operator,
        to_operator,
        commands,
        None,
        events,
    )
    .await
}

/// [`run_customer`] with the session's print policy on a watch channel:
/// the latest policy always arrives, however busy the command channel is
/// (SECURITY L13).
pub(crate) async fn run_customer_watched<S: VirtualPrinterSource>(
    source: S,
    sender: PrintSender,
    from_operator: mpsc::Receiver<PrintMessage>,
    to_operator: mpsc::Sender<PrintMessage>,
    commands: mpsc::Receiver<CustomerCommand>,
    policy: watch::Receiver<PrintPolicy>,
    events: mpsc::Sender<CustomerPrintEvent>,
) {
    customer_driver(
        source,
        sender,
        from_operator,
        to_operator,
        commands,
        Some(policy),
        events,
    )
    .await
}

/// The next policy from `policy`; pending forever without one, and `None`
/// once its sender is gone (the driver then stops watching).
async fn next_policy(policy: &mut Option<watch::Receiver<PrintPolicy>>) -> Option<PrintPolicy> {
    match policy {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

async fn customer_driver<S: VirtualPrinterSource>(
    mut source: S,
    mut sender: PrintSender,
    mut from_operator: mpsc::Receiver<PrintMessage>,
    to_operator: mpsc::Sender<PrintMessage>,
    mut commands: mpsc::Receiver<CustomerCommand>,
    mut policy: Option<watch::Receiver<PrintPolicy>>,
    events: mpsc::Sender<CustomerPrintEvent>,
) {
    let mut files: HashMap<u64, (tokio::fs::File, PathBuf)> = HashMap::new();
    let mut source_open = true;
    loop {
        // Send, then read the next chunk, until the sender wants nothing more.
        loop {
            while let Some(m) = sender.poll_transmit() {
                if to_operator.send(m).await.is_err() {
                    return;
                }
            }
            let Some(r) = sender.poll_read() else { break };
            match read_chunk(&mut files, r.job_id, r.offset, r.len).await {
                Ok(data) => {
                    if let Err(e) = sender.handle_read(r.job_id, data) {
                        tracing::warn!(error = %e, "print spool read did not fit the job");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading a print spool file failed");
                    sender.read_failed(r.job_id, "the printed document could not be read");
                }
            }
        }
        while let Some(e) = sender.poll_event() {
            if let SenderEvent::Finished { job_id, .. } = &e {
                if let Some((_, path)) = files.remove(job_id) {
                    let _ = tokio::fs::remove_file(path).await;
                }
            }
            let _ = events.send(CustomerPrintEvent::Channel(e)).await;
        }
        // Policy and commands first: a policy change the session made
        // before a job was printed applies to that job.
        tokio::select! {
            biased;
            changed = next_policy(&mut policy) => match changed {
                Some(p) => sender.set_policy(p),
                None => policy = None,
            },
            Some(command) = commands.recv() => match command {
                CustomerCommand::Cancel(id, reason) => {
                    if let Err(e) = sender.cancel(id, &reason) {
                        tracing::debug!(error = %e, "print cancel did not apply");
                    }
                }
                CustomerCommand::SetPolicy(policy) => sender.set_policy(policy),
            },
            job = source.next_job(), if source_open => match job {
                Some(job) => {
                    let opened = tokio::fs::File::open(&job.path).await;
                    match (sender.offer(&job), opened) {
                        (Ok(id), Ok(file)) => {
                            files.insert(id, (file, job.path.clone()));
                            let _ = events.send(CustomerPrintEvent::Offered { job_id: id, name: job.name.clone(), pages: job.pages }).await;
                        }
                        (Ok(id), Err(e)) => {
                            tracing::warn!(error = %e, "print spool file vanished");
                            sender.read_failed(id, "the printed document could not be read");
                        }
                        (Err(reason), _) => {
                            let _ = tokio::fs::remove_file(&job.path).await;
                            let _ = events.send(CustomerPrintEvent::NotSent { name: job.name.clone(), reason }).await;
                        }
                    }
                }
                None => source_open = false,
            },
            msg = from_operator.recv() => match msg {
                Some(m) => {
                    if let Err(e) = sender.handle_message(m) {
                        tracing::warn!(error = %e, "operator broke the print protocol");
                    }
                }
                None => break,
            },
        }
    }
    for (_, (_, path)) in files.drain() {
        let _ = tokio::fs::remove_file(path).await;
    }
}

async fn read_chunk(
    files: &mut HashMap<u64, (tokio::fs::File, PathBuf)>,
    job_id: u64,
    offset: u64,
    len: usize,
) -> io::Result<Bytes> {
    let (file, _) = files
        .get_mut(&job_id)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no spool file for this job"))?;
    file.seek(io::SeekFrom::Start(offset)).await?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf).await?;
    Ok(Bytes::from(buf))
}

/// What the operator's product tells [`run_operator`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperatorCommand {
    /// Accept an offered job.
    Accept(u64),
    /// Decline an offered job.
    Decline(u64, String),
    /// Cancel a job at any stage.
    Cancel(u64, String),
    /// The session mode or admin settings changed.
    SetPolicy(PrintPolicy),
}

enum SinkReport {
    Stage(u64, PrintStage),
    Done(u64, SinkOutcome),
}

/// Runs the operator side: spools accepted documents into `spool_dir`
/// (which must be private to this user: created with mode 0700 when
/// missing; when it exists owned by someone else or open to others, every
/// job is cancelled with a reason),
/// hands verified ones to `sink` (several may print at once), reports
/// stages and results to the customer, and obeys `commands`.
pub async fn run_operator(
    receiver: PrintReceiver,
    sink: Arc<dyn PrintSink>,
    spool_dir: PathBuf,
    from_customer: mpsc::Receiver<PrintMessage>,
    to_customer: mpsc::Sender<PrintMessage>,
    commands: mpsc::Receiver<OperatorCommand>,
    events: mpsc::Sender<OperatorPrintEvent>,
) {
    operator_driver(
        OperatorEnds {
            sink,
            spool_root: None,
            spool_dir,
            from_customer,
            to_customer,
            commands,
            policy: None,
            events,
        },
        receiver,
    )
    .await
}

/// What [`operator_driver`] works with.
pub(crate) struct OperatorEnds {
    pub(crate) sink: Arc<dyn PrintSink>,
    /// A folder above `spool_dir` that must be private too (the SDK's
    /// shared spool root, so nobody can swap the session's folder).
    pub(crate) spool_root: Option<PathBuf>,
    pub(crate) spool_dir: PathBuf,
    pub(crate) from_customer: mpsc::Receiver<PrintMessage>,
    pub(crate) to_customer: mpsc::Sender<PrintMessage>,
    pub(crate) commands: mpsc::Receiver<OperatorCommand>,
    /// The session's print policy; the latest value always arrives (L13).
    pub(crate) policy: Option<watch::Receiver<PrintPolicy>>,
    pub(crate) events: mpsc::Sender<OperatorPrintEvent>,
}

/// [`run_operator`] with its ends bundled, and an optional policy watch.
pub(crate) async fn operator_driver(ends: OperatorEnds, mut receiver: PrintReceiver) {
    let OperatorEnds {
        sink,
        spool_root,
        spool_dir,
        mut from_customer,
        to_customer,
        mut commands,
        mut policy,
        events,
    } = ends;
    // Documents are written only into a folder nobody else can enter
    // (SECURITY M10); otherwise every job is cancelled with a reason.
    let private = {
        let (root, dir) = (spool_root.clone(), spool_dir.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(root) = root {
                rsupport_print::spool::ensure_private_dir(&root)?;
            }
            rsupport_print::spool::ensure_private_dir(&dir)
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r)
    };
    if let Err(e) = &private {
        tracing::warn!(error = %e, "print spool folder refused; print jobs will be cancelled");
    }
    let spool_ok = private.is_ok();
    let mut spools: HashMap<u64, (Option<tokio::fs::File>, PathBuf)> = HashMap::new();
    let mut printing: HashMap<u64, JoinHandle<()>> = HashMap::new();
    let (report_tx, mut reports) = mpsc::unbounded_channel::<SinkReport>();
    loop {
        while let Some(e) = receiver.poll_event() {
            match e {
                ReceiverEvent::Write { job_id, data, .. } => {
                    let written = match spool_ok {
                        true => write_spool(&mut spools, &spool_dir, job_id, &data).await,
                        false => Err(io::Error::other("the print spool folder is not private")),
                    };
                    if let Err(err) = written {
                        tracing::warn!(error = %err, "writing a print spool file failed");
                        let _ = receiver
                            .cancel(job_id, "the operator's side could not store the document");
                    }
                }
                ReceiverEvent::Received(offer) => {
                    let path = match spools.entry(offer.job_id) {
                        Entry::Occupied(mut held) => {
                            let (file, path) = held.get_mut();
                            if let Some(mut f) = file.take() {
                                let _ = f.flush().await;
                                let _ = f.sync_all().await;
                            }
                            path.clone()
                        }
                        Entry::Vacant(slot) => {
                            // An empty document: no data ever created the file.
                            let path = match spool_ok {
                                true => new_spool_file(&spool_dir).await.map(|(_, path)| path),
                                false => Err(io::Error::other("spool folder not private")),
                            };
                            let path = match path {
                                Ok(path) => path,
                                Err(err) => {
                                    tracing::warn!(error = %err, "creating a print spool file failed");
                                    let _ = receiver.cancel(
                                        offer.job_id,
                                        "the operator's side could not store the document",
                                    );
                                    continue;
                                }
                            };
                            slot.insert((None, path.clone()));
                            path
                        }
                    };
                    let job = SinkJob::new(offer.name.clone(), offer.format, path, offer.copies);
                    let (sink, tx, id) = (sink.clone(), report_tx.clone(), offer.job_id);
                    printing.insert(
                        id,
                        tokio::spawn(async move {
                            let stage_tx = tx.clone();
                            let on_stage = move |s: PrintStage| {
                                let _ = stage_tx.send(SinkReport::Stage(id, s));
                            };
                            let outcome = sink.deliver(&job, &on_stage).await;
                            let _ = tx.send(SinkReport::Done(id, outcome));
                        }),
                    );
                    let _ = events
                        .send(OperatorPrintEvent::Channel(ReceiverEvent::Received(offer)))
                        .await;
                }
                ReceiverEvent::Ended {
                    job_id,
                    outcome,
                    detail,
                } => {
                    if let Some(task) = printing.remove(&job_id) {
                        task.abort(); // dropping the delivery cancels it at the printer
                    }
                    remove_spool(&mut spools, job_id).await;
                    let _ = events
                        .send(OperatorPrintEvent::Channel(ReceiverEvent::Ended {
                            job_id,
                            outcome,
                            detail,
                        }))
                        .await;
                }
                other => {
                    let _ = events.send(OperatorPrintEvent::Channel(other)).await;
                }
            }
        }
        while let Some(m) = receiver.poll_transmit() {
            if to_customer.send(m).await.is_err() {
                break;
            }
        }
        // Commands first: a policy change made before an offer arrived
        // applies to that offer.
        tokio::select! {
            biased;
            changed = next_policy(&mut policy) => match changed {
                Some(p) => receiver.set_policy(p),
                None => policy = None,
            },
            Some(cmd) = commands.recv() => {
                let result = match cmd {
                    OperatorCommand::Accept(id) => receiver.accept(id),
                    OperatorCommand::Decline(id, reason) => receiver.decline(id, &reason),
                    OperatorCommand::Cancel(id, reason) => receiver.cancel(id, &reason),
                    OperatorCommand::SetPolicy(p) => {
                        receiver.set_policy(p);
                        Ok(())
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "print command did not apply");
                }
            },
            msg = from_customer.recv() => match msg {
                Some(m) => {
                    if let Err(e) = receiver.handle_message(m) {
                        tracing::warn!(error = %e, "customer broke the print protocol");
                    }
                }
                None => break,
            },
            Some(report) = reports.recv() => match report {
                SinkReport::Stage(id, stage) => {
                    if receiver.sink_progress(id, stage).is_ok() {
                        let _ = events.send(OperatorPrintEvent::Stage { job_id: id, stage }).await;
                    }
                }
                SinkReport::Done(id, outcome) => {
                    printing.remove(&id);
                    remove_spool(&mut spools, id).await;
                    if receiver.sink_finished(id, outcome.outcome, &outcome.destination, &outcome.detail).is_ok() {
                        let _ = events.send(OperatorPrintEvent::Done { job_id: id, outcome }).await;
                    }
                }
            },
        }
    }
    for (_, task) in printing.drain() {
        task.abort();
    }
    let ids: Vec<u64> = spools.keys().copied().collect();
    for id in ids {
        remove_spool(&mut spools, id).await;
    }
}

/// A new spool file in `dir`: private, unpredictable name, never through a
/// link (SECURITY M10). The sink goes by `SinkJob::format`, not by the name.
async fn new_spool_file(dir: &Path) -> io::Result<(tokio::fs::File, PathBuf)> {
    let dir = dir.to_owned();
    let (file, path) = tokio::task::spawn_blocking(move || {
        rsupport_print::spool::create_spool_file(&dir, "rsupport-received")
    })
    .await
    .map_err(io::Error::other)??;
    Ok((tokio::fs::File::from_std(file), path))
}

async fn write_spool(
    spools: &mut HashMap<u64, (Option<tokio::fs::File>, PathBuf)>,
    dir: &Path,
    job_id: u64,
    data: &[u8],
) -> io::Result<()> {
    if let Entry::Vacant(slot) = spools.entry(job_id) {
        let (file, path) = new_spool_file(dir).await?;
        slot.insert((Some(file), path));
    }
    match spools.get_mut(&job_id) {
        Some((Some(file), _)) => file.write_all(data).await,
        _ => Err(io::Error::other("spool file already closed")),
    }
}

async fn remove_spool(spools: &mut HashMap<u64, (Option<tokio::fs::File>, PathBuf)>, job_id: u64) {
    if let Some((file, path)) = spools.remove(&job_id) {
        drop(file);
        let _ = tokio::fs::remove_file(path).await;
    }
}
