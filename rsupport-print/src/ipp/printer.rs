//! The IPP printer's logic without IO: which operations it answers, with
//! which attributes, and the job table. The server in [`super::server`]
//! moves the bytes and streams document data to the spool.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::codec::{tag, IppAttribute, IppEncoder, IppRequest, IppValue};
use super::{op, status};

/// Completed jobs remembered for Get-Jobs / Get-Job-Attributes.
const KEEP_FINISHED_JOBS: usize = 64;
/// Jobs waiting for or receiving their document at once; more are refused
/// (busy), so a client cannot grow the table without limit.
pub const MAX_OPEN_JOBS: usize = 32;
/// A Create-Job whose document has not started arriving by then is
/// aborted (its client went away or never meant to print).
pub const PENDING_JOB_TIMEOUT: Duration = Duration::from_secs(120);

/// Formats advertised in `document-format-supported`.
pub const SUPPORTED_FORMATS: [&str; 3] = [
    "application/pdf",
    "application/postscript",
    "application/octet-stream",
];

/// IPP job states (RFC 8011 §5.3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for its document (Create-Job done, Send-Document not yet).
    Pending = 3,
    /// Receiving its document.
    Processing = 5,
    /// Cancelled by the client.
    Canceled = 7,
    /// Failed.
    Aborted = 8,
    /// Received in full and handed on.
    Completed = 9,
}

impl JobState {
    fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Canceled | JobState::Aborted | JobState::Completed
        )
    }
    fn reason(self) -> &'static str {
        match self {
            JobState::Pending => "job-incoming",
            JobState::Processing => "job-transforming",
            JobState::Canceled => "job-canceled-by-user",
            JobState::Aborted => "aborted-by-system",
            JobState::Completed => "job-completed-successfully",
        }
    }
}

/// One job in the printer's table.
#[derive(Debug, Clone)]
pub struct IppJob {
    /// job-id.
    pub id: u32,
    /// job-name (document title).
    pub name: String,
    /// requesting-user-name.
    pub user: String,
    /// The local user (uid) whose connection created the job: only that
    /// user's connections see, feed or cancel it.
    pub owner: u32,
    /// document-format given by the client.
    pub mime: String,
    /// copies asked for.
    pub copies: u32,
    /// State.
    pub state: JobState,
    /// Bytes of document data received.
    pub octets: u64,
    /// Uptime at creation.
    pub created: Duration,
    /// Uptime at completion.
    pub finished: Option<Duration>,
}

/// Static facts the printer advertises.
#[derive(Debug, Clone)]
pub struct PrinterIdentity {
    /// printer-name.
    pub name: String,
    /// printer-make-and-model.
    pub make_and_model: String,
    /// printer-uri-supported (`ipp://127.0.0.1:<port>/ipp/print`).
    pub uri: String,
}

/// What the server must do after [`IppPrinter::handle`].
#[derive(Debug)]
pub enum Handled {
    /// Send this response; discard any document data.
    Respond(Vec<u8>),
    /// Stream the document data to the spool for job `job_id`, then call
    /// [`IppPrinter::finish_document`] to get the response.
    ReceiveDocument {
        /// Job receiving the data.
        job_id: u32,
    },
}

/// The printer's job table and attribute responses.
#[derive(Debug)]
pub struct IppPrinter {
    identity: PrinterIdentity,
    jobs: BTreeMap<u32, IppJob>,
    next_job_id: u32,
}

impl IppPrinter {
    /// A printer with no jobs.
    pub fn new(identity: PrinterIdentity) -> Self {
        Self {
            identity,
            jobs: BTreeMap::new(),
            next_job_id: 1,
        }
    }

    /// The job with this id.
    pub fn job(&self, id: u32) -> Option<&IppJob> {
        self.jobs.get(&id)
    }

    /// The job with this id if `owner` created it.
    fn owned(&self, id: u32, owner: u32) -> Option<&IppJob> {
        self.jobs.get(&id).filter(|j| j.owner == owner)
    }

    /// Aborts Create-Job jobs still waiting for their document after
    /// [`PENDING_JOB_TIMEOUT`].
    pub fn expire(&mut self, now: Duration) {
        let stale: Vec<u32> = self
            .jobs
            .values()
            .filter(|j| {
                j.state == JobState::Pending && now.saturating_sub(j.created) >= PENDING_JOB_TIMEOUT
            })
            .map(|j| j.id)
            .collect();
        for id in stale {
            self.set_state(id, JobState::Aborted, now);
        }
        self.forget_old_jobs();
    }

    /// Jobs in the table (open and remembered finished ones).
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// Handles a decoded request at uptime `now`, sent over a connection of
    /// the local user `owner`: jobs of other users are invisible to it.
    pub fn handle(&mut self, req: &IppRequest, owner: u32, now: Duration) -> Handled {
        self.expire(now);
        let reply = |code: u16, msg: &str| Handled::Respond(simple_response(req, code, msg));
        if !matches!(req.version.0, 1 | 2) {
            return reply(status::VERSION_NOT_SUPPORTED, "IPP version not supported");
        }
        if req.groups.first().map(|g| g.tag) != Some(tag::OPERATION) {
            return reply(status::BAD_REQUEST, "missing operation attributes");
        }
        match req.operation {
            op::GET_PRINTER_ATTRIBUTES => Handled::Respond(self.printer_attributes(req, now)),
            op::VALIDATE_JOB => match check_job_request(req) {
                Ok(()) => reply(status::OK, "ok"),
                Err((code, msg)) => reply(code, msg),
            },
            op::PRINT_JOB | op::CREATE_JOB => {
                if let Err((code, msg)) = check_job_request(req) {
                    return reply(code, msg);
                }
                let open = self.jobs.values().filter(|j| !j.state.is_finished());
                if open.count() >= MAX_OPEN_JOBS {
                    return reply(status::BUSY, "too many jobs at once; try again later");
                }
                let id = self.create_job(req, owner, now);
                if req.operation == op::PRINT_JOB {
                    self.set_state(id, JobState::Processing, now);
                    Handled::ReceiveDocument { job_id: id }
                } else {
                    Handled::Respond(self.job_response(req, id, status::OK))
                }
            }
            op::SEND_DOCUMENT => {
                let Some(id) = job_id_of(req) else {
                    return reply(status::BAD_REQUEST, "job-id missing");
                };
                match self.owned(id, owner).map(|j| j.state) {
                    None => reply(status::NOT_FOUND, "no such job"),
                    Some(JobState::Pending) => {
                        if req
                            .attribute(tag::OPERATION, "last-document")
                            .and_then(IppAttribute::first)
                            != Some(&IppValue::Boolean(true))
                        {
                            return reply(
                                status::MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED,
                                "one document per job",
                            );
                        }
                        if let Err((code, msg)) = check_document_format(req) {
                            return reply(code, msg);
                        }
                        if let (Some(job), Some(mime)) =
                            (self.jobs.get_mut(&id), req.operation_str("document-format"))
                        {
                            job.mime = mime.to_owned();
                        }
                        self.set_state(id, JobState::Processing, now);
                        Handled::ReceiveDocument { job_id: id }
                    }
                    Some(_) => reply(status::NOT_POSSIBLE, "job already has its document"),
                }
            }
            op::CANCEL_JOB => {
                let Some(id) = job_id_of(req) else {
                    return reply(status::BAD_REQUEST, "job-id missing");
                };
                match self.owned(id, owner).map(|j| j.state) {
                    None => reply(status::NOT_FOUND, "no such job"),
                    Some(s) if s.is_finished() => {
                        reply(status::NOT_POSSIBLE, "job already finished")
                    }
                    Some(_) => {
                        self.set_state(id, JobState::Canceled, now);
                        reply(status::OK, "job canceled")
                    }
                }
            }
            op::GET_JOB_ATTRIBUTES => match job_id_of(req) {
                Some(id) if self.owned(id, owner).is_some() => {
                    Handled::Respond(self.job_response(req, id, status::OK))
                }
                Some(_) => reply(status::NOT_FOUND, "no such job"),
                None => reply(status::BAD_REQUEST, "job-id missing"),
            },
            op::GET_JOBS => Handled::Respond(self.jobs_response(req, owner)),
            _ => reply(status::OPERATION_NOT_SUPPORTED, "operation not supported"),
        }
    }

    /// Records the end of a document upload and returns the response to send.
    /// `ok == false` aborts the job (bad data, disk full, too large).
    pub fn finish_document(
        &mut self,
        req: &IppRequest,
        job_id: u32,
        octets: u64,
        result: Result<(), (u16, &str)>,
        now: Duration,
    ) -> Vec<u8> {
        if let Some(job) = self.jobs.get_mut(&job_id) {
            job.octets = octets;
        }
        // A Cancel-Job that raced the upload wins.
        let canceled = self.jobs.get(&job_id).map(|j| j.state) == Some(JobState::Canceled);
        match result {
            Ok(()) if !canceled => {
                self.set_state(job_id, JobState::Completed, now);
                self.job_response(req, job_id, status::OK)
            }
            Ok(()) => self.job_response(req, job_id, status::OK),
            Err((code, msg)) => {
                self.set_state(job_id, JobState::Aborted, now);
                simple_response(req, code, msg)
            }
        }
    }

    /// Marks a job aborted after it was received (e.g. its format turned out
    /// unrecognisable); Get-Job-Attributes will show it.
    pub fn abort(&mut self, job_id: u32, now: Duration) {
        self.set_state(job_id, JobState::Aborted, now);
    }

    fn create_job(&mut self, req: &IppRequest, owner: u32, now: Duration) -> u32 {
        let id = self.next_job_id;
        self.next_job_id = self.next_job_id.wrapping_add(1).max(1);
        let copies = req
            .attribute(tag::JOB, "copies")
            .and_then(IppAttribute::first)
            .and_then(IppValue::as_i32)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=99).contains(n))
            .unwrap_or(1);
        let job = IppJob {
            id,
            name: req
                .operation_str("job-name")
                .or_else(|| req.operation_str("document-name"))
                .unwrap_or("Untitled")
                .to_owned(),
            user: req
                .operation_str("requesting-user-name")
                .unwrap_or("anonymous")
                .to_owned(),
            owner,
            mime: req
                .operation_str("document-format")
                .unwrap_or("application/octet-stream")
                .to_owned(),
            copies,
            state: JobState::Pending,
            octets: 0,
            created: now,
            finished: None,
        };
        self.jobs.insert(id, job);
        self.forget_old_jobs();
        id
    }

    fn forget_old_jobs(&mut self) {
        let finished: Vec<u32> = self
            .jobs
            .values()
            .filter(|j| j.state.is_finished())
            .map(|j| j.id)
            .collect();
        for id in finished
            .iter()
            .take(finished.len().saturating_sub(KEEP_FINISHED_JOBS))
        {
            self.jobs.remove(id);
        }
    }

    fn set_state(&mut self, id: u32, state: JobState, now: Duration) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.state = state;
            if state.is_finished() {
                job.finished = Some(now);
            }
        }
    }

    fn job_attributes(&self, job: &IppJob) -> Vec<IppAttribute> {
        let secs =
            |d: Duration| IppValue::Integer(i32::try_from(d.as_secs()).unwrap_or(i32::MAX).max(1));
        let mut attrs = vec![
            IppAttribute::new("job-id", vec![IppValue::Integer(job.id as i32)]),
            IppAttribute::new(
                "job-uri",
                vec![IppValue::uri(&format!(
                    "{}/jobs/{}",
                    self.identity.uri, job.id
                ))],
            ),
            IppAttribute::new("job-printer-uri", vec![IppValue::uri(&self.identity.uri)]),
            IppAttribute::new("job-name", vec![IppValue::name(&job.name)]),
            IppAttribute::new("job-originating-user-name", vec![IppValue::name(&job.user)]),
            IppAttribute::new("job-state", vec![IppValue::Enum(job.state as i32)]),
            IppAttribute::new(
                "job-state-reasons",
                vec![IppValue::keyword(job.state.reason())],
            ),
            IppAttribute::new("copies", vec![IppValue::Integer(job.copies as i32)]),
            IppAttribute::new(
                "job-k-octets",
                vec![IppValue::Integer(
                    i32::try_from(job.octets.div_ceil(1024)).unwrap_or(i32::MAX),
                )],
            ),
            IppAttribute::new("time-at-creation", vec![secs(job.created)]),
        ];
        attrs.push(IppAttribute::new(
            "time-at-completed",
            vec![job
                .finished
                .map(secs)
                .unwrap_or(IppValue::OutOfBand(tag::NO_VALUE))],
        ));
        attrs
    }

    fn job_response(&self, req: &IppRequest, id: u32, code: u16) -> Vec<u8> {
        let mut enc = response_start(req, code, "ok");
        if let Some(job) = self.jobs.get(&id) {
            enc.group(tag::JOB);
            let wanted = requested(req);
            for attr in self.job_attributes(job) {
                if wanted.includes(&attr.name) {
                    enc.attribute(&attr);
                }
            }
        }
        enc.finish()
    }

    fn jobs_response(&self, req: &IppRequest, owner: u32) -> Vec<u8> {
        let completed = req.operation_str("which-jobs") == Some("completed");
        let limit = req
            .operation_i32("limit")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(usize::MAX);
        let wanted = requested(req);
        let mut enc = response_start(req, status::OK, "ok");
        let jobs = self
            .jobs
            .values()
            .rev()
            .filter(|j| j.owner == owner && j.state.is_finished() == completed)
            .take(limit);
        for job in jobs {
            enc.group(tag::JOB);
            for attr in self.job_attributes(job) {
                // Without requested-attributes, Get-Jobs returns job-id and job-uri only.
                if wanted.includes_or(&attr.name, &["job-id", "job-uri"]) {
                    enc.attribute(&attr);
                }
            }
        }
        enc.finish()
    }

    fn printer_attributes(&self, req: &IppRequest, now: Duration) -> Vec<u8> {
        let processing = self
            .jobs
            .values()
            .filter(|j| j.state == JobState::Processing)
            .count();
        let queued = self
            .jobs
            .values()
            .filter(|j| !j.state.is_finished())
            .count();
        let attrs =
            super::attributes::printer_attributes(&self.identity, processing > 0, queued, now);
        let wanted = requested(req);
        let mut enc = response_start(req, status::OK, "ok");
        enc.group(tag::PRINTER);
        for attr in &attrs {
            if wanted.includes(&attr.name) {
                enc.attribute(attr);
            }
        }
        enc.finish()
    }
}

/// The `requested-attributes` of a request.
struct Requested(Option<Vec<String>>);

impl Requested {
    fn includes(&self, name: &str) -> bool {
        self.includes_or(name, &[])
    }
    fn includes_or(&self, name: &str, default: &[&str]) -> bool {
        match &self.0 {
            None if default.is_empty() => true,
            None => default.contains(&name),
            Some(list) => list.iter().any(|w| {
                w == name
                    || matches!(
                        w.as_str(),
                        "all" | "printer-description" | "job-template" | "job-description"
                    )
                    || (w == "media-col-database" && name == "media-col-database")
            }),
        }
    }
}

fn requested(req: &IppRequest) -> Requested {
    Requested(
        req.attribute(tag::OPERATION, "requested-attributes")
            .map(|a| {
                a.values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            }),
    )
}

fn job_id_of(req: &IppRequest) -> Option<u32> {
    if let Some(id) = req.operation_i32("job-id") {
        return u32::try_from(id).ok();
    }
    // job-uri: ipp://host:port/ipp/print/jobs/<id>
    req.operation_str("job-uri")
        .and_then(|uri| uri.rsplit('/').next())
        .and_then(|id| id.parse().ok())
}

fn check_document_format(req: &IppRequest) -> Result<(), (u16, &'static str)> {
    match req.operation_str("document-format") {
        Some(mime) if !SUPPORTED_FORMATS.contains(&mime.to_ascii_lowercase().as_str()) => Err((
            status::DOCUMENT_FORMAT_NOT_SUPPORTED,
            "document format not supported",
        )),
        _ => Ok(()),
    }
}

fn check_job_request(req: &IppRequest) -> Result<(), (u16, &'static str)> {
    check_document_format(req)?;
    match req.operation_str("compression") {
        Some(c) if c != "none" => Err((
            status::COMPRESSION_NOT_SUPPORTED,
            "compression not supported",
        )),
        _ => Ok(()),
    }
}

fn response_start(req: &IppRequest, code: u16, message: &str) -> IppEncoder {
    let version = if matches!(req.version.0, 1 | 2) {
        req.version
    } else {
        (2, 0)
    };
    let mut enc = IppEncoder::new(version, code, req.request_id);
    enc.operation_group()
        .single("status-message", IppValue::text(message));
    enc
}

/// A response with only the operation group.
pub fn simple_response(req: &IppRequest, code: u16, message: &str) -> Vec<u8> {
    response_start(req, code, message).finish()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::ipp::codec::{parse_ipp_request, IppEncoder};

    const ALICE: u32 = 1000;
    const MALLORY: u32 = 1001;

    fn printer() -> IppPrinter {
        IppPrinter::new(PrinterIdentity {
            name: "test".into(),
            make_and_model: "test".into(),
            uri: "ipp://127.0.0.1:631/ipp/print".into(),
        })
    }

    fn request(operation: u16, job_id: Option<i32>) -> IppRequest {
        let mut enc = IppEncoder::new((2, 0), operation, 1);
        enc.operation_group().single(
            "printer-uri",
            IppValue::uri("ipp://127.0.0.1:631/ipp/print"),
        );
        if let Some(id) = job_id {
            enc.single("job-id", IppValue::Integer(id));
        }
        enc.single("requesting-user-name", IppValue::name("someone"));
        parse_ipp_request(&enc.finish()).unwrap()
    }

    fn status_of(handled: Handled) -> u16 {
        match handled {
            Handled::Respond(bytes) => parse_ipp_request(&bytes).unwrap().operation,
            Handled::ReceiveDocument { .. } => panic!("unexpected document"),
        }
    }

    fn job_ids(handled: Handled) -> Vec<i32> {
        let Handled::Respond(bytes) = handled else {
            panic!("unexpected document")
        };
        let resp = parse_ipp_request(&bytes).unwrap();
        resp.groups
            .iter()
            .filter(|g| g.tag == tag::JOB)
            .filter_map(|g| g.attributes.iter().find(|a| a.name == "job-id"))
            .filter_map(|a| a.first().and_then(IppValue::as_i32))
            .collect()
    }

    /// SECURITY M9: another local user neither sees nor cancels our jobs.
    #[test]
    fn jobs_belong_to_the_user_that_created_them() {
        let mut p = printer();
        let now = Duration::from_secs(1);
        let created = p.handle(&request(op::CREATE_JOB, None), ALICE, now);
        assert_eq!(status_of(created), status::OK);
        let id = 1;
        assert_eq!(
            job_ids(p.handle(&request(op::GET_JOBS, None), ALICE, now)),
            [id]
        );
        assert!(job_ids(p.handle(&request(op::GET_JOBS, None), MALLORY, now)).is_empty());
        for operation in [op::GET_JOB_ATTRIBUTES, op::CANCEL_JOB] {
            let r = p.handle(&request(operation, Some(id)), MALLORY, now);
            assert_eq!(status_of(r), status::NOT_FOUND, "{operation:#x}");
        }
        assert_eq!(p.job(1).unwrap().state, JobState::Pending);
        let r = p.handle(&request(op::CANCEL_JOB, Some(id)), ALICE, now);
        assert_eq!(status_of(r), status::OK);
    }

    /// SECURITY M9: Create-Job without a document expires, and the table
    /// of open jobs is bounded.
    #[test]
    fn jobs_without_documents_expire_and_the_table_is_bounded() {
        let mut p = printer();
        let t0 = Duration::from_secs(1);
        for _ in 0..MAX_OPEN_JOBS {
            let r = p.handle(&request(op::CREATE_JOB, None), ALICE, t0);
            assert_eq!(status_of(r), status::OK);
        }
        let r = p.handle(&request(op::CREATE_JOB, None), ALICE, t0);
        assert_eq!(status_of(r), status::BUSY);
        assert_eq!(p.job_count(), MAX_OPEN_JOBS);

        let later = t0 + PENDING_JOB_TIMEOUT;
        p.expire(later);
        assert_eq!(p.job(1).unwrap().state, JobState::Aborted);
        let r = p.handle(&request(op::CREATE_JOB, None), ALICE, later);
        assert_eq!(status_of(r), status::OK);
        // Many rounds later the table still holds a bounded number of jobs.
        for round in 2..20u64 {
            let now = t0 + PENDING_JOB_TIMEOUT * round as u32;
            for _ in 0..MAX_OPEN_JOBS {
                let _ = p.handle(&request(op::CREATE_JOB, None), ALICE, now);
            }
        }
        assert!(p.job_count() <= MAX_OPEN_JOBS + KEEP_FINISHED_JOBS);
    }
}
