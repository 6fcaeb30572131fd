//! A small IPP/2.0 printer on localhost: the customer's applications print
//! to it through a CUPS queue, and each job comes out as a
//! [`VirtualPrinterJob`](super::VirtualPrinterJob).
//!
//! - [`codec`]: sans-IO encoder/decoder of IPP messages ([`parse_ipp_request`]
//!   is the fuzz entry point).
//! - [`printer`]: operations and the job table, no IO.
//! - [`http`]: the bit of HTTP/1.1 IPP rides on, bounded.
//! - [`server`]: the tokio server that ties them to a socket and a spool dir.

pub(crate) mod attributes;
pub mod codec;
mod guard;
pub mod http;
pub mod printer;
pub mod server;

pub use codec::{parse_ipp_request, IppError, IppRequest};
pub use server::{VirtualPrinter, VirtualPrinterConfig};

/// IPP operation ids (RFC 8011 §5.4.15).
pub mod op {
    /// Print-Job.
    pub const PRINT_JOB: u16 = 0x0002;
    /// Validate-Job.
    pub const VALIDATE_JOB: u16 = 0x0004;
    /// Create-Job.
    pub const CREATE_JOB: u16 = 0x0005;
    /// Send-Document.
    pub const SEND_DOCUMENT: u16 = 0x0006;
    /// Cancel-Job.
    pub const CANCEL_JOB: u16 = 0x0008;
    /// Get-Job-Attributes.
    pub const GET_JOB_ATTRIBUTES: u16 = 0x0009;
    /// Get-Jobs.
    pub const GET_JOBS: u16 = 0x000A;
    /// Get-Printer-Attributes.
    pub const GET_PRINTER_ATTRIBUTES: u16 = 0x000B;
}

/// IPP status codes used by the printer (RFC 8011 §B).
pub mod status {
    /// successful-ok.
    pub const OK: u16 = 0x0000;
    /// client-error-bad-request.
    pub const BAD_REQUEST: u16 = 0x0400;
    /// client-error-not-possible.
    pub const NOT_POSSIBLE: u16 = 0x0404;
    /// client-error-not-found.
    pub const NOT_FOUND: u16 = 0x0406;
    /// client-error-request-entity-too-large.
    pub const TOO_LARGE: u16 = 0x0408;
    /// client-error-document-format-not-supported.
    pub const DOCUMENT_FORMAT_NOT_SUPPORTED: u16 = 0x040A;
    /// client-error-compression-not-supported.
    pub const COMPRESSION_NOT_SUPPORTED: u16 = 0x040F;
    /// client-error-document-format-error.
    pub const DOCUMENT_FORMAT_ERROR: u16 = 0x0411;
    /// server-error-internal-error.
    pub const INTERNAL_ERROR: u16 = 0x0500;
    /// server-error-operation-not-supported.
    pub const OPERATION_NOT_SUPPORTED: u16 = 0x0501;
    /// server-error-busy.
    pub const BUSY: u16 = 0x0507;
    /// server-error-version-not-supported.
    pub const VERSION_NOT_SUPPORTED: u16 = 0x0503;
    /// server-error-multiple-document-jobs-not-supported.
    pub const MULTIPLE_DOCUMENT_JOBS_NOT_SUPPORTED: u16 = 0x0509;
}
