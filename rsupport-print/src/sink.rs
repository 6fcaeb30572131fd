//! Where a received job goes on the operator's machine: a CUPS queue, or a
//! file in a directory when no printer is chosen. Other platforms plug in
//! their own [`PrintSink`].

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rsupport_core::print::SinkOutcome;
use rsupport_proto::print::{DocumentFormat, PrintOutcome, PrintStage};
use tokio::process::Command;

use super::document::extension_of;
use super::registration::{is_safe_queue_name, run};
use super::BoxFuture;

/// A verified document ready for the operator's printer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkJob {
    /// Title (from the customer's application).
    pub title: String,
    /// Format.
    pub format: DocumentFormat,
    /// The received document.
    pub path: PathBuf,
    /// Copies asked for.
    pub copies: u32,
}

impl SinkJob {
    /// A job for the document at `path`.
    pub fn new(
        title: impl Into<String>,
        format: DocumentFormat,
        path: impl Into<PathBuf>,
        copies: u32,
    ) -> Self {
        Self {
            title: title.into(),
            format,
            path: path.into(),
            copies: copies.max(1),
        }
    }
}

/// Progress callback a sink calls with each stage it reaches.
pub type StageCallback<'a> = &'a (dyn Fn(PrintStage) + Send + Sync);

/// Prints or stores a received job on the operator's machine.
pub trait PrintSink: Send + Sync {
    /// Delivers `job`, calling `stage` as it progresses. Dropping the future
    /// cancels the delivery where the sink can.
    fn deliver<'a>(
        &'a self,
        job: &'a SinkJob,
        stage: StageCallback<'a>,
    ) -> BoxFuture<'a, SinkOutcome>;
}

/// Prints to a CUPS queue with `lp`, then follows the job with `lpstat`
/// until CUPS reports it completed, aborted or cancelled.
#[derive(Debug, Clone)]
pub struct CupsQueueSink {
    queue: String,
    poll_every: Duration,
    give_up_after: Duration,
}

impl CupsQueueSink {
    /// A sink printing to `queue`.
    pub fn new(queue: &str) -> io::Result<Self> {
        if !is_safe_queue_name(queue) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unsafe CUPS queue name",
            ));
        }
        Ok(Self {
            queue: queue.to_owned(),
            poll_every: Duration::from_millis(200),
            give_up_after: Duration::from_secs(600),
        })
    }

    /// How long to follow a job before reporting failure (default 10 min).
    pub fn give_up_after(mut self, limit: Duration) -> Self {
        self.give_up_after = limit;
        self
    }

    async fn print(&self, job: &SinkJob, stage: StageCallback<'_>) -> SinkOutcome {
        let copies = job.copies.clamp(1, 99).to_string();
        let submitted = run(Command::new("lp")
            .args(["-d", &self.queue, "-t", &job.title, "-n", &copies, "--"])
            .arg(&job.path))
        .await;
        let request = match submitted.as_deref().map(parse_request_id) {
            Ok(Some(id)) => id,
            Ok(None) => return SinkOutcome::failed(&self.queue, "lp printed no job id"),
            Err(e) => return SinkOutcome::failed(&self.queue, e.to_string()),
        };
        let mut guard = CancelOnDrop(Some(request.clone()));
        stage(PrintStage::Queued);
        let started = Instant::now();
        let mut printing = false;
        loop {
            match self.poll(&request).await {
                Ok(Poll::Pending {
                    printing: now_printing,
                }) => {
                    if now_printing && !printing {
                        printing = true;
                        stage(PrintStage::Printing);
                    }
                }
                Ok(Poll::QueueDisabled(status)) => {
                    return SinkOutcome::failed(&self.queue, format!("printer stopped: {status}"));
                }
                Ok(Poll::Done(outcome)) => {
                    guard.0 = None;
                    return outcome;
                }
                Err(e) => return SinkOutcome::failed(&self.queue, e.to_string()),
            }
            if started.elapsed() > self.give_up_after {
                return SinkOutcome::failed(
                    &self.queue,
                    "the printer did not finish the job in time",
                );
            }
            tokio::time::sleep(self.poll_every).await;
        }
    }

    async fn poll(&self, request: &str) -> io::Result<Poll> {
        let pending = run(Command::new("lpstat").args(["-o", &self.queue])).await?;
        if pending.lines().any(|l| first_word(l) == request) {
            let printer = run(Command::new("lpstat").args(["-p", &self.queue])).await?;
            if printer.contains("disabled") {
                let status = printer.lines().map(str::trim).collect::<Vec<_>>().join(" ");
                return Ok(Poll::QueueDisabled(status));
            }
            return Ok(Poll::Pending {
                printing: printer.contains(request),
            });
        }
        let done =
            run(Command::new("lpstat").args(["-W", "completed", "-l", "-o", &self.queue])).await?;
        Ok(Poll::Done(completed_outcome(&self.queue, request, &done)))
    }
}

impl PrintSink for CupsQueueSink {
    fn deliver<'a>(
        &'a self,
        job: &'a SinkJob,
        stage: StageCallback<'a>,
    ) -> BoxFuture<'a, SinkOutcome> {
        Box::pin(self.print(job, stage))
    }
}

enum Poll {
    Pending { printing: bool },
    QueueDisabled(String),
    Done(SinkOutcome),
}

/// Cancels the CUPS job if delivery is abandoned (the future was dropped
/// because the customer cancelled).
struct CancelOnDrop(Option<String>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.0.take() {
            let _ = std::process::Command::new("cancel")
                .arg(&id)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

/// The job id in `lp`'s "request id is QUEUE-42 (1 file(s))".
fn parse_request_id(stdout: &str) -> Option<String> {
    let rest = stdout.split("request id is ").nth(1)?;
    let id = first_word(rest);
    (!id.is_empty()).then(|| id.to_owned())
}

/// Reads the outcome of a finished job from `lpstat -W completed -l`: the
/// job's "Alerts:" line carries its job-state-reasons.
fn completed_outcome(queue: &str, request: &str, listing: &str) -> SinkOutcome {
    let mut lines = listing.lines().skip_while(|l| first_word(l) != request);
    if lines.next().is_none() {
        // No history kept (PreserveJobHistory off): the job left the queue
        // without CUPS recording a failure we could see.
        return SinkOutcome {
            outcome: PrintOutcome::Printed,
            destination: queue.to_owned(),
            detail: "job left the queue (no job history kept)".into(),
        };
    }
    let alerts = lines
        .take_while(|l| l.starts_with(char::is_whitespace))
        .find_map(|l| l.trim().strip_prefix("Alerts:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let outcome = if alerts.contains("canceled") {
        PrintOutcome::Cancelled
    } else if alerts.contains("aborted") || alerts.contains("error") || alerts.contains("stopped") {
        PrintOutcome::Failed
    } else {
        PrintOutcome::Printed
    };
    SinkOutcome {
        outcome,
        destination: queue.to_owned(),
        detail: if alerts.is_empty() {
            "completed".into()
        } else {
            alerts
        },
    }
}

/// Saves jobs as files in a directory (the operator chose no printer).
#[derive(Debug, Clone)]
pub struct SaveToDirectory {
    dir: PathBuf,
}

impl SaveToDirectory {
    /// Saves into `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    async fn save(&self, job: &SinkJob) -> io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.dir).await?;
        let stem = safe_stem(&job.title);
        let ext = extension_of(job.format);
        for n in 1..1000u32 {
            let name = if n == 1 {
                format!("{stem}.{ext}")
            } else {
                format!("{stem} ({n}).{ext}")
            };
            let path = self.dir.join(name);
            // create_new: never overwrite an earlier job or follow a planted link.
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(mut out) => {
                    let mut input = tokio::fs::File::open(&job.path).await?;
                    let copied = tokio::io::copy(&mut input, &mut out).await;
                    if let Err(e) = copied.and(out.sync_all().await) {
                        let _ = tokio::fs::remove_file(&path).await;
                        return Err(e);
                    }
                    return Ok(path);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many files with this name",
        ))
    }
}

impl PrintSink for SaveToDirectory {
    fn deliver<'a>(
        &'a self,
        job: &'a SinkJob,
        stage: StageCallback<'a>,
    ) -> BoxFuture<'a, SinkOutcome> {
        Box::pin(async move {
            stage(PrintStage::Queued);
            match self.save(job).await {
                Ok(path) => SinkOutcome {
                    outcome: PrintOutcome::Saved,
                    destination: path.display().to_string(),
                    detail: "saved".into(),
                },
                Err(e) => SinkOutcome::failed(
                    &self.dir.display().to_string(),
                    format!("could not save: {e}"),
                ),
            }
        })
    }
}

/// A file name stem from an untrusted title: letters, digits, space, `-`,
/// `_` and `.` only, no leading dot, at most 80 bytes, never empty.
pub(crate) fn safe_stem(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut stem = truncate_at_char(trimmed, 80);
    // A title ending in ".pdf" would give "x.pdf.pdf": drop the extension.
    for ext in [".pdf", ".ps"] {
        if stem.to_ascii_lowercase().ends_with(ext) && stem.len() > ext.len() {
            stem.truncate(stem.len() - ext.len());
        }
    }
    if stem.trim().is_empty() {
        "print-job".into()
    } else {
        stem
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn truncate_at_char(text: &str, max: usize) -> String {
    let end = (0..=text.len().min(max))
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_safe() {
        assert_eq!(safe_stem("Quarterly report.pdf"), "Quarterly report");
        assert_eq!(safe_stem("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_stem("..."), "print-job");
        assert_eq!(safe_stem(""), "print-job");
        assert_eq!(safe_stem("請求書"), "請求書");
        assert!(safe_stem(&"x".repeat(500)).len() <= 80);
        assert!(!safe_stem("a/b\\c:d\0e").contains(['/', '\\', ':', '\0']));
    }

    #[test]
    fn reads_lp_and_lpstat_output() {
        assert_eq!(
            parse_request_id("request id is pdf-42 (1 file(s))\n").as_deref(),
            Some("pdf-42")
        );
        assert_eq!(parse_request_id("nothing"), None);
        let listing = "pdf-41   root  1024   Sat\n\tStatus:\n\tAlerts: job-canceled-by-user\n\
                       pdf-42   root  1024   Sat\n\tStatus:\n\tAlerts: processing-to-stop-point\n\tqueued for pdf\n\
                       pdf-43   root  1024   Sat\n\tAlerts: aborted-by-system\n";
        assert_eq!(
            completed_outcome("pdf", "pdf-42", listing).outcome,
            PrintOutcome::Printed
        );
        assert_eq!(
            completed_outcome("pdf", "pdf-41", listing).outcome,
            PrintOutcome::Cancelled
        );
        assert_eq!(
            completed_outcome("pdf", "pdf-43", listing).outcome,
            PrintOutcome::Failed
        );
    }
}
