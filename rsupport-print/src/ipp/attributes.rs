//! The printer attributes the virtual printer advertises: enough for CUPS to
//! build a driverless (IPP Everywhere) queue with `lpadmin -m everywhere` and
//! for its `ipp` backend to send PDF or PostScript jobs.

use std::time::Duration;

use super::codec::{tag, IppAttribute, IppValue};
use super::op;
use super::printer::{PrinterIdentity, SUPPORTED_FORMATS};

/// A4 and US Letter in hundredths of a millimetre.
const MEDIA: [(&str, i32, i32); 2] = [
    ("iso_a4_210x297mm", 21000, 29700),
    ("na_letter_8.5x11in", 21590, 27940),
];

fn attr(name: &str, values: Vec<IppValue>) -> IppAttribute {
    IppAttribute::new(name, values)
}

fn keywords(list: &[&str]) -> Vec<IppValue> {
    list.iter().map(|k| IppValue::keyword(k)).collect()
}

fn media_col(width: i32, length: i32) -> IppValue {
    let int = |name: &str, n: i32| IppAttribute::new(name, vec![IppValue::Integer(n)]);
    IppValue::Collection(vec![
        IppAttribute::new(
            "media-size",
            vec![IppValue::Collection(vec![
                int("x-dimension", width),
                int("y-dimension", length),
            ])],
        ),
        // Documents arrive as PDF/PostScript already laid out: no margins to
        // impose, the operator's printer applies its own.
        int("media-bottom-margin", 0),
        int("media-left-margin", 0),
        int("media-right-margin", 0),
        int("media-top-margin", 0),
    ])
}

/// Every printer attribute, current as of uptime `now`.
pub fn printer_attributes(
    id: &PrinterIdentity,
    processing: bool,
    queued_jobs: usize,
    now: Duration,
) -> Vec<IppAttribute> {
    let operations = [
        op::PRINT_JOB,
        op::VALIDATE_JOB,
        op::CREATE_JOB,
        op::SEND_DOCUMENT,
        op::CANCEL_JOB,
        op::GET_JOB_ATTRIBUTES,
        op::GET_JOBS,
        op::GET_PRINTER_ATTRIBUTES,
    ];
    let media_names: Vec<&str> = MEDIA.iter().map(|m| m.0).collect();
    vec![
        attr("printer-uri-supported", vec![IppValue::uri(&id.uri)]),
        attr("uri-security-supported", keywords(&["none"])),
        attr("uri-authentication-supported", keywords(&["none"])),
        attr("printer-name", vec![IppValue::name(&id.name)]),
        attr("printer-info", vec![IppValue::text(&id.name)]),
        attr(
            "printer-make-and-model",
            vec![IppValue::text(&id.make_and_model)],
        ),
        attr("printer-location", vec![IppValue::text("rsupport session")]),
        attr(
            "printer-state",
            vec![IppValue::Enum(if processing { 4 } else { 3 })],
        ),
        attr("printer-state-reasons", keywords(&["none"])),
        attr("printer-state-message", vec![IppValue::text("ready")]),
        attr("printer-is-accepting-jobs", vec![IppValue::Boolean(true)]),
        attr(
            "queued-job-count",
            vec![IppValue::Integer(
                i32::try_from(queued_jobs).unwrap_or(i32::MAX),
            )],
        ),
        attr(
            "printer-up-time",
            vec![IppValue::Integer(
                i32::try_from(now.as_secs()).unwrap_or(i32::MAX).max(1),
            )],
        ),
        attr("ipp-versions-supported", keywords(&["1.0", "1.1", "2.0"])),
        attr("ipp-features-supported", keywords(&["ipp-everywhere"])),
        attr(
            "operations-supported",
            operations
                .iter()
                .map(|o| IppValue::Enum(i32::from(*o)))
                .collect(),
        ),
        attr(
            "charset-configured",
            vec![IppValue::Str(tag::CHARSET, "utf-8".into())],
        ),
        attr(
            "charset-supported",
            vec![IppValue::Str(tag::CHARSET, "utf-8".into())],
        ),
        attr(
            "natural-language-configured",
            vec![IppValue::Str(tag::LANGUAGE, "en".into())],
        ),
        attr(
            "generated-natural-language-supported",
            vec![IppValue::Str(tag::LANGUAGE, "en".into())],
        ),
        attr(
            "document-format-supported",
            SUPPORTED_FORMATS
                .iter()
                .map(|f| IppValue::mime(f))
                .collect(),
        ),
        attr(
            "document-format-default",
            vec![IppValue::mime("application/pdf")],
        ),
        attr("pdl-override-supported", keywords(&["attempted"])),
        attr("compression-supported", keywords(&["none"])),
        attr(
            "multiple-document-jobs-supported",
            vec![IppValue::Boolean(false)],
        ),
        attr("multiple-operation-time-out", vec![IppValue::Integer(60)]),
        attr("color-supported", vec![IppValue::Boolean(true)]),
        attr("pages-per-minute", vec![IppValue::Integer(60)]),
        attr("pages-per-minute-color", vec![IppValue::Integer(60)]),
        attr("copies-supported", vec![IppValue::Range(1, 99)]),
        attr("copies-default", vec![IppValue::Integer(1)]),
        attr("finishings-supported", vec![IppValue::Enum(3)]),
        attr("finishings-default", vec![IppValue::Enum(3)]),
        attr(
            "orientation-requested-supported",
            (3..=6).map(IppValue::Enum).collect(),
        ),
        attr("orientation-requested-default", vec![IppValue::Enum(3)]),
        attr(
            "print-quality-supported",
            (3..=5).map(IppValue::Enum).collect(),
        ),
        attr("print-quality-default", vec![IppValue::Enum(4)]),
        attr(
            "print-color-mode-supported",
            keywords(&["color", "monochrome", "auto"]),
        ),
        attr("print-color-mode-default", keywords(&["auto"])),
        attr(
            "sides-supported",
            keywords(&["one-sided", "two-sided-long-edge", "two-sided-short-edge"]),
        ),
        attr("sides-default", keywords(&["one-sided"])),
        attr("output-bin-supported", keywords(&["face-down"])),
        attr("output-bin-default", keywords(&["face-down"])),
        attr(
            "printer-resolution-supported",
            vec![IppValue::Resolution(300, 300, 3)],
        ),
        attr(
            "printer-resolution-default",
            vec![IppValue::Resolution(300, 300, 3)],
        ),
        attr("media-supported", keywords(&media_names)),
        attr("media-ready", keywords(&media_names)),
        attr("media-default", keywords(&media_names[..1])),
        attr(
            "media-col-supported",
            keywords(&[
                "media-size",
                "media-bottom-margin",
                "media-left-margin",
                "media-right-margin",
                "media-top-margin",
            ]),
        ),
        attr(
            "media-col-database",
            MEDIA.iter().map(|m| media_col(m.1, m.2)).collect(),
        ),
        attr(
            "media-col-ready",
            MEDIA.iter().map(|m| media_col(m.1, m.2)).collect(),
        ),
        attr("media-col-default", vec![media_col(MEDIA[0].1, MEDIA[0].2)]),
        attr("media-bottom-margin-supported", vec![IppValue::Integer(0)]),
        attr("media-left-margin-supported", vec![IppValue::Integer(0)]),
        attr("media-right-margin-supported", vec![IppValue::Integer(0)]),
        attr("media-top-margin-supported", vec![IppValue::Integer(0)]),
        attr(
            "job-creation-attributes-supported",
            keywords(&[
                "copies",
                "media",
                "media-col",
                "sides",
                "print-color-mode",
                "print-quality",
            ]),
        ),
        attr(
            "which-jobs-supported",
            keywords(&["completed", "not-completed"]),
        ),
        attr("job-ids-supported", vec![IppValue::Boolean(false)]),
        attr(
            "printer-get-attributes-supported",
            keywords(&["document-format"]),
        ),
    ]
}
