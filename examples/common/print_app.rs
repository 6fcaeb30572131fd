//! What an application does when the user presses "Print" on a machine
//! where CUPS forwards to the SDK's virtual printer: one IPP Print-Job
//! request over HTTP to the printer's URI. The demo uses it so that it needs
//! no CUPS; on a real desktop `lp -d QUEUE FILE` goes the same way.

use std::net::SocketAddr;

use rsupport::print::ipp::codec::{IppEncoder, IppValue};
use rsupport::print::ipp::op;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `document` (PostScript) titled `title` to the IPP printer at
/// `addr`/`uri`; returns the HTTP status line of the answer.
pub async fn print_postscript(
    addr: SocketAddr,
    uri: &str,
    title: &str,
    document: &[u8],
) -> std::io::Result<String> {
    let mut ipp = IppEncoder::new((2, 0), op::PRINT_JOB, 1);
    ipp.operation_group()
        .single("printer-uri", IppValue::uri(uri))
        .single("requesting-user-name", IppValue::name("customer"))
        .single("job-name", IppValue::name(title))
        .single("document-format", IppValue::mime("application/postscript"));
    let mut body = ipp.finish();
    body.extend_from_slice(document);
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "POST /ipp/print HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ipp\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// A small PostScript document with `pages` pages of text.
pub fn postscript(title: &str, pages: u32) -> Vec<u8> {
    let mut ps = format!("%!PS-Adobe-3.0\n%%Title: {title}\n%%Pages: {pages}\n%%EndComments\n");
    for page in 1..=pages {
        ps.push_str(&format!(
            "%%Page: {page} {page}\n/Helvetica findfont 24 scalefont setfont\n\
             72 720 moveto ({title}, page {page}) show\nshowpage\n"
        ));
    }
    ps.push_str("%%EOF\n");
    ps.into_bytes()
}
