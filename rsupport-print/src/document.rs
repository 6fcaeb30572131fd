//! What a print document is: its format (from the MIME type or its first
//! bytes) and its page count, found while the bytes stream past.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use rsupport_proto::print::DocumentFormat;

/// Format named by a MIME type; `None` for `application/octet-stream` and
/// anything else that has to be sniffed.
pub fn format_from_mime(mime: &str) -> Option<DocumentFormat> {
    match mime.trim().to_ascii_lowercase().as_str() {
        "application/pdf" => Some(DocumentFormat::Pdf),
        "application/postscript" => Some(DocumentFormat::PostScript),
        _ => None,
    }
}

/// Format recognised from the first bytes of a document.
pub fn sniff_format(head: &[u8]) -> Option<DocumentFormat> {
    // A PDF may be preceded by a little junk (PJL, BOM); readers accept the
    // header within the first 1024 bytes.
    let window = head.get(..head.len().min(1024)).unwrap_or(head);
    if find(window, b"%PDF-").is_some() {
        Some(DocumentFormat::Pdf)
    } else if head.starts_with(b"%!") || head.starts_with(b"\x04%!") {
        Some(DocumentFormat::PostScript)
    } else {
        None
    }
}

/// MIME type of a format.
pub fn mime_of(format: DocumentFormat) -> &'static str {
    match format {
        DocumentFormat::PostScript => "application/postscript",
        _ => "application/pdf",
    }
}

/// File name extension of a format.
pub fn extension_of(format: DocumentFormat) -> &'static str {
    match format {
        DocumentFormat::PostScript => "ps",
        _ => "pdf",
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bytes kept between chunks so a marker split across two chunks is still
/// seen; longer than the longest marker we match.
const CARRY: usize = 96;

/// Counts pages while a document streams past, without holding it.
///
/// PDF: `/Type /Page` dictionary entries (not `/Pages`). Page objects inside
/// compressed object streams are invisible to this count, so it can report
/// `None` (unknown) for such files. PostScript: the DSC `%%Pages: N` comment
/// (the last numeric one wins, so `(atend)` headers work), else the number of
/// `%%Page:` comments.
#[derive(Debug, Clone, Default)]
pub struct PageCounter {
    carry: Vec<u8>,
    pdf_pages: u32,
    ps_page_comments: u32,
    ps_pages_header: Option<u32>,
}

impl PageCounter {
    /// A counter with nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the document.
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(chunk);
        let scan_until = buf.len().saturating_sub(CARRY);
        self.scan(&buf, scan_until);
        self.carry = buf.get(scan_until..).unwrap_or_default().to_vec();
    }

    /// Pages of the document fed so far, if it was countable.
    pub fn finish(mut self, format: DocumentFormat) -> Option<u32> {
        let tail = std::mem::take(&mut self.carry);
        self.scan(&tail, tail.len());
        let pages = match format {
            DocumentFormat::PostScript => self
                .ps_pages_header
                .or(Some(self.ps_page_comments).filter(|n| *n > 0)),
            _ => Some(self.pdf_pages),
        };
        pages.filter(|n| *n > 0)
    }

    /// Looks for markers starting at positions `0..until` of `buf`.
    fn scan(&mut self, buf: &[u8], until: usize) {
        let head = buf.get(..until).unwrap_or(buf);
        // Only '/' and '%' can start a marker: skip everything else quickly.
        for (i, b) in head
            .iter()
            .enumerate()
            .filter(|(_, b)| matches!(b, b'/' | b'%'))
        {
            let rest = buf.get(i..).unwrap_or_default();
            if *b == b'/' {
                if is_pdf_page_entry(rest) {
                    self.pdf_pages = self.pdf_pages.saturating_add(1);
                }
            } else if line_start(buf, i) {
                self.ps_comment(rest);
            }
        }
    }

    fn ps_comment(&mut self, rest: &[u8]) {
        if let Some(value) = rest.strip_prefix(b"%%Pages:") {
            let digits: Vec<u8> = value
                .iter()
                .skip_while(|b| **b == b' ' || **b == b'\t')
                .take_while(|b| b.is_ascii_digit())
                .take(9)
                .copied()
                .collect();
            if let Some(n) = std::str::from_utf8(&digits)
                .ok()
                .and_then(|s| s.parse().ok())
            {
                self.ps_pages_header = Some(n);
            }
        } else if rest.starts_with(b"%%Page:") {
            self.ps_page_comments = self.ps_page_comments.saturating_add(1);
        }
    }
}

fn line_start(buf: &[u8], i: usize) -> bool {
    i == 0 || matches!(buf.get(i - 1), Some(b'\n' | b'\r'))
}

/// `/Type` + optional whitespace + `/Page` not followed by a name character.
fn is_pdf_page_entry(rest: &[u8]) -> bool {
    let Some(after) = rest.strip_prefix(b"/Type") else {
        return false;
    };
    let ws = after
        .iter()
        .take(32)
        .take_while(|b| b" \t\r\n\x0c\0".contains(b))
        .count();
    let Some(after) = after.get(ws..).and_then(|a| a.strip_prefix(b"/Page")) else {
        return false;
    };
    // `/Pages` and e.g. `/PageLabel` are other things; a delimiter ends the name.
    !matches!(after.first(), Some(c) if c.is_ascii_alphanumeric() || *c == b'_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn count(doc: &[u8], format: DocumentFormat, chunk: usize) -> Option<u32> {
        let mut c = PageCounter::new();
        for part in doc.chunks(chunk) {
            c.feed(part);
        }
        c.finish(format)
    }

    #[test]
    fn counts_pdf_pages_across_chunk_boundaries() {
        let doc = b"%PDF-1.4\n1 0 obj<</Type /Pages /Count 3>>endobj\n\
            2 0 obj<</Type /Page>>endobj 3 0 obj<</Type/Page/Parent 1 0 R>>endobj\n\
            4 0 obj<</Type\n/Page >>endobj 5 0 obj<</Type /PageLabel>>endobj";
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                count(doc, DocumentFormat::Pdf, chunk),
                Some(3),
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn postscript_pages_from_dsc_comments() {
        let atend = b"%!PS-Adobe-3.0\n%%Pages: (atend)\n%%Page: 1 1\nshowpage\n%%Page: 2 2\n%%Trailer\n%%Pages: 2\n";
        assert_eq!(count(atend, DocumentFormat::PostScript, 5), Some(2));
        let no_header = b"%!PS\n%%Page: 1 1\n%%Page: 2 2\n%%Page: 3 3\n";
        assert_eq!(count(no_header, DocumentFormat::PostScript, 3), Some(3));
        assert_eq!(
            count(b"%!PS\nshowpage\n", DocumentFormat::PostScript, 3),
            None
        );
    }

    #[test]
    fn sniffs_formats() {
        assert_eq!(sniff_format(b"%PDF-1.7\n"), Some(DocumentFormat::Pdf));
        assert_eq!(
            sniff_format(b"\x1b%-12345X@PJL\n%PDF-1.4"),
            Some(DocumentFormat::Pdf)
        );
        assert_eq!(
            sniff_format(b"%!PS-Adobe-3.0"),
            Some(DocumentFormat::PostScript)
        );
        assert_eq!(sniff_format(b"GIF89a"), None);
        assert_eq!(
            format_from_mime("application/PDF"),
            Some(DocumentFormat::Pdf)
        );
        assert_eq!(format_from_mime("application/octet-stream"), None);
    }
}
