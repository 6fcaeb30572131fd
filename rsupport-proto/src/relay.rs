//! STUB — relay-control domain types, replaced by the relay's owner.
