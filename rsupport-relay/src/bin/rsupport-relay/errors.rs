//! How the program tells a person that something failed.
//!
//! Every failure becomes a [`CliError`]: one sentence naming what happened
//! and where (file, address, account, setting), plus, where there is one, a
//! hint saying what to do next. `main` prints it with `Display` as
//! `error: …`; no `Debug` dump of an internal type ever reaches the user.
//! Output goes through [`eprint_line`] and [`Out`] so a closed pipe (a log
//! collector gone, `| head`) ends the program quietly instead of panicking.

use std::fmt;
use std::io::Write;

/// A failure, written for the person at the terminal.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
}

impl CliError {
    /// What happened, and where.
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hint: None,
        }
    }

    /// What to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  {hint}")?;
        }
        Ok(())
    }
}

/// Adds what was being done to a lower-level error's `Display`.
pub trait Context<T> {
    /// `Err(e)` becomes "`what`: `e`".
    fn context(self, what: impl FnOnce() -> String) -> Result<T, CliError>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, CliError> {
        self.map_err(|e| CliError::new(format!("{}: {e}", what())))
    }
}

/// Writes one line to stderr, ignoring a closed stderr.
pub fn eprint_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Standard error for the log: a write that fails (the log collector went
/// away) is dropped, so the relay keeps serving instead of panicking.
pub struct QuietStderr;

impl Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Standard output for results (account lists, audit rows). A closed pipe
/// is not an error worth a message: the reader has seen what it wanted.
pub struct Out(std::io::StdoutLock<'static>);

impl Out {
    /// Locks stdout.
    pub fn new() -> Self {
        Out(std::io::stdout().lock())
    }

    /// Writes one line.
    pub fn line(&mut self, line: &str) -> Result<(), CliError> {
        writeln!(self.0, "{line}").map_err(write_error)
    }

    /// The writer, for the audit exporters.
    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.0
    }

    /// Flushes.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.0.flush().map_err(write_error)
    }
}

/// A failed write to stdout; a closed pipe ends the program quietly.
pub fn write_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    CliError::new(format!("cannot write to standard output: {e}"))
}

/// `ms` since the Unix epoch as "2026-11-27 14:05 UTC" (no time-zone
/// database needed; the relay and its admins may be in different zones).
pub fn utc_time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02} UTC")
}

/// A duration in ms as "20 min", "45 s" or "2 h 5 min".
pub fn duration(ms: u64) -> String {
    let secs = ms.div_ceil(1000);
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_matches_known_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 13:37:00 UTC, a leap day.
        assert_eq!(utc_time(1_709_213_820_000), "2024-02-29 13:37 UTC");
        assert_eq!(utc_time(1_796_420_078_939), "2026-12-04 21:34 UTC");
    }

    #[test]
    fn hint_goes_on_its_own_line() {
        let e = CliError::new("locked").hint("ask an admin");
        assert_eq!(e.to_string(), "locked\n  ask an admin");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(20 * 60_000), "20 min");
        assert_eq!(duration(2 * 3_600_000 + 5 * 60_000), "2 h 5 min");
    }
}
