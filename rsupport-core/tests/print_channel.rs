//! The print channel state machines, customer and operator side, talking
//! through the real wire encoding (SessionMessage encode/decode) in memory.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // tests: real clock, temporary files

use bytes::Bytes;
use rsupport_core::print::{
    DocumentFormat, PrintError, PrintMessage, PrintOutcome, PrintPolicy, PrintReceiver,
    PrintSender, PrintStage, ReceiverEvent, SenderEvent, VirtualPrinterJob,
};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::ConnectionMode;

fn allowed() -> PrintPolicy {
    PrintPolicy::new(true, ConnectionMode::ControlCustomer)
}

/// Through the wire format and back, as the session layer will carry it.
fn wire(msg: PrintMessage) -> PrintMessage {
    match SessionMessage::decode(SessionMessage::Print(msg).encode()).expect("decodes") {
        SessionMessage::Print(m) => m,
        other => panic!("not a print message: {other:?}"),
    }
}

struct Harness {
    sender: PrintSender,
    receiver: PrintReceiver,
    document: Vec<u8>,
    spool: Vec<u8>,
    sender_events: Vec<SenderEvent>,
    receiver_events: Vec<ReceiverEvent>,
    /// Applied to every customer → operator message (to simulate tampering).
    tamper: Box<dyn FnMut(PrintMessage) -> PrintMessage>,
}

impl Harness {
    fn new(sender_policy: PrintPolicy, receiver_policy: PrintPolicy, size: usize) -> Self {
        let document: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        Self {
            sender: PrintSender::new(sender_policy).with_chunk_size(64 * 1024),
            receiver: PrintReceiver::new(receiver_policy),
            document,
            spool: Vec::new(),
            sender_events: Vec::new(),
            receiver_events: Vec::new(),
            tamper: Box::new(|m| m),
        }
    }

    fn job(&self) -> VirtualPrinterJob {
        sample_job(self.document.len() as u64)
    }

    /// Runs both sides until nothing moves. The operator accepts offers when
    /// `accept` and the sink "prints" every received job.
    fn pump(&mut self, accept: bool) -> Vec<PrintError> {
        let mut errors = Vec::new();
        loop {
            let mut moved = false;
            while let Some(m) = self.sender.poll_transmit() {
                moved = true;
                let m = (self.tamper)(wire(m));
                if let Err(e) = self.receiver.handle_message(m) {
                    errors.push(e);
                }
            }
            if let Some(r) = self.sender.poll_read() {
                moved = true;
                let start = r.offset as usize;
                let data = Bytes::copy_from_slice(&self.document[start..start + r.len]);
                self.sender.handle_read(r.job_id, data).unwrap();
            }
            while let Some(m) = self.receiver.poll_transmit() {
                moved = true;
                if let Err(e) = self.sender.handle_message(wire(m)) {
                    errors.push(e);
                }
            }
            while let Some(e) = self.receiver.poll_event() {
                moved = true;
                match &e {
                    ReceiverEvent::Offered(o) if accept => self.receiver.accept(o.job_id).unwrap(),
                    ReceiverEvent::Offered(o) => {
                        self.receiver.decline(o.job_id, "operator is busy").unwrap()
                    }
                    ReceiverEvent::Write { offset, data, .. } => {
                        assert_eq!(*offset as usize, self.spool.len());
                        self.spool.extend_from_slice(data);
                    }
                    ReceiverEvent::Received(o) => {
                        self.receiver
                            .sink_progress(o.job_id, PrintStage::Queued)
                            .unwrap();
                        self.receiver
                            .sink_progress(o.job_id, PrintStage::Printing)
                            .unwrap();
                        self.receiver
                            .sink_finished(o.job_id, PrintOutcome::Printed, "office-laser", "done")
                            .unwrap();
                    }
                    _ => {}
                }
                self.receiver_events.push(e);
            }
            while let Some(e) = self.sender.poll_event() {
                moved = true;
                self.sender_events.push(e);
            }
            if !moved {
                return errors;
            }
        }
    }

    fn finished(&self) -> Option<(PrintOutcome, String)> {
        self.sender_events.iter().find_map(|e| match e {
            SenderEvent::Finished {
                outcome, detail, ..
            } => Some((*outcome, detail.clone())),
            _ => None,
        })
    }
}

fn sample_job(size: u64) -> VirtualPrinterJob {
    // The state machines never touch the path: the driver reads the file.
    VirtualPrinterJob::new(
        9,
        "Quarterly report",
        DocumentFormat::Pdf,
        size,
        Some(3),
        1,
        std::env::temp_dir().join("x"),
    )
}

#[test]
fn a_job_travels_with_progress_and_result() {
    let mut h = Harness::new(allowed(), allowed(), 300_000);
    let id = h.sender.offer(&h.job()).unwrap();
    assert!(h.pump(true).is_empty());
    assert_eq!(h.spool, h.document, "operator spooled exactly the document");
    let offered = h.receiver_events.iter().find_map(|e| match e {
        ReceiverEvent::Offered(o) => Some(o.clone()),
        _ => None,
    });
    let offered = offered.unwrap();
    assert_eq!(
        (
            offered.name.as_str(),
            offered.size,
            offered.pages,
            offered.copies
        ),
        ("Quarterly report", 300_000, 3, 1)
    );
    assert_eq!(
        h.sender_events.first(),
        Some(&SenderEvent::Accepted { job_id: id })
    );
    let stages: Vec<PrintStage> = h
        .sender_events
        .iter()
        .filter_map(|e| match e {
            SenderEvent::Progress { stage, .. } => Some(*stage),
            _ => None,
        })
        .collect();
    assert_eq!(stages.first(), Some(&PrintStage::Receiving));
    assert!(
        stages.ends_with(&[
            PrintStage::Receiving,
            PrintStage::Queued,
            PrintStage::Printing
        ]),
        "{stages:?}"
    );
    assert_eq!(
        h.sender_events.last(),
        Some(&SenderEvent::Finished {
            job_id: id,
            outcome: PrintOutcome::Printed,
            destination: "office-laser".into(),
            detail: "done".into()
        })
    );
    assert_eq!((h.sender.active_jobs(), h.receiver.active_jobs()), (0, 0));
}

#[test]
fn printing_is_refused_outside_control_and_manage_modes() {
    let view = PrintPolicy::new(true, ConnectionMode::ViewCustomer);
    let mut h = Harness::new(view, allowed(), 10);
    assert_eq!(
        h.sender.offer(&h.job()),
        Err(PrintError::NotAllowed),
        "the customer side refuses by itself"
    );

    // A sender that thinks it may print meets an operator side that may not.
    let mut h = Harness::new(
        allowed(),
        PrintPolicy::new(false, ConnectionMode::ManageCustomer),
        10,
    );
    h.sender.offer(&h.job()).unwrap();
    assert!(h.pump(true).is_empty());
    assert!(h.spool.is_empty());
    assert!(
        !h.receiver_events
            .iter()
            .any(|e| matches!(e, ReceiverEvent::Offered(_))),
        "never reaches the operator"
    );
    assert_eq!(h.finished().unwrap().0, PrintOutcome::Declined);
}

#[test]
fn the_operator_can_decline() {
    let mut h = Harness::new(allowed(), allowed(), 1000);
    h.sender.offer(&h.job()).unwrap();
    h.pump(false);
    assert_eq!(
        h.finished(),
        Some((PrintOutcome::Declined, "operator is busy".into()))
    );
    assert!(h.spool.is_empty());
}

#[test]
fn corrupted_data_fails_the_checksum() {
    let mut h = Harness::new(allowed(), allowed(), 100_000);
    h.tamper = Box::new(|m| match m {
        PrintMessage::Data {
            job_id,
            offset,
            data,
        } if offset == 0 => {
            let mut bad = data.to_vec();
            bad[10] ^= 1;
            PrintMessage::Data {
                job_id,
                offset,
                data: bad.into(),
            }
        }
        m => m,
    });
    h.sender.offer(&h.job()).unwrap();
    let errors = h.pump(true);
    assert_eq!(errors, [PrintError::Protocol("document checksum mismatch")]);
    assert_eq!(
        h.finished(),
        Some((PrintOutcome::Failed, "document checksum mismatch".into()))
    );
    assert!(h.receiver_events.iter().any(|e| matches!(
        e,
        ReceiverEvent::Ended {
            outcome: PrintOutcome::Failed,
            ..
        }
    )));
    assert!(
        !h.receiver_events
            .iter()
            .any(|e| matches!(e, ReceiverEvent::Received(_))),
        "never handed to a sink"
    );
}

#[test]
fn data_out_of_order_or_beyond_the_size_ends_the_job() {
    let mut h = Harness::new(allowed(), allowed(), 200_000);
    h.tamper = Box::new(|m| match m {
        PrintMessage::Data {
            job_id,
            offset,
            data,
        } if offset > 0 => PrintMessage::Data {
            job_id,
            offset: offset + 1,
            data,
        },
        m => m,
    });
    h.sender.offer(&h.job()).unwrap();
    assert_eq!(h.pump(true), [PrintError::Protocol("data out of order")]);
    assert_eq!(h.finished().unwrap().0, PrintOutcome::Failed);

    let mut r = PrintReceiver::new(allowed());
    assert!(
        r.handle_message(PrintMessage::Data {
            job_id: 5,
            offset: 0,
            data: Bytes::from_static(b"x")
        })
        .is_err(),
        "data for a job never offered"
    );
}

#[test]
fn either_side_can_cancel_mid_transfer() {
    // Customer cancels after the first chunk.
    let mut h = Harness::new(allowed(), allowed(), 500_000);
    let id = h.sender.offer(&h.job()).unwrap();
    let m = h.sender.poll_transmit().unwrap();
    h.receiver.handle_message(wire(m)).unwrap();
    h.receiver.poll_event();
    h.receiver.accept(id).unwrap();
    h.sender
        .handle_message(wire(h.receiver.poll_transmit().unwrap()))
        .unwrap();
    let r = h.sender.poll_read().unwrap();
    h.sender
        .handle_read(id, Bytes::copy_from_slice(&h.document[..r.len]))
        .unwrap();
    let first_chunk = h.sender.poll_transmit().unwrap();
    h.sender.cancel(id, "changed my mind").unwrap();
    assert!(h.pump(true).is_empty());
    // The chunk sent before the cancel arrives late and is ignored quietly.
    assert!(h.receiver.handle_message(wire(first_chunk)).is_ok());
    assert!(h.receiver_events.iter().any(|e| matches!(
        e,
        ReceiverEvent::Ended {
            outcome: PrintOutcome::Cancelled,
            ..
        }
    )));
    assert_eq!(h.finished().unwrap().0, PrintOutcome::Cancelled);

    // Operator cancels: the customer stops reading and reports it.
    let mut h = Harness::new(allowed(), allowed(), 500_000);
    let id = h.sender.offer(&h.job()).unwrap();
    h.receiver
        .handle_message(wire(h.sender.poll_transmit().unwrap()))
        .unwrap();
    assert!(matches!(
        h.receiver.poll_event(),
        Some(ReceiverEvent::Offered(_))
    ));
    h.receiver.accept(id).unwrap();
    h.receiver.cancel(id, "out of paper").unwrap();
    assert!(h.pump(true).is_empty());
    assert_eq!(
        h.finished(),
        Some((PrintOutcome::Cancelled, "out of paper".into()))
    );
    assert_eq!(h.sender.poll_read(), None);
    assert!(h.spool.is_empty());
}

#[test]
fn leaving_control_mode_cancels_jobs_in_flight() {
    let mut h = Harness::new(allowed(), allowed(), 500_000);
    let id = h.sender.offer(&h.job()).unwrap();
    h.receiver
        .handle_message(wire(h.sender.poll_transmit().unwrap()))
        .unwrap();
    assert!(matches!(
        h.receiver.poll_event(),
        Some(ReceiverEvent::Offered(_))
    ));
    h.receiver.accept(id).unwrap();
    h.receiver
        .set_policy(PrintPolicy::new(true, ConnectionMode::ViewCustomer));
    h.pump(true);
    assert_eq!(h.finished().unwrap().0, PrintOutcome::Cancelled);
    assert_eq!(h.receiver.active_jobs(), 0);

    let mut s = PrintSender::new(allowed());
    s.offer(&sample_job(10)).unwrap();
    s.poll_transmit();
    s.set_policy(PrintPolicy::new(true, ConnectionMode::ShowOperatorScreen));
    assert!(matches!(
        s.poll_transmit(),
        Some(PrintMessage::Cancel { .. })
    ));
    assert!(matches!(
        s.poll_event(),
        Some(SenderEvent::Finished {
            outcome: PrintOutcome::Cancelled,
            ..
        })
    ));
}

#[test]
fn the_receiver_enforces_size_and_job_caps() {
    let policy = allowed().with_max_job_bytes(1000).with_max_active_jobs(1);
    let mut r = PrintReceiver::new(policy);
    let offer = |job_id, size| {
        PrintMessage::Offer(rsupport_core::print::PrintJobOffer {
            job_id,
            name: "a".into(),
            format: DocumentFormat::Pdf,
            size,
            pages: 0,
            copies: 1,
        })
    };
    r.handle_message(offer(1, 2000)).unwrap();
    assert!(
        matches!(
            r.poll_transmit(),
            Some(PrintMessage::Answer { accept: false, .. })
        ),
        "too large"
    );
    r.handle_message(offer(2, 10)).unwrap();
    r.handle_message(offer(3, 10)).unwrap();
    assert!(
        matches!(
            r.poll_transmit(),
            Some(PrintMessage::Answer {
                job_id: 3,
                accept: false,
                ..
            })
        ),
        "too many"
    );
    assert_eq!(
        r.handle_message(offer(2, 10)),
        Err(PrintError::Protocol("print job id reused"))
    );
}
