//! The virtual printer with a real CUPS: register it as a driverless queue
//! and print a PDF to it with `lp`.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

use rsupport_testkit::print as print_util;

use std::process::Command;
use std::time::Duration;

use rsupport_core::print::DocumentFormat;
use rsupport_print::{CupsRegistration, PrinterRegistration, VirtualPrinter, VirtualPrinterConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lp_to_the_registered_queue_delivers_the_job() {
    print_util::require_cups();
    let dir = print_util::temp_dir("vp-cups");
    let mut printer = VirtualPrinter::start(VirtualPrinterConfig::new(
        "rsupport test",
        dir.join("spool"),
    ))
    .await
    .expect("start virtual printer");
    let queue = format!("rsupport-test-vp-{}", printer.local_addr().port());
    let mut registration = CupsRegistration::install(&queue, printer.uri())
        .await
        .expect("lpadmin -m everywhere");

    let pdf = dir.join("three-pages.pdf");
    std::fs::write(&pdf, print_util::make_pdf(3)).unwrap();
    let out = Command::new("lp")
        .args(["-d", &queue, "-t", "Quarterly report"])
        .arg(&pdf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lp: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let job = tokio::time::timeout(Duration::from_secs(60), printer.next_job())
        .await
        .expect("job within 60 s")
        .expect("printer running");
    assert_eq!(job.name, "Quarterly report");
    assert_eq!(job.format, DocumentFormat::Pdf);
    assert_eq!(job.pages, Some(3));
    assert_eq!(job.size, std::fs::metadata(&job.path).unwrap().len());
    assert_eq!(print_util::pdfinfo_pages(&job.path), 3);

    // CUPS followed the job over IPP (Get-Job-Attributes) until it completed.
    let finished = print_util::wait_for(Duration::from_secs(20), || {
        let o = Command::new("lpstat")
            .args(["-o", &queue])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(
        finished.is_some(),
        "CUPS still lists the job as not completed"
    );

    registration.uninstall().await.expect("lpadmin -x");
    let listed = Command::new("lpstat").arg("-v").output().unwrap();
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(&queue),
        "queue removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
