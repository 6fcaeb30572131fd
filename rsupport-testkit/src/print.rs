//! Helpers shared by the print integration tests: a hand-written PDF
//! generator, CUPS checks and page counting with an independent tool.

#![allow(clippy::unwrap_used)] // test fixtures: a failed unwrap is a failed test

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rsupport_print::{BoxFuture, VirtualPrinterJob, VirtualPrinterSource};
use tokio::sync::mpsc;

/// A valid PDF with `pages` pages, each showing its number, built by hand
/// (objects, cross-reference table and trailer with exact offsets).
pub fn make_pdf(pages: u32) -> Vec<u8> {
    let mut objects: Vec<String> = Vec::new();
    // 1: catalog, 2: page tree, 3: font, then per page: page + content.
    objects.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    objects.push(format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        pages
    ));
    objects.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for i in 0..pages {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
            5 + 2 * i
        ));
        let stream = format!(
            "BT /F1 36 Tf 72 720 Td (rsupport test page {}) Tj ET",
            i + 1
        );
        objects.push(format!(
            "<< /Length {} >>\nstream\n{}\nendstream",
            stream.len(),
            stream
        ));
    }
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (n, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{}\nendobj\n", n + 1, body).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n",
            objects.len() + 1,
            xref
        )
        .as_bytes(),
    );
    out
}

/// Fails the test (never skips) when CUPS is not installed and running.
pub fn require_cups() {
    let out = Command::new("lpstat").arg("-r").output().expect(
        "lpstat not found: run scripts/install-print-deps.sh (CUPS is required for these tests)",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is running"),
        "cupsd is not running ({text}): run scripts/install-print-deps.sh"
    );
}

/// Page count by poppler's `pdfinfo`, independent of the code under test.
pub fn pdfinfo_pages(path: &Path) -> u32 {
    let out = Command::new("pdfinfo")
        .arg(path)
        .output()
        .expect("pdfinfo not found: run scripts/install-print-deps.sh");
    assert!(
        out.status.success(),
        "pdfinfo failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("Pages:")
                .map(|n| n.trim().parse().expect("page count"))
        })
        .expect("pdfinfo printed no page count")
}

/// A fresh private directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rsupport-{tag}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ (std::ptr::addr_of!(tag) as u128)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A platform-style source fed by the test: jobs pushed into a channel.
pub struct ChannelSource(pub mpsc::UnboundedReceiver<VirtualPrinterJob>);

impl VirtualPrinterSource for ChannelSource {
    fn next_job(&mut self) -> BoxFuture<'_, Option<VirtualPrinterJob>> {
        Box::pin(self.0.recv())
    }
}

/// The PPD of the cups-pdf printer driver (Debian's printer-driver-cups-pdf).
pub const CUPS_PDF_PPD: &str = "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd";

/// Where cups-pdf writes, from its configuration (`Out` directive).
pub fn cups_pdf_out_dir() -> PathBuf {
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

/// The PDF files in `dir`.
pub fn pdfs_in(dir: &Path) -> HashSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
                .collect()
        })
        .unwrap_or_default()
}

/// An operator-side PDF queue; removed on drop.
pub struct PdfQueue(pub String);

impl PdfQueue {
    /// Creates a cups-pdf queue called `name`; it is removed on drop.
    pub fn create(name: &str) -> Self {
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
