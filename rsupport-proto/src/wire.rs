//! The bridge between domain types and generated prost types, and the field
//! checks every decoder uses. Crate-private: vendors see only domain types.

use bytes::Bytes;
use prost::Message;

use crate::error::DecodeError;

/// A domain type with a prost twin.
pub(crate) trait Wire: Sized {
    /// The generated type.
    type Pb: Message + Default;
    /// Domain → generated (infallible: domain values are valid by construction).
    fn to_pb(&self) -> Self::Pb;
    /// Generated → domain, checking every rule the schema cannot express.
    fn from_pb(pb: Self::Pb) -> Result<Self, DecodeError>;
}

/// Encodes a domain value to protobuf bytes.
pub(crate) fn encode<T: Wire>(value: &T) -> Bytes {
    Bytes::from(value.to_pb().encode_to_vec())
}

/// As [`encode`], with `room` spare bytes of capacity after the encoding,
/// so that a caller appending that much (a seal's tag) does not copy it.
pub(crate) fn encode_with_room<T: Wire>(value: &T, room: usize) -> Bytes {
    let pb = value.to_pb();
    let mut out = Vec::with_capacity(pb.encoded_len() + room);
    pb.encode_raw(&mut out);
    Bytes::from(out)
}

/// Decodes protobuf bytes into a domain value. `bytes` fields slice `buf`
/// rather than copy it. The caller has already bounded `buf` (frame caps), and
/// prost allocates no more than the input holds, so this is bounded too.
pub(crate) fn decode<T: Wire>(buf: Bytes) -> Result<T, DecodeError> {
    let pb = T::Pb::decode(buf)?;
    T::from_pb(pb)
}

/// Rejects a string longer than `max` bytes.
pub(crate) fn check_str(field: &'static str, s: &str, max: usize) -> Result<(), DecodeError> {
    check_len(field, s.len(), max)
}

/// Rejects a byte field longer than `max`.
pub(crate) fn check_bytes(field: &'static str, b: &[u8], max: usize) -> Result<(), DecodeError> {
    check_len(field, b.len(), max)
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        Err(DecodeError::TooLong { field, len, max })
    } else {
        Ok(())
    }
}

/// Rejects a repeated field with more than `max` elements.
pub(crate) fn check_count<T>(
    field: &'static str,
    items: &[T],
    max: usize,
) -> Result<(), DecodeError> {
    if items.len() > max {
        Err(DecodeError::TooMany {
            field,
            count: items.len(),
            max,
        })
    } else {
        Ok(())
    }
}

/// Unwraps a required sub-message.
pub(crate) fn required<T>(field: &'static str, value: Option<T>) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::MissingField(field))
}

/// Converts every element of a repeated field.
pub(crate) fn from_pb_vec<T: Wire>(items: Vec<T::Pb>) -> Result<Vec<T>, DecodeError> {
    items.into_iter().map(T::from_pb).collect()
}

/// Defines a public domain enum mirroring a generated proto enum, without its
/// `UNSPECIFIED` value, plus the conversions:
/// - `to_wire(self) -> i32`
/// - `from_wire(field, i32)`: unspecified → `MissingField`, unknown → `InvalidEnum`
/// - `from_wire_opt(field, i32)`: unspecified → `None`
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident => $pb:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $pbv:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            #[allow(dead_code)]
            pub(crate) fn to_wire(self) -> i32 {
                match self {
                    $( $name::$variant => crate::pb::$pb::$pbv as i32, )+
                }
            }

            #[allow(dead_code)]
            pub(crate) fn from_wire(
                field: &'static str,
                value: i32,
            ) -> Result<Self, crate::error::DecodeError> {
                Self::from_wire_opt(field, value)?
                    .ok_or(crate::error::DecodeError::MissingField(field))
            }

            #[allow(dead_code)]
            pub(crate) fn from_wire_opt(
                field: &'static str,
                value: i32,
            ) -> Result<Option<Self>, crate::error::DecodeError> {
                match crate::pb::$pb::try_from(value) {
                    Ok(crate::pb::$pb::Unspecified) => Ok(None),
                    $( Ok(crate::pb::$pb::$pbv) => Ok(Some($name::$variant)), )+
                    Err(_) => Err(crate::error::DecodeError::InvalidEnum { field, value }),
                }
            }
        }
    };
}
pub(crate) use wire_enum;

/// Proptest strategies shared by the channel modules' round-trip tests.
#[cfg(test)]
pub(crate) mod strategies {
    use bytes::Bytes;
    use proptest::prelude::*;

    /// A string of at most `max` characters (multi-byte characters included).
    pub(crate) fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..=max).prop_map(|c| c.into_iter().collect())
    }

    /// Bytes of at most `max` length.
    pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
    }

    /// Any value of a `wire_enum!` type.
    pub(crate) fn one_of<T: Copy + std::fmt::Debug + 'static>(
        all: &'static [T],
    ) -> impl Strategy<Value = T> {
        proptest::sample::select(all)
    }

    /// Asserts that a value survives encode → decode unchanged.
    pub(crate) fn assert_round_trip<T>(value: &T)
    where
        T: super::Wire + PartialEq + std::fmt::Debug,
    {
        let bytes = super::encode(value);
        let back: T = super::decode(bytes).expect("a valid value decodes");
        assert_eq!(&back, value);
    }
}
