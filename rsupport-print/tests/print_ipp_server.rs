//! The virtual printer's IPP server driven with hand-encoded requests over
//! real HTTP/1.1 on 127.0.0.1: every operation CUPS uses, chunked and
//! Content-Length bodies, keep-alive, and refusal of bad input.

#![allow(clippy::unwrap_used)] // tests fail loudly on any error

use rsupport_testkit::print as print_util;

use std::time::Duration;

use rsupport_core::print::DocumentFormat;
use rsupport_print::ipp::codec::{tag, IppAttribute, IppEncoder, IppRequest, IppValue};
use rsupport_print::ipp::{op, parse_ipp_request, status};
use rsupport_print::{VirtualPrinter, VirtualPrinterConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Client {
    stream: BufReader<TcpStream>,
    uri: String,
    next_id: u32,
}

impl Client {
    async fn connect(printer: &VirtualPrinter) -> Self {
        let stream = TcpStream::connect(printer.local_addr()).await.unwrap();
        Self {
            stream: BufReader::new(stream),
            uri: printer.uri().to_owned(),
            next_id: 1,
        }
    }

    fn request(&mut self, operation: u16, extra: &[IppAttribute]) -> IppEncoder {
        self.next_id += 1;
        let mut enc = IppEncoder::new((2, 0), operation, self.next_id);
        enc.operation_group()
            .single("printer-uri", IppValue::uri(&self.uri));
        for a in extra {
            enc.attribute(a);
        }
        enc
    }

    /// Sends `ipp` + `data` as one HTTP request (chunked when asked) and
    /// returns the decoded IPP response.
    async fn send(&mut self, ipp: Vec<u8>, data: &[u8], chunked: bool) -> IppRequest {
        let mut body = ipp;
        body.extend_from_slice(data);
        let s = self.stream.get_mut();
        if chunked {
            s.write_all(b"POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n").await.unwrap();
            for piece in body.chunks(1000) {
                s.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await
                    .unwrap();
                s.write_all(piece).await.unwrap();
                s.write_all(b"\r\n").await.unwrap();
            }
            s.write_all(b"0\r\n\r\n").await.unwrap();
        } else {
            let head = format!("POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n", body.len());
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&body).await.unwrap();
        }
        let (code, body) = self.read_response().await;
        assert_eq!(code, 200);
        parse_ipp_request(&body).expect("valid IPP response")
    }

    async fn read_response(&mut self) -> (u16, Vec<u8>) {
        loop {
            let mut status_line = String::new();
            self.stream.read_line(&mut status_line).await.unwrap();
            let code: u16 = status_line
                .split(' ')
                .nth(1)
                .expect("status line")
                .parse()
                .unwrap();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                self.stream.read_line(&mut line).await.unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            if code == 100 {
                continue;
            }
            let mut body = vec![0; length];
            self.stream.read_exact(&mut body).await.unwrap();
            return (code, body);
        }
    }
}

fn attr(name: &str, v: IppValue) -> IppAttribute {
    IppAttribute::new(name, vec![v])
}

fn job_int(resp: &IppRequest, name: &str) -> i32 {
    resp.attribute(tag::JOB, name)
        .and_then(|a| a.first())
        .and_then(IppValue::as_i32)
        .unwrap_or_else(|| panic!("{name} missing"))
}

async fn start() -> (VirtualPrinter, std::path::PathBuf) {
    let dir = print_util::temp_dir("ipp-server");
    let printer = VirtualPrinter::start(
        VirtualPrinterConfig::new("test printer", dir.join("spool")).max_job_bytes(64 * 1024),
    )
    .await
    .unwrap();
    (printer, dir)
}

#[tokio::test]
async fn get_printer_attributes_advertises_what_cups_needs() {
    let (printer, dir) = start().await;
    let mut c = Client::connect(&printer).await;
    let req = c.request(op::GET_PRINTER_ATTRIBUTES, &[]).finish();
    let resp = c.send(req, b"", false).await;
    assert_eq!(resp.operation, status::OK);
    let strings = |name: &str| -> Vec<String> {
        resp.attribute(tag::PRINTER, name)
            .unwrap_or_else(|| panic!("{name}"))
            .values
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        strings("document-format-supported"),
        [
            "application/pdf",
            "application/postscript",
            "application/octet-stream"
        ]
    );
    assert_eq!(strings("ipp-versions-supported"), ["1.0", "1.1", "2.0"]);
    assert_eq!(strings("printer-uri-supported"), [printer.uri()]);
    let ops: Vec<i32> = resp
        .attribute(tag::PRINTER, "operations-supported")
        .unwrap()
        .values
        .iter()
        .filter_map(IppValue::as_i32)
        .collect();
    for o in [
        op::PRINT_JOB,
        op::VALIDATE_JOB,
        op::CREATE_JOB,
        op::SEND_DOCUMENT,
        op::CANCEL_JOB,
        op::GET_JOB_ATTRIBUTES,
        op::GET_JOBS,
        op::GET_PRINTER_ATTRIBUTES,
    ] {
        assert!(ops.contains(&i32::from(o)), "operation {o:#x} advertised");
    }
    assert!(resp.attribute(tag::PRINTER, "media-col-database").is_some());
    assert_eq!(
        resp.attribute(tag::PRINTER, "printer-state")
            .unwrap()
            .values,
        [IppValue::Enum(3)]
    );

    // requested-attributes narrows the answer, on the same (kept-alive) connection.
    let only = IppAttribute::new(
        "requested-attributes",
        vec![IppValue::keyword("printer-state")],
    );
    let req = c.request(op::GET_PRINTER_ATTRIBUTES, &[only]).finish();
    let resp = c.send(req, b"", true).await;
    let names: Vec<&str> = resp
        .groups
        .iter()
        .filter(|g| g.tag == tag::PRINTER)
        .flat_map(|g| &g.attributes)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["printer-state"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn print_job_streams_the_document_and_delivers_a_job() {
    let (mut printer, dir) = start().await;
    let mut c = Client::connect(&printer).await;
    let pdf = print_util::make_pdf(4);
    let v = c
        .request(
            op::VALIDATE_JOB,
            &[attr("document-format", IppValue::mime("application/pdf"))],
        )
        .finish();
    assert_eq!(c.send(v, b"", false).await.operation, status::OK);

    let mut enc = c.request(
        op::PRINT_JOB,
        &[
            attr("job-name", IppValue::name("Invoice 7")),
            attr(
                "document-format",
                IppValue::mime("application/octet-stream"),
            ),
        ],
    );
    enc.group(tag::JOB).single("copies", IppValue::Integer(2));
    let resp = c.send(enc.finish(), &pdf, true).await;
    assert_eq!(resp.operation, status::OK);
    assert_eq!(job_int(&resp, "job-state"), 9, "completed");
    let id = job_int(&resp, "job-id");

    let job = tokio::time::timeout(Duration::from_secs(5), printer.next_job())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.id, job.name.as_str(), job.format, job.pages, job.copies),
        (id as u64, "Invoice 7", DocumentFormat::Pdf, Some(4), 2)
    );
    assert_eq!(
        std::fs::read(&job.path).unwrap(),
        pdf,
        "spooled bytes are the document"
    );

    let g = c
        .request(
            op::GET_JOB_ATTRIBUTES,
            &[attr("job-id", IppValue::Integer(id))],
        )
        .finish();
    let resp = c.send(g, b"", false).await;
    assert_eq!(job_int(&resp, "job-state"), 9);

    let which = attr("which-jobs", IppValue::keyword("completed"));
    let wanted = IppAttribute::new(
        "requested-attributes",
        vec![IppValue::keyword("job-id"), IppValue::keyword("job-state")],
    );
    let jobs = {
        let r = c.request(op::GET_JOBS, &[which, wanted]).finish();
        c.send(r, b"", false).await
    };
    assert_eq!(jobs.groups.iter().filter(|g| g.tag == tag::JOB).count(), 1);
    let pending = {
        let r = c.request(op::GET_JOBS, &[]).finish();
        c.send(r, b"", false).await
    };
    assert_eq!(
        pending.groups.iter().filter(|g| g.tag == tag::JOB).count(),
        0
    );

    // A finished job cannot be cancelled.
    let cancel = c
        .request(op::CANCEL_JOB, &[attr("job-id", IppValue::Integer(id))])
        .finish();
    assert_eq!(
        c.send(cancel, b"", false).await.operation,
        status::NOT_POSSIBLE
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn create_job_send_document_and_cancel() {
    let (mut printer, dir) = start().await;
    let mut c = Client::connect(&printer).await;
    let ps = b"%!PS-Adobe-3.0\n%%Pages: 2\n%%Page: 1 1\nshowpage\n%%Page: 2 2\nshowpage\n%%EOF\n";

    let created = {
        let r = c
            .request(
                op::CREATE_JOB,
                &[attr("job-name", IppValue::name("Letter"))],
            )
            .finish();
        c.send(r, b"", false).await
    };
    let id = job_int(&created, "job-id");
    assert_eq!(
        job_int(&created, "job-state"),
        3,
        "pending until the document comes"
    );
    let send = c.request(
        op::SEND_DOCUMENT,
        &[
            attr("job-id", IppValue::Integer(id)),
            attr("last-document", IppValue::Boolean(true)),
            attr("document-format", IppValue::mime("application/postscript")),
        ],
    );
    assert_eq!(c.send(send.finish(), ps, false).await.operation, status::OK);
    let job = tokio::time::timeout(Duration::from_secs(5), printer.next_job())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (job.name.as_str(), job.format, job.pages),
        ("Letter", DocumentFormat::PostScript, Some(2))
    );

    // A second job is cancelled before its document arrives: nothing is delivered.
    let created = {
        let r = c.request(op::CREATE_JOB, &[]).finish();
        c.send(r, b"", false).await
    };
    let id2 = job_int(&created, "job-id");
    let cancel = c
        .request(op::CANCEL_JOB, &[attr("job-id", IppValue::Integer(id2))])
        .finish();
    assert_eq!(c.send(cancel, b"", false).await.operation, status::OK);
    let g = {
        let r = c
            .request(
                op::GET_JOB_ATTRIBUTES,
                &[attr("job-id", IppValue::Integer(id2))],
            )
            .finish();
        c.send(r, b"", false).await
    };
    assert_eq!(job_int(&g, "job-state"), 7, "canceled");
    let late = c.request(
        op::SEND_DOCUMENT,
        &[
            attr("job-id", IppValue::Integer(id2)),
            attr("last-document", IppValue::Boolean(true)),
        ],
    );
    assert_eq!(
        c.send(late.finish(), ps, true).await.operation,
        status::NOT_POSSIBLE
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), printer.next_job())
            .await
            .is_err(),
        "no job delivered"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn refuses_bad_documents_formats_and_requests() {
    let (mut printer, dir) = start().await;
    let mut c = Client::connect(&printer).await;
    let unsupported = c
        .request(
            op::PRINT_JOB,
            &[attr("document-format", IppValue::mime("image/jpeg"))],
        )
        .finish();
    assert_eq!(
        c.send(unsupported, b"\xff\xd8", false).await.operation,
        status::DOCUMENT_FORMAT_NOT_SUPPORTED
    );
    let garbage = c.request(op::PRINT_JOB, &[]).finish();
    assert_eq!(
        c.send(garbage, b"GIF89a not a document", true)
            .await
            .operation,
        status::DOCUMENT_FORMAT_ERROR
    );
    let unknown = c.request(0x4001, &[]).finish();
    assert_eq!(
        c.send(unknown, b"", false).await.operation,
        status::OPERATION_NOT_SUPPORTED
    );
    let missing = c
        .request(
            op::GET_JOB_ATTRIBUTES,
            &[attr("job-id", IppValue::Integer(999))],
        )
        .finish();
    assert_eq!(
        c.send(missing, b"", false).await.operation,
        status::NOT_FOUND
    );

    // Past max_job_bytes the server answers at once and closes the
    // connection instead of reading the rest; the writer may see a broken pipe.
    let mut body = c.request(op::PRINT_JOB, &[]).finish();
    let mut big = print_util::make_pdf(1);
    big.resize(100 * 1024, b' ');
    body.extend_from_slice(&big);
    let stream = TcpStream::connect(printer.local_addr()).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let head = format!(
            "POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut reader = BufReader::new(rd);
    let mut response = Vec::new();
    reader.read_to_end(&mut response).await.unwrap();
    drop(writer.await);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(response.starts_with(b"HTTP/1.1 200"));
    assert_eq!(
        parse_ipp_request(&response[split..]).unwrap().operation,
        status::TOO_LARGE
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), printer.next_job())
            .await
            .is_err()
    );
    assert_eq!(
        std::fs::read_dir(dir.join("spool")).unwrap().count(),
        0,
        "refused jobs leave no spool files"
    );

    // Malformed IPP gets HTTP 400 and the connection is closed.
    let mut raw = Client::connect(&printer).await;
    raw.stream.get_mut().write_all(b"POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\nContent-Length: 12\r\n\r\n\x02\x00\x00\x0b\x00\x00\x00\x01\x47\x00\x01\x03").await.unwrap();
    assert_eq!(raw.read_response().await.0, 400);
    let mut raw = Client::connect(&printer).await;
    raw.stream
        .get_mut()
        .write_all(b"GET /ipp/print HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(raw.read_response().await.0, 405);
    let _ = std::fs::remove_dir_all(dir);
}

/// Sends one raw HTTP request with an IPP Get-Jobs body and returns the
/// HTTP status code.
async fn raw_status(printer: &VirtualPrinter, head: &str) -> u16 {
    let mut enc = IppEncoder::new((2, 0), op::GET_JOBS, 1);
    enc.operation_group()
        .single("printer-uri", IppValue::uri(printer.uri()));
    let body = enc.finish();
    let mut stream = TcpStream::connect(printer.local_addr()).await.unwrap();
    let request = format!("{head}Content-Length: {}\r\n\r\n", body.len());
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut status_line))
        .await
        .unwrap()
        .unwrap();
    status_line.split(' ').nth(1).unwrap().parse().unwrap()
}

/// SECURITY M9: a web page (Origin, DNS rebinding Host), a request without
/// the IPP content type and one to another path are refused; a printing
/// client's request still passes.
#[tokio::test]
async fn refuses_browsers_foreign_hosts_paths_and_content_types() {
    let (printer, dir) = start().await;
    let port = printer.local_addr().port();
    let good = format!(
        "POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/ipp\r\n"
    );
    assert_eq!(raw_status(&printer, &good).await, 200);
    let simple_form = format!(
        "POST /ipp/print HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\n"
    );
    let cases = [
        (format!("{good}Origin: https://evil.example\r\n"), 403),
        (good.replace("127.0.0.1", "rebind.evil.example"), 403),
        (
            good.replace(&format!("Host: 127.0.0.1:{port}\r\n"), ""),
            403,
        ),
        (good.replace("/ipp/print", "/"), 404),
        (simple_form, 415),
    ];
    for (head, code) in cases {
        assert_eq!(raw_status(&printer, &head).await, code, "{head}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// SECURITY M10: the spool folder is private and spool files are 0600;
/// a folder prepared by someone else is refused.
#[cfg(unix)]
#[tokio::test]
async fn spool_folder_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = print_util::temp_dir("ipp-private");
    let prepared = dir.join("prepared");
    std::fs::create_dir_all(&prepared).unwrap();
    std::fs::set_permissions(&prepared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = VirtualPrinter::start(VirtualPrinterConfig::new("p", &prepared)).await;
    assert!(refused.is_err(), "a folder open to others is refused");

    let (mut printer, dir2) = start().await;
    let spool = dir2.join("spool");
    assert_eq!(
        std::fs::metadata(&spool).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mut c = Client::connect(&printer).await;
    let job = c
        .request(
            op::PRINT_JOB,
            &[attr("document-format", IppValue::mime("application/pdf"))],
        )
        .finish();
    assert_eq!(
        c.send(job, &print_util::make_pdf(1), false).await.operation,
        status::OK
    );
    let job = tokio::time::timeout(Duration::from_secs(5), printer.next_job())
        .await
        .unwrap()
        .unwrap();
    assert!(job.path.starts_with(&spool));
    assert_eq!(
        std::fs::metadata(&job.path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(dir2);
}
