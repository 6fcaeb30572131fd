//! The tokio side of the virtual printer: listens on 127.0.0.1, speaks
//! IPP over HTTP/1.1, streams document data to a spool file and hands each
//! finished job out as a [`VirtualPrinterJob`].

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use super::codec::{parse_ipp_request, IppError, IppRequest};
use super::guard::{self, LocalUsers, Peer};
use super::http::{self, BodyReader};
use super::op;
use super::printer::{Handled, IppPrinter, PrinterIdentity};
use super::status;
use crate::document::{format_from_mime, sniff_format, PageCounter};
use crate::{BoxFuture, VirtualPrinterJob, VirtualPrinterSource};

/// Largest IPP attribute section (everything before the document data).
const MAX_IPP_HEADER: usize = 256 * 1024;
/// Concurrent client connections served; more wait in the accept backlog.
const MAX_CONNECTIONS: usize = 16;
/// Size of one read from the socket while spooling.
const SPOOL_READ: usize = 64 * 1024;
/// A client silent this long (between requests or mid-body) is dropped, so
/// stalled connections cannot use up the connection slots.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// `fut`, failing with `TimedOut` after [`IDLE_TIMEOUT`].
async fn idle_limited<T>(fut: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(IDLE_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "client went quiet")))
}

/// How to run the virtual printer.
#[derive(Debug, Clone)]
pub struct VirtualPrinterConfig {
    name: String,
    port: u16,
    spool_dir: PathBuf,
    max_job_bytes: u64,
    make_and_model: String,
}

impl VirtualPrinterConfig {
    /// A printer called `name` that spools documents into `spool_dir`,
    /// on an ephemeral port, with jobs up to 512 MiB.
    pub fn new(name: impl Into<String>, spool_dir: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            port: 0,
            spool_dir: spool_dir.into(),
            max_job_bytes: 512 * 1024 * 1024,
            make_and_model: "rsupport Remote Printer".into(),
        }
    }
    /// Listens on this port of 127.0.0.1 (0 = any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Refuses documents larger than this.
    pub fn max_job_bytes(mut self, bytes: u64) -> Self {
        self.max_job_bytes = bytes;
        self
    }
    /// printer-make-and-model shown in print dialogs.
    pub fn make_and_model(mut self, text: impl Into<String>) -> Self {
        self.make_and_model = text.into();
        self
    }
}

struct Shared {
    printer: Mutex<IppPrinter>,
    started: Instant,
    spool_dir: PathBuf,
    port: u16,
    max_job_bytes: u64,
    jobs: mpsc::UnboundedSender<VirtualPrinterJob>,
    /// Who may print (SECURITY M9).
    users: LocalUsers,
}

impl Shared {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }
    fn with_printer<T>(&self, f: impl FnOnce(&mut IppPrinter) -> T) -> T {
        // A panic while holding the lock cannot leave the table half-updated
        // in a way that matters more than refusing service, so recover it.
        let mut guard = self.printer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

/// A running IPP printer on 127.0.0.1. Dropping it stops the server.
#[derive(Debug)]
pub struct VirtualPrinter {
    addr: SocketAddr,
    uri: String,
    jobs: mpsc::UnboundedReceiver<VirtualPrinterJob>,
    task: JoinHandle<()>,
}

impl VirtualPrinter {
    /// Binds the port and starts serving. Must run inside a tokio runtime.
    /// The spool folder must be private to this user (it is created with
    /// mode 0700 when missing; see [`crate::spool::ensure_private_dir`]).
    pub async fn start(config: VirtualPrinterConfig) -> io::Result<Self> {
        let spool_dir = config.spool_dir.clone();
        let users = tokio::task::spawn_blocking(move || -> io::Result<LocalUsers> {
            crate::spool::ensure_private_dir(&spool_dir)?;
            Ok(LocalUsers::of_this_process())
        })
        .await
        .map_err(io::Error::other)??;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let uri = format!("ipp://127.0.0.1:{}{}", addr.port(), guard::PRINTER_PATH);
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            printer: Mutex::new(IppPrinter::new(PrinterIdentity {
                name: config.name,
                make_and_model: config.make_and_model,
                uri: uri.clone(),
            })),
            started: Instant::now(),
            spool_dir: config.spool_dir,
            port: addr.port(),
            max_job_bytes: config.max_job_bytes,
            jobs: tx,
            users,
        });
        let task = tokio::spawn(accept_loop(listener, shared));
        Ok(Self {
            addr,
            uri,
            jobs: rx,
            task,
        })
    }

    /// The printer's URI, for `lpadmin -v`.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The socket address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next job printed to it; `None` once the server stopped.
    pub async fn next_job(&mut self) -> Option<VirtualPrinterJob> {
        self.jobs.recv().await
    }
}

impl Drop for VirtualPrinter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl VirtualPrinterSource for VirtualPrinter {
    fn next_job(&mut self) -> BoxFuture<'_, Option<VirtualPrinterJob>> {
        Box::pin(VirtualPrinter::next_job(self))
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "virtual printer accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let local = stream.local_addr();
            // The kernel's socket table is a file read: off the runtime.
            let uid = match local {
                Ok(local) => tokio::task::spawn_blocking(move || guard::peer_uid(local, peer))
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            let peer = uid.and_then(|uid| shared.users.classify(uid));
            if peer.is_none() {
                tracing::debug!(
                    ?uid,
                    "refused a virtual printer client of another local user"
                );
            }
            if let Err(e) = serve_connection(stream, &shared, peer).await {
                tracing::debug!(error = %e, "virtual printer connection ended");
            }
            drop(permit);
        });
    }
}

/// Serves one client. `peer` is `None` for a local user that may not
/// print: it gets `403` to its first request.
async fn serve_connection(
    stream: TcpStream,
    shared: &Shared,
    peer: Option<Peer>,
) -> io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut reader = BufReader::new(rd);
    loop {
        let Some(head) = idle_limited(http::read_request_head(&mut reader)).await? else {
            return Ok(());
        };
        let head = match http::parse_request_head(&head) {
            Ok(head) => head,
            Err(http::BadRequest(why)) => {
                tracing::debug!(why, "bad HTTP request to the virtual printer");
                return wr
                    .write_all(&http::error_response(400, "Bad Request"))
                    .await;
            }
        };
        if let Err((code, why)) = guard::check_head(&head, shared.port) {
            tracing::debug!(code, "virtual printer refused a request");
            return wr.write_all(&http::error_response(code, why)).await;
        }
        let Some(peer) = peer else {
            return wr.write_all(&http::error_response(403, "Forbidden")).await;
        };
        if head.expect_continue {
            wr.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let mut body = BodyReader::new(head.body);
        let (req, leftover) = match read_ipp_header(&mut reader, &mut body).await? {
            Ok(parsed) => parsed,
            Err(code) => {
                return wr
                    .write_all(&http::error_response(code, "Bad Request"))
                    .await
            }
        };
        if !may_send(&shared.users, peer, &req) {
            return wr.write_all(&http::error_response(403, "Forbidden")).await;
        }
        let handled = shared.with_printer(|p| p.handle(&req, peer.uid(), shared.now()));
        let (response, keep_alive) = match handled {
            Handled::Respond(bytes) => {
                idle_limited(body.drain(&mut reader)).await?;
                (bytes, head.keep_alive)
            }
            Handled::ReceiveDocument { job_id } => {
                let (bytes, whole_body_read) =
                    receive_document(shared, &req, job_id, leftover, &mut reader, &mut body).await;
                (bytes, head.keep_alive && whole_body_read)
            }
        };
        wr.write_all(&http::ipp_response(&response, keep_alive))
            .await?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// The print service (CUPS's `ipp` backend) may relay jobs of our own
/// user only; asking for the printer's attributes names no job.
fn may_send(users: &LocalUsers, peer: Peer, req: &IppRequest) -> bool {
    match peer {
        Peer::Own(_) => true,
        Peer::Service(_) => {
            req.operation == op::GET_PRINTER_ATTRIBUTES
                || users.is_own_name(req.operation_str("requesting-user-name"))
        }
    }
}

/// Reads body bytes until the IPP attribute section is complete. The outer
/// error is IO; the inner one an HTTP status to reply with.
async fn read_ipp_header(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    body: &mut BodyReader,
) -> io::Result<Result<(IppRequest, Vec<u8>), u16>> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 8192];
    loop {
        match parse_ipp_request(&buf) {
            Ok(req) => {
                let leftover = buf.get(req.data_offset..).unwrap_or_default().to_vec();
                return Ok(Ok((req, leftover)));
            }
            Err(IppError::Incomplete) if buf.len() < MAX_IPP_HEADER => {
                let n = idle_limited(body.read(reader, &mut chunk)).await?;
                if n == 0 {
                    return Ok(Err(400));
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            }
            Err(IppError::Incomplete) => return Ok(Err(413)),
            Err(e) => {
                tracing::debug!(error = %e, "malformed IPP request");
                return Ok(Err(400));
            }
        }
    }
}

/// Streams the document to the spool, registers the outcome and returns the
/// IPP response plus whether the request body was read to its end.
async fn receive_document(
    shared: &Shared,
    req: &IppRequest,
    job_id: u32,
    leftover: Vec<u8>,
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    body: &mut BodyReader,
) -> (Vec<u8>, bool) {
    let created = {
        let dir = shared.spool_dir.clone();
        tokio::task::spawn_blocking(move || crate::spool::create_spool_file(&dir, "rsupport-print"))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r)
    };
    let (file, path) = match created {
        Ok((file, path)) => (tokio::fs::File::from_std(file), path),
        Err(e) => {
            tracing::warn!(error = %e, "cannot create a print spool file");
            let now = shared.now();
            let response = shared.with_printer(|p| {
                p.finish_document(
                    req,
                    job_id,
                    0,
                    Err((status::INTERNAL_ERROR, "could not spool the document")),
                    now,
                )
            });
            return (response, false);
        }
    };
    let spooled = spool(shared, file, leftover, reader, body).await;
    let whole_body_read = body.is_done();
    let declared = shared.with_printer(|p| {
        p.job(job_id)
            .map(|j| (j.mime.clone(), j.name.clone(), j.copies))
    });
    let Some((mime, name, copies)) = declared else {
        let _ = tokio::fs::remove_file(&path).await;
        return (
            super::printer::simple_response(req, status::NOT_FOUND, "job vanished"),
            whole_body_read,
        );
    };
    let outcome = spooled.and_then(|s| {
        let format = format_from_mime(&mime)
            .or_else(|| sniff_format(&s.head))
            .ok_or((
                status::DOCUMENT_FORMAT_ERROR,
                "document is neither PDF nor PostScript",
            ))?;
        Ok((s, format))
    });
    let now = shared.now();
    match outcome {
        Ok((s, format)) => {
            let response =
                shared.with_printer(|p| p.finish_document(req, job_id, s.size, Ok(()), now));
            let canceled = shared.with_printer(|p| {
                p.job(job_id).map(|j| j.state) != Some(super::printer::JobState::Completed)
            });
            if canceled {
                let _ = tokio::fs::remove_file(&path).await;
            } else {
                let job = VirtualPrinterJob::new(
                    u64::from(job_id),
                    name,
                    format,
                    s.size,
                    s.pages.finish(format),
                    copies,
                    path.clone(),
                );
                if shared.jobs.send(job).is_err() {
                    // Nobody listens any more: the job cannot travel anywhere.
                    shared.with_printer(|p| p.abort(job_id, now));
                    let _ = tokio::fs::remove_file(&path).await;
                }
            }
            (response, whole_body_read)
        }
        Err((code, why)) => {
            let _ = tokio::fs::remove_file(&path).await;
            let response =
                shared.with_printer(|p| p.finish_document(req, job_id, 0, Err((code, why)), now));
            (response, whole_body_read)
        }
    }
}

struct Spooled {
    size: u64,
    head: Vec<u8>,
    pages: PageCounter,
}

async fn spool(
    shared: &Shared,
    mut file: tokio::fs::File,
    leftover: Vec<u8>,
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    body: &mut BodyReader,
) -> Result<Spooled, (u16, &'static str)> {
    let io_err = |e: io::Error| {
        tracing::warn!(error = %e, "spooling a print job failed");
        (status::INTERNAL_ERROR, "could not spool the document")
    };
    let mut s = Spooled {
        size: 0,
        head: Vec::new(),
        pages: PageCounter::new(),
    };
    let mut piece = leftover;
    let mut buf = vec![0u8; SPOOL_READ];
    loop {
        if !piece.is_empty() {
            s.size += piece.len() as u64;
            if s.size > shared.max_job_bytes {
                return Err((status::TOO_LARGE, "document too large"));
            }
            if s.head.len() < 1024 {
                let take = (1024 - s.head.len()).min(piece.len());
                s.head
                    .extend_from_slice(piece.get(..take).unwrap_or_default());
            }
            s.pages.feed(&piece);
            file.write_all(&piece).await.map_err(io_err)?;
        }
        let n = idle_limited(body.read(reader, &mut buf))
            .await
            .map_err(|e| {
                tracing::debug!(error = %e, "document upload broke off");
                (status::BAD_REQUEST, "document data ended early")
            })?;
        if n == 0 {
            break;
        }
        piece = buf.get(..n).unwrap_or_default().to_vec();
    }
    file.flush().await.map_err(io_err)?;
    file.sync_all().await.map_err(io_err)?;
    if s.size == 0 {
        return Err((status::BAD_REQUEST, "empty document"));
    }
    Ok(s)
}
