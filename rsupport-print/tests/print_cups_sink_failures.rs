//! The CUPS sink reports failures clearly instead of hanging: a queue that
//! refuses jobs, and a stopped printer.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

use rsupport_testkit::print as print_util;

use std::process::Command;
use std::time::Duration;

use rsupport_core::print::{DocumentFormat, PrintOutcome, PrintStage};
use rsupport_print::{CupsQueueSink, PrintSink, SinkJob};

struct Queue(String);

impl Queue {
    fn create(name: &str, extra: &[&str]) -> Self {
        let mut args = vec![
            "-p",
            name,
            "-v",
            "cups-pdf:/",
            "-P",
            "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd",
        ];
        args.extend_from_slice(extra);
        let out = Command::new("lpadmin").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "lpadmin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Queue(name.to_owned())
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let _ = Command::new("lpadmin").args(["-x", &self.0]).status();
    }
}

fn job(dir: &std::path::Path) -> SinkJob {
    let path = dir.join("doc.pdf");
    std::fs::write(&path, print_util::make_pdf(1)).unwrap();
    SinkJob::new("failure test", DocumentFormat::Pdf, path, 1)
}

#[tokio::test]
async fn a_queue_that_refuses_jobs_fails_with_the_reason() {
    print_util::require_cups();
    let dir = print_util::temp_dir("sink-refuse");
    // Created without -E: disabled and not accepting jobs.
    let queue = Queue::create(&format!("rsupport-refuse-{}", std::process::id()), &[]);
    let sink = CupsQueueSink::new(&queue.0).unwrap();
    let done = sink.deliver(&job(&dir), &|_| {}).await;
    assert_eq!(done.outcome, PrintOutcome::Failed);
    assert!(done.detail.contains("not accepting"), "{}", done.detail);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_stopped_printer_is_reported_and_the_job_withdrawn() {
    print_util::require_cups();
    let dir = print_util::temp_dir("sink-stopped");
    let queue = Queue::create(&format!("rsupport-stopped-{}", std::process::id()), &[]);
    // Accepting jobs, but the printer itself is stopped.
    assert!(Command::new("cupsaccept")
        .arg(&queue.0)
        .status()
        .unwrap()
        .success());
    let sink = CupsQueueSink::new(&queue.0)
        .unwrap()
        .give_up_after(Duration::from_secs(30));
    let stages = std::sync::Mutex::new(Vec::new());
    let record = |s: PrintStage| stages.lock().unwrap().push(s);
    let done = sink.deliver(&job(&dir), &record).await;
    assert_eq!(done.outcome, PrintOutcome::Failed);
    assert!(done.detail.contains("printer stopped"), "{}", done.detail);
    assert_eq!(*stages.lock().unwrap(), [PrintStage::Queued]);
    let pending = Command::new("lpstat")
        .args(["-o", &queue.0])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&pending.stdout).trim().is_empty(),
        "the failed job was cancelled"
    );
    let _ = std::fs::remove_dir_all(dir);
}
