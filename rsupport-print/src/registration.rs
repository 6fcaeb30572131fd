//! Making the virtual printer visible to the customer's applications.

use std::io;
use std::process::Stdio;

use tokio::process::Command;

use super::BoxFuture;

/// Installs a virtual printer where the operating system's print dialogs
/// find it, and removes it again. The Linux reference is [`CupsRegistration`].
pub trait PrinterRegistration: Send {
    /// The name applications see.
    fn queue_name(&self) -> &str;
    /// Removes the printer. Idempotent.
    fn uninstall(&mut self) -> BoxFuture<'_, io::Result<()>>;
}

/// A CUPS queue pointing at the virtual printer, created with
/// `lpadmin -p <name> -E -v <uri> -m everywhere` (a driverless queue built
/// from the printer's own IPP attributes). Removed with `lpadmin -x` by
/// [`PrinterRegistration::uninstall`] or, failing that, on drop.
#[derive(Debug)]
pub struct CupsRegistration {
    queue: String,
    installed: bool,
}

impl CupsRegistration {
    /// Creates (or replaces) queue `queue` for the printer at `uri`. The
    /// printer must already answer at `uri`: CUPS asks it for its attributes.
    pub async fn install(queue: &str, uri: &str) -> io::Result<Self> {
        if !is_safe_queue_name(queue) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "queue names are 1-127 of A-Z a-z 0-9 _ - .",
            ));
        }
        run(Command::new("lpadmin").args([
            "-p",
            queue,
            "-E",
            "-v",
            uri,
            "-m",
            "everywhere",
            // If the virtual printer is gone, fail that job rather than
            // stopping the queue for every later job.
            "-o",
            "printer-error-policy=abort-job",
            "-o",
            "printer-is-shared=false",
        ]))
        .await?;
        Ok(Self {
            queue: queue.to_owned(),
            installed: true,
        })
    }
}

impl PrinterRegistration for CupsRegistration {
    fn queue_name(&self) -> &str {
        &self.queue
    }

    fn uninstall(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            if self.installed {
                run(Command::new("lpadmin").args(["-x", &self.queue])).await?;
                self.installed = false;
            }
            Ok(())
        })
    }
}

impl Drop for CupsRegistration {
    fn drop(&mut self) {
        if self.installed {
            // Last resort; prefer `uninstall().await`, which does not block.
            let _ = std::process::Command::new("lpadmin")
                .args(["-x", &self.queue])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Queue names CUPS and shells both handle without quoting surprises.
pub(crate) fn is_safe_queue_name(name: &str) -> bool {
    (1..=127).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Runs a CUPS command; a non-zero exit becomes an error carrying its stderr.
pub(crate) async fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd.stdin(Stdio::null()).kill_on_drop(true).output().await?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(io::Error::other(format!(
            "{} failed ({}): {}",
            cmd.as_std().get_program().to_string_lossy(),
            out.status,
            stderr.trim()
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_restricted() {
        assert!(is_safe_queue_name("rsupport-remote_1.0"));
        for bad in ["", "a b", "a/b", "x;rm", "q#", &"a".repeat(128)] {
            assert!(!is_safe_queue_name(bad), "{bad:?}");
        }
    }
}
