//! Print channel costs: IPP request decoding, page counting while spooling,
//! and moving a document through the customer and operator state machines
//! (SHA-256 on both sides) against a baseline of hashing it once.
//!
//! `cargo bench -p rsupport-print --bench print`

#![allow(missing_docs, clippy::unwrap_used)]

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rsupport_core::print::{
    DocumentFormat, PrintPolicy, PrintReceiver, PrintSender, ReceiverEvent, VirtualPrinterJob,
};
use rsupport_print::document::PageCounter;
use rsupport_print::ipp::codec::{tag, IppAttribute, IppEncoder, IppValue};
use rsupport_print::parse_ipp_request;
use rsupport_proto::ConnectionMode;
use sha2::{Digest, Sha256};

const DOC: usize = 8 * 1024 * 1024;

/// A Print-Job request shaped like the one CUPS' ipp backend sends.
fn cups_print_job() -> Vec<u8> {
    let mut enc = IppEncoder::new((2, 0), 0x0002, 3);
    enc.operation_group()
        .single(
            "printer-uri",
            IppValue::uri("ipp://127.0.0.1:631/ipp/print"),
        )
        .single("requesting-user-name", IppValue::name("aiko"))
        .single("job-name", IppValue::name("Quarterly report"))
        .single("document-format", IppValue::mime("application/pdf"));
    enc.group(tag::JOB)
        .single("copies", IppValue::Integer(1))
        .single("sides", IppValue::keyword("one-sided"))
        .single("print-color-mode", IppValue::keyword("color"))
        .single("print-quality", IppValue::Enum(4))
        .single("printer-resolution", IppValue::Resolution(300, 300, 3));
    let size = IppAttribute::new(
        "media-size",
        vec![IppValue::Collection(vec![
            IppAttribute::new("x-dimension", vec![IppValue::Integer(21000)]),
            IppAttribute::new("y-dimension", vec![IppValue::Integer(29700)]),
        ])],
    );
    let margins = [
        "media-bottom-margin",
        "media-left-margin",
        "media-right-margin",
        "media-top-margin",
    ]
    .map(|m| IppAttribute::new(m, vec![IppValue::Integer(0)]));
    let mut members = vec![size];
    members.extend(margins);
    enc.single("media-col", IppValue::Collection(members));
    enc.finish()
}

fn document() -> Vec<u8> {
    // PDF-like text so the page counter has markers to find.
    let page = b"4 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\nstream BT (text) Tj ET endstream\n";
    page.iter().copied().cycle().take(DOC).collect()
}

fn through_state_machines(doc: &Bytes) -> u64 {
    let policy = PrintPolicy::new(true, ConnectionMode::ControlCustomer);
    let mut sender = PrintSender::new(policy);
    let mut receiver = PrintReceiver::new(policy);
    let job = VirtualPrinterJob::new(
        1,
        "bench",
        DocumentFormat::Pdf,
        doc.len() as u64,
        None,
        1,
        "/dev/null",
    );
    sender.offer(&job).unwrap();
    let mut written = 0u64;
    loop {
        let mut moved = false;
        while let Some(m) = sender.poll_transmit() {
            moved = true;
            receiver.handle_message(m).unwrap();
        }
        if let Some(r) = sender.poll_read() {
            moved = true;
            let start = r.offset as usize;
            sender
                .handle_read(r.job_id, doc.slice(start..start + r.len))
                .unwrap();
        }
        while let Some(e) = receiver.poll_event() {
            moved = true;
            match e {
                ReceiverEvent::Offered(o) => receiver.accept(o.job_id).unwrap(),
                ReceiverEvent::Write { data, .. } => written += data.len() as u64,
                ReceiverEvent::Received(_) => return written,
                other => panic!("{other:?}"),
            }
        }
        while let Some(m) = receiver.poll_transmit() {
            moved = true;
            sender.handle_message(m).unwrap();
        }
        assert!(moved, "stalled");
    }
}

fn benches(c: &mut Criterion) {
    let request = cups_print_job();
    let mut g = c.benchmark_group("ipp");
    g.throughput(Throughput::Bytes(request.len() as u64));
    g.bench_function("parse_cups_print_job", |b| {
        b.iter(|| parse_ipp_request(&request).unwrap())
    });
    g.finish();

    let doc = Bytes::from(document());
    let mut g = c.benchmark_group("print_8MiB");
    g.throughput(Throughput::Bytes(DOC as u64));
    g.sample_size(10);
    g.bench_function("baseline_sha256_once", |b| b.iter(|| Sha256::digest(&doc)));
    g.bench_function("channel_sender_to_receiver", |b| {
        b.iter(|| through_state_machines(&doc))
    });
    g.bench_function("page_counter", |b| {
        b.iter(|| {
            let mut counter = PageCounter::new();
            for chunk in doc.chunks(64 * 1024) {
                counter.feed(chunk);
            }
            counter.finish(DocumentFormat::Pdf)
        })
    });
    g.finish();
}

criterion_group!(print, benches);
criterion_main!(print);
