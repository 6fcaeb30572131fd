//! Who may print: the session mode and the administrator's settings.

use rsupport_proto::ConnectionMode;

/// Whether print jobs may travel in this session, and how large.
///
/// Printing is allowed only when the administrator enabled it *and* the
/// operator controls the customer's machine (control or manage mode). The
/// default denies. Both the customer and the operator side check it, so a
/// relay or a modified peer cannot turn it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintPolicy {
    admin_allows: bool,
    mode: Option<ConnectionMode>,
    max_job_bytes: u64,
    max_active_jobs: usize,
}

impl Default for PrintPolicy {
    fn default() -> Self {
        Self {
            admin_allows: false,
            mode: None,
            max_job_bytes: 512 * 1024 * 1024,
            max_active_jobs: 4,
        }
    }
}

impl PrintPolicy {
    /// The policy for a session in `mode`, with the administrator's switch.
    pub fn new(admin_allows: bool, mode: ConnectionMode) -> Self {
        Self {
            admin_allows,
            mode: Some(mode),
            ..Self::default()
        }
    }

    /// Largest document accepted (default 512 MiB).
    pub fn with_max_job_bytes(mut self, bytes: u64) -> Self {
        self.max_job_bytes = bytes;
        self
    }

    /// Most jobs in flight at once (default 4).
    pub fn with_max_active_jobs(mut self, jobs: usize) -> Self {
        self.max_active_jobs = jobs.max(1);
        self
    }

    /// Whether printing is allowed.
    pub fn allows(&self) -> bool {
        self.admin_allows
            && matches!(
                self.mode,
                Some(ConnectionMode::ControlCustomer | ConnectionMode::ManageCustomer)
            )
    }

    /// Largest document accepted.
    pub fn max_job_bytes(&self) -> u64 {
        self.max_job_bytes
    }

    /// Most jobs in flight at once.
    pub fn max_active_jobs(&self) -> usize {
        self.max_active_jobs
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn only_control_and_manage_modes_with_admin_consent() {
        for &mode in ConnectionMode::ALL {
            let allowed = PrintPolicy::new(true, mode).allows();
            let expected = matches!(
                mode,
                ConnectionMode::ControlCustomer | ConnectionMode::ManageCustomer
            );
            assert_eq!(allowed, expected, "{mode:?}");
            assert!(!PrintPolicy::new(false, mode).allows(), "{mode:?}");
        }
        assert!(!PrintPolicy::default().allows());
    }
}
