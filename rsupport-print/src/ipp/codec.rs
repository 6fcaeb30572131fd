//! Sans-IO IPP/1.1–2.0 message codec (RFC 8010): attribute groups in,
//! attribute groups out.
//!
//! The decoder works on a byte slice, checks every length before it reads or
//! allocates, caps the number of attributes, values and collection depth, and
//! tells a truncated message ([`IppError::Incomplete`], read more and retry)
//! apart from a malformed one. It never panics, whatever the input.

// Peer-controlled input passes through here: no panicking shortcuts.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fmt;

/// Value and delimiter tags used by the printer (RFC 8010 §3.5).
pub mod tag {
    /// operation-attributes-tag.
    pub const OPERATION: u8 = 0x01;
    /// job-attributes-tag.
    pub const JOB: u8 = 0x02;
    /// end-of-attributes-tag.
    pub const END: u8 = 0x03;
    /// printer-attributes-tag.
    pub const PRINTER: u8 = 0x04;
    /// unsupported-attributes-tag.
    pub const UNSUPPORTED_GROUP: u8 = 0x05;
    /// Out-of-band `unsupported`.
    pub const UNSUPPORTED_VALUE: u8 = 0x10;
    /// Out-of-band `unknown`.
    pub const UNKNOWN: u8 = 0x12;
    /// Out-of-band `no-value`.
    pub const NO_VALUE: u8 = 0x13;
    /// integer.
    pub const INTEGER: u8 = 0x21;
    /// boolean.
    pub const BOOLEAN: u8 = 0x22;
    /// enum.
    pub const ENUM: u8 = 0x23;
    /// octetString.
    pub const OCTET_STRING: u8 = 0x30;
    /// dateTime.
    pub const DATE_TIME: u8 = 0x31;
    /// resolution.
    pub const RESOLUTION: u8 = 0x32;
    /// rangeOfInteger.
    pub const RANGE: u8 = 0x33;
    /// begCollection.
    pub const BEGIN_COLLECTION: u8 = 0x34;
    /// endCollection.
    pub const END_COLLECTION: u8 = 0x37;
    /// textWithoutLanguage.
    pub const TEXT: u8 = 0x41;
    /// nameWithoutLanguage.
    pub const NAME: u8 = 0x42;
    /// keyword.
    pub const KEYWORD: u8 = 0x44;
    /// uri.
    pub const URI: u8 = 0x45;
    /// uriScheme.
    pub const URI_SCHEME: u8 = 0x46;
    /// charset.
    pub const CHARSET: u8 = 0x47;
    /// naturalLanguage.
    pub const LANGUAGE: u8 = 0x48;
    /// mimeMediaType.
    pub const MIME: u8 = 0x49;
    /// memberAttrName.
    pub const MEMBER_NAME: u8 = 0x4A;
}

/// Most attribute names plus values (collection members included) one
/// message may carry.
pub const MAX_ATTRIBUTES: usize = 8192;
/// Deepest nesting of collections accepted.
pub const MAX_COLLECTION_DEPTH: usize = 8;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IppError {
    /// The bytes end before the end-of-attributes tag: read more, then retry.
    Incomplete,
    /// The message breaks the encoding rules.
    Malformed(&'static str),
    /// The message exceeds one of this codec's caps.
    TooLarge(&'static str),
}

impl fmt::Display for IppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IppError::Incomplete => f.write_str("IPP message is truncated"),
            IppError::Malformed(why) => write!(f, "malformed IPP message: {why}"),
            IppError::TooLarge(what) => write!(f, "IPP message too large: {what}"),
        }
    }
}

impl std::error::Error for IppError {}

/// One attribute value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IppValue {
    /// integer.
    Integer(i32),
    /// boolean.
    Boolean(bool),
    /// enum.
    Enum(i32),
    /// rangeOfInteger.
    Range(i32, i32),
    /// resolution: cross-feed, feed, units (3 = dots per inch).
    Resolution(i32, i32, u8),
    /// Any string-valued tag (text, name, keyword, uri, charset, mime …),
    /// kept with its tag. Invalid UTF-8 is replaced, not refused.
    Str(u8, String),
    /// Out-of-band value (unsupported, unknown, no-value).
    OutOfBand(u8),
    /// collection: its member attributes.
    Collection(Vec<IppAttribute>),
    /// Any other tag, raw.
    Other(u8, Vec<u8>),
}

impl IppValue {
    /// keyword value.
    pub fn keyword(s: &str) -> Self {
        IppValue::Str(tag::KEYWORD, s.to_owned())
    }
    /// textWithoutLanguage value.
    pub fn text(s: &str) -> Self {
        IppValue::Str(tag::TEXT, s.to_owned())
    }
    /// nameWithoutLanguage value.
    pub fn name(s: &str) -> Self {
        IppValue::Str(tag::NAME, s.to_owned())
    }
    /// uri value.
    pub fn uri(s: &str) -> Self {
        IppValue::Str(tag::URI, s.to_owned())
    }
    /// mimeMediaType value.
    pub fn mime(s: &str) -> Self {
        IppValue::Str(tag::MIME, s.to_owned())
    }
    /// The string when the value is string-valued.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            IppValue::Str(_, s) => Some(s),
            _ => None,
        }
    }
    /// The number when the value is an integer or enum.
    pub fn as_i32(&self) -> Option<i32> {
        match self {
            IppValue::Integer(n) | IppValue::Enum(n) => Some(*n),
            _ => None,
        }
    }
}

/// A named attribute with one or more values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IppAttribute {
    /// Attribute name.
    pub name: String,
    /// Values, at least one.
    pub values: Vec<IppValue>,
}

impl IppAttribute {
    /// An attribute with the given values.
    pub fn new(name: &str, values: Vec<IppValue>) -> Self {
        Self {
            name: name.to_owned(),
            values,
        }
    }
    /// First value.
    pub fn first(&self) -> Option<&IppValue> {
        self.values.first()
    }
}

/// An attribute group: its delimiter tag and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IppGroup {
    /// Delimiter tag ([`tag::OPERATION`], [`tag::JOB`], …).
    pub tag: u8,
    /// Attributes in wire order.
    pub attributes: Vec<IppAttribute>,
}

/// A decoded IPP request (or response: the layout is the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IppRequest {
    /// (major, minor) version.
    pub version: (u8, u8),
    /// operation-id for a request, status-code for a response.
    pub operation: u16,
    /// request-id.
    pub request_id: u32,
    /// Attribute groups in wire order.
    pub groups: Vec<IppGroup>,
    /// Offset of the document data that follows the end-of-attributes tag.
    pub data_offset: usize,
}

impl IppRequest {
    /// First attribute called `name` in a group tagged `group`.
    pub fn attribute(&self, group: u8, name: &str) -> Option<&IppAttribute> {
        self.groups
            .iter()
            .filter(|g| g.tag == group)
            .flat_map(|g| g.attributes.iter())
            .find(|a| a.name == name)
    }
    /// First value of an operation attribute, as a string.
    pub fn operation_str(&self, name: &str) -> Option<&str> {
        self.attribute(tag::OPERATION, name)
            .and_then(IppAttribute::first)
            .and_then(IppValue::as_str)
    }
    /// First value of an operation attribute, as a number.
    pub fn operation_i32(&self, name: &str) -> Option<i32> {
        self.attribute(tag::OPERATION, name)
            .and_then(IppAttribute::first)
            .and_then(IppValue::as_i32)
    }
}

/// Decodes an IPP request from `bytes`: header and attribute groups up to the
/// end-of-attributes tag. Document data (if any) starts at
/// [`IppRequest::data_offset`]. Bounded and panic-free on any input.
pub fn parse_ipp_request(bytes: &[u8]) -> Result<IppRequest, IppError> {
    let mut r = Reader { bytes, pos: 0 };
    let major = r.u8()?;
    let minor = r.u8()?;
    let operation = r.u16()?;
    let request_id = r.u32()?;
    let mut groups: Vec<IppGroup> = Vec::new();
    let mut budget = MAX_ATTRIBUTES;
    loop {
        let t = r.u8()?;
        match t {
            tag::END => break,
            0x00..=0x0F => {
                groups.push(IppGroup {
                    tag: t,
                    attributes: Vec::new(),
                });
            }
            value_tag => {
                let group = groups
                    .last_mut()
                    .ok_or(IppError::Malformed("attribute before any group"))?;
                let name = r.string()?;
                let value = r.value(value_tag, 0, &mut budget)?;
                if name.is_empty() {
                    // An additional value of the previous attribute.
                    let attr = group
                        .attributes
                        .last_mut()
                        .ok_or(IppError::Malformed("additional value without attribute"))?;
                    attr.values.push(value);
                } else {
                    take_budget(&mut budget)?;
                    group.attributes.push(IppAttribute {
                        name,
                        values: vec![value],
                    });
                }
            }
        }
    }
    Ok(IppRequest {
        version: (major, minor),
        operation,
        request_id,
        groups,
        data_offset: r.pos,
    })
}

fn take_budget(budget: &mut usize) -> Result<(), IppError> {
    *budget = budget
        .checked_sub(1)
        .ok_or(IppError::TooLarge("attribute count"))?;
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], IppError> {
        let end = self.pos.checked_add(n).ok_or(IppError::Incomplete)?;
        let out = self.bytes.get(self.pos..end).ok_or(IppError::Incomplete)?;
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, IppError> {
        self.take(1).map(|b| b.first().copied().unwrap_or_default())
    }
    fn u16(&mut self) -> Result<u16, IppError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes(b.try_into().unwrap_or_default()))
    }
    fn u32(&mut self) -> Result<u32, IppError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes(b.try_into().unwrap_or_default()))
    }
    fn sized(&mut self) -> Result<&[u8], IppError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn string(&mut self) -> Result<String, IppError> {
        Ok(String::from_utf8_lossy(self.sized()?).into_owned())
    }

    /// One value with tag `t`; for a collection, also its members up to the
    /// matching endCollection.
    fn value(&mut self, t: u8, depth: usize, budget: &mut usize) -> Result<IppValue, IppError> {
        take_budget(budget)?;
        let raw = self.sized()?;
        let int = |raw: &[u8], at: usize| -> Result<i32, IppError> {
            raw.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_be_bytes)
                .ok_or(IppError::Malformed("short integer value"))
        };
        Ok(match t {
            tag::INTEGER | tag::ENUM => {
                if raw.len() != 4 {
                    return Err(IppError::Malformed("integer is not 4 bytes"));
                }
                let n = int(raw, 0)?;
                if t == tag::INTEGER {
                    IppValue::Integer(n)
                } else {
                    IppValue::Enum(n)
                }
            }
            tag::BOOLEAN => match raw {
                [b] => IppValue::Boolean(*b != 0),
                _ => return Err(IppError::Malformed("boolean is not 1 byte")),
            },
            tag::RANGE => {
                if raw.len() != 8 {
                    return Err(IppError::Malformed("range is not 8 bytes"));
                }
                IppValue::Range(int(raw, 0)?, int(raw, 4)?)
            }
            tag::RESOLUTION => match raw.get(8) {
                Some(units) if raw.len() == 9 => {
                    IppValue::Resolution(int(raw, 0)?, int(raw, 4)?, *units)
                }
                _ => return Err(IppError::Malformed("resolution is not 9 bytes")),
            },
            tag::UNSUPPORTED_VALUE..=0x1F => IppValue::OutOfBand(t),
            0x41..=0x49 | tag::MEMBER_NAME => {
                IppValue::Str(t, String::from_utf8_lossy(raw).into_owned())
            }
            tag::BEGIN_COLLECTION => {
                if depth >= MAX_COLLECTION_DEPTH {
                    return Err(IppError::TooLarge("collection depth"));
                }
                IppValue::Collection(self.collection(depth + 1, budget)?)
            }
            tag::END_COLLECTION => {
                return Err(IppError::Malformed("endCollection outside a collection"))
            }
            other => IppValue::Other(other, raw.to_vec()),
        })
    }

    /// Members of a collection: memberAttrName, then value(s), until
    /// endCollection.
    fn collection(
        &mut self,
        depth: usize,
        budget: &mut usize,
    ) -> Result<Vec<IppAttribute>, IppError> {
        let mut members: Vec<IppAttribute> = Vec::new();
        loop {
            let t = self.u8()?;
            if !self.sized()?.is_empty() {
                // Member records always carry an empty attribute name.
                return Err(IppError::Malformed("collection member record with a name"));
            }
            match t {
                tag::END_COLLECTION => {
                    self.sized()?;
                    return Ok(members);
                }
                tag::MEMBER_NAME => {
                    take_budget(budget)?;
                    let name = String::from_utf8_lossy(self.sized()?).into_owned();
                    members.push(IppAttribute {
                        name,
                        values: Vec::new(),
                    });
                }
                0x00..=0x0F => return Err(IppError::Malformed("group tag inside a collection")),
                value_tag => {
                    let value = self.value(value_tag, depth, budget)?;
                    members
                        .last_mut()
                        .ok_or(IppError::Malformed("member value without member name"))?
                        .values
                        .push(value);
                }
            }
        }
    }
}

/// Builds an IPP message (a response, or a request in tests).
#[derive(Debug, Clone)]
pub struct IppEncoder {
    out: Vec<u8>,
}

impl IppEncoder {
    /// Starts a message with version, operation-id or status-code, and request-id.
    pub fn new(version: (u8, u8), code: u16, request_id: u32) -> Self {
        let mut out = Vec::with_capacity(512);
        out.push(version.0);
        out.push(version.1);
        out.extend_from_slice(&code.to_be_bytes());
        out.extend_from_slice(&request_id.to_be_bytes());
        Self { out }
    }

    /// Starts a group.
    pub fn group(&mut self, group_tag: u8) -> &mut Self {
        self.out.push(group_tag);
        self
    }

    /// Starts the operation-attributes group with the two attributes every
    /// IPP message begins with (RFC 8011 §4.1.4): charset utf-8, language en.
    pub fn operation_group(&mut self) -> &mut Self {
        self.group(tag::OPERATION)
            .single(
                "attributes-charset",
                IppValue::Str(tag::CHARSET, "utf-8".into()),
            )
            .single(
                "attributes-natural-language",
                IppValue::Str(tag::LANGUAGE, "en".into()),
            )
    }

    /// Adds an attribute with all its values.
    pub fn attribute(&mut self, attr: &IppAttribute) -> &mut Self {
        for (i, value) in attr.values.iter().enumerate() {
            let name = if i == 0 { attr.name.as_str() } else { "" };
            self.value(name, value);
        }
        self
    }

    /// Adds an attribute with one value.
    pub fn single(&mut self, name: &str, value: IppValue) -> &mut Self {
        self.value(name, &value);
        self
    }

    /// Ends the attributes and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(tag::END);
        self.out
    }

    fn sized(&mut self, bytes: &[u8]) {
        // Longer values cannot be encoded; our own values never come close,
        // so truncating is only a guard against misuse.
        let n = bytes.len().min(usize::from(u16::MAX));
        self.out.extend_from_slice(&(n as u16).to_be_bytes());
        self.out
            .extend_from_slice(bytes.get(..n).unwrap_or_default());
    }

    fn value(&mut self, name: &str, value: &IppValue) {
        let (t, raw): (u8, Vec<u8>) = match value {
            IppValue::Integer(n) => (tag::INTEGER, n.to_be_bytes().to_vec()),
            IppValue::Enum(n) => (tag::ENUM, n.to_be_bytes().to_vec()),
            IppValue::Boolean(b) => (tag::BOOLEAN, vec![u8::from(*b)]),
            IppValue::Range(a, b) => {
                let mut v = a.to_be_bytes().to_vec();
                v.extend_from_slice(&b.to_be_bytes());
                (tag::RANGE, v)
            }
            IppValue::Resolution(x, y, u) => {
                let mut v = x.to_be_bytes().to_vec();
                v.extend_from_slice(&y.to_be_bytes());
                v.push(*u);
                (tag::RESOLUTION, v)
            }
            IppValue::Str(t, s) => (*t, s.as_bytes().to_vec()),
            IppValue::OutOfBand(t) => (*t, Vec::new()),
            IppValue::Other(t, raw) => (*t, raw.clone()),
            IppValue::Collection(members) => {
                self.out.push(tag::BEGIN_COLLECTION);
                self.sized(name.as_bytes());
                self.sized(&[]);
                for member in members {
                    self.out.push(tag::MEMBER_NAME);
                    self.sized(&[]);
                    self.sized(member.name.as_bytes());
                    for v in &member.values {
                        self.value("", v);
                    }
                }
                self.out.push(tag::END_COLLECTION);
                self.sized(&[]);
                self.sized(&[]);
                return;
            }
        };
        self.out.push(t);
        self.sized(name.as_bytes());
        self.sized(&raw);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Vec<u8> {
        let mut enc = IppEncoder::new((2, 0), 0x0002, 7);
        enc.group(tag::OPERATION)
            .single(
                "attributes-charset",
                IppValue::Str(tag::CHARSET, "utf-8".into()),
            )
            .single("job-name", IppValue::name("請求書"))
            .attribute(&IppAttribute::new(
                "requested-attributes",
                vec![IppValue::keyword("job-id"), IppValue::keyword("job-state")],
            ));
        enc.group(tag::JOB)
            .single("copies", IppValue::Integer(2))
            .single("sides-ok", IppValue::Boolean(true))
            .single("pages", IppValue::Range(1, 5))
            .single("res", IppValue::Resolution(300, 600, 3))
            .single(
                "media-col",
                IppValue::Collection(vec![IppAttribute::new(
                    "media-size",
                    vec![IppValue::Collection(vec![
                        IppAttribute::new("x-dimension", vec![IppValue::Integer(21000)]),
                        IppAttribute::new("y-dimension", vec![IppValue::Integer(29700)]),
                    ])],
                )]),
            );
        let mut bytes = enc.finish();
        bytes.extend_from_slice(b"%PDF-");
        bytes
    }

    #[test]
    fn round_trips_groups_values_and_nested_collections() {
        let bytes = sample();
        let req = parse_ipp_request(&bytes).unwrap();
        assert_eq!((req.version, req.operation, req.request_id), ((2, 0), 2, 7));
        assert_eq!(bytes.get(req.data_offset..), Some(&b"%PDF-"[..]));
        assert_eq!(req.operation_str("job-name"), Some("請求書"));
        assert_eq!(
            req.attribute(tag::OPERATION, "requested-attributes")
                .unwrap()
                .values
                .len(),
            2
        );
        let media = req.attribute(tag::JOB, "media-col").unwrap();
        let IppValue::Collection(members) = &media.values[0] else {
            panic!("collection")
        };
        let IppValue::Collection(size) = &members[0].values[0] else {
            panic!("nested")
        };
        assert_eq!(size[1].values, vec![IppValue::Integer(29700)]);
        // Re-encoding the decoded groups gives the same bytes.
        let mut again = IppEncoder::new(req.version, req.operation, req.request_id);
        for g in &req.groups {
            again.group(g.tag);
            for a in &g.attributes {
                again.attribute(a);
            }
        }
        assert_eq!(again.finish(), bytes[..req.data_offset].to_vec());
    }

    #[test]
    fn every_truncation_is_incomplete_not_malformed() {
        let bytes = sample();
        let end = parse_ipp_request(&bytes).unwrap().data_offset;
        for cut in 0..end {
            assert_eq!(
                parse_ipp_request(&bytes[..cut]),
                Err(IppError::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn rejects_structural_errors_and_deep_nesting() {
        // Attribute before any group.
        let mut bad = vec![
            2,
            0,
            0,
            2,
            0,
            0,
            0,
            1,
            tag::KEYWORD,
            0,
            1,
            b'a',
            0,
            0,
            tag::END,
        ];
        assert!(matches!(
            parse_ipp_request(&bad),
            Err(IppError::Malformed(_))
        ));
        // Integer of the wrong width.
        bad = vec![
            2,
            0,
            0,
            2,
            0,
            0,
            0,
            1,
            tag::OPERATION,
            tag::INTEGER,
            0,
            1,
            b'n',
            0,
            2,
            0,
            1,
            tag::END,
        ];
        assert!(matches!(
            parse_ipp_request(&bad),
            Err(IppError::Malformed(_))
        ));
        // Collections nested deeper than the cap.
        let mut deep = vec![
            2,
            0,
            0,
            2,
            0,
            0,
            0,
            1,
            tag::OPERATION,
            tag::BEGIN_COLLECTION,
            0,
            1,
            b'c',
            0,
            0,
        ];
        for _ in 0..MAX_COLLECTION_DEPTH + 1 {
            deep.extend_from_slice(&[
                tag::MEMBER_NAME,
                0,
                0,
                0,
                1,
                b'm',
                tag::BEGIN_COLLECTION,
                0,
                0,
                0,
                0,
            ]);
        }
        assert_eq!(
            parse_ipp_request(&deep),
            Err(IppError::TooLarge("collection depth"))
        );
    }

    #[test]
    fn attribute_count_is_capped() {
        let mut enc = IppEncoder::new((2, 0), 2, 1);
        enc.group(tag::OPERATION);
        for i in 0..=MAX_ATTRIBUTES / 2 {
            enc.single(&format!("a{i}"), IppValue::Integer(1));
        }
        assert_eq!(
            parse_ipp_request(&enc.finish()),
            Err(IppError::TooLarge("attribute count"))
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_ipp_request(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_requests(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
            let mut bytes = sample();
            for (at, v) in flips {
                let n = bytes.len();
                bytes[at % n] = v;
            }
            if let Ok(req) = parse_ipp_request(&bytes) {
                prop_assert!(req.data_offset <= bytes.len());
            }
        }
    }
}
