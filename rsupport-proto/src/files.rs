//! File channel: offers, consent, chunked transfer with resume points and
//! end-to-end SHA-256 checks.
//!
//! Paths in offers are the sender's claim and are only length-checked here;
//! the receiving side validates them against its destination before writing.

use bytes::Bytes;

use crate::error::DecodeError;
use crate::limits::{MAX_CHUNK, MAX_FILE_ENTRIES, MAX_NOTE, MAX_PATH, SHA256_LEN};
use crate::pb::{self, file_message::Body};
use crate::wire::{check_bytes, check_count, check_str, required, Wire};

/// A SHA-256 digest.
pub type Sha256Digest = [u8; SHA256_LEN];

/// One file-transfer message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileMessage {
    /// Sender offers files and folders.
    Offer(FileOffer),
    /// Receiver accepts or declines an offer.
    Answer {
        /// The offer answered.
        transfer_id: u64,
        /// Whether it is accepted.
        accept: bool,
        /// Why declined (shown to the sender).
        reason: String,
    },
    /// Receiver asks for an entry's data from `offset` (0 = start; more = resume).
    Resume {
        /// Transfer.
        transfer_id: u64,
        /// Entry index in the offer.
        entry: u32,
        /// First byte wanted.
        offset: u64,
    },
    /// A piece of an entry.
    Chunk(FileChunk),
    /// All of an entry's data was sent; here is its checksum.
    EntryDone {
        /// Transfer.
        transfer_id: u64,
        /// Entry index.
        entry: u32,
        /// SHA-256 of the whole entry.
        sha256: Sha256Digest,
    },
    /// Receiver's verdict on an entry.
    EntryResult {
        /// Transfer.
        transfer_id: u64,
        /// Entry index.
        entry: u32,
        /// `None` when verified and in place; the error otherwise.
        error: Option<String>,
    },
    /// Receiver has durably written an entry up to `offset`.
    Ack {
        /// Transfer.
        transfer_id: u64,
        /// Entry index.
        entry: u32,
        /// Bytes written.
        offset: u64,
    },
    /// Stop a transfer.
    Cancel {
        /// Transfer.
        transfer_id: u64,
        /// Why (shown to the peer).
        reason: String,
    },
}

/// Offer of one or more files and folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    /// Sender-chosen transfer id.
    pub transfer_id: u64,
    /// Files and folders, indexed 0..n in order.
    pub entries: Vec<FileEntry>,
}

impl FileOffer {
    /// Sum of the entries' sizes (saturating).
    pub fn total_size(&self) -> u64 {
        self.entries
            .iter()
            .fold(0u64, |sum, e| sum.saturating_add(e.size))
    }
}

/// One file or folder in an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path with `/` separators, as claimed by the sender.
    pub path: String,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Whether this is a folder.
    pub directory: bool,
    /// Modification time, ms since the Unix epoch (0 = unknown).
    pub modified_ms: u64,
}

/// A piece of an entry's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChunk {
    /// Transfer.
    pub transfer_id: u64,
    /// Entry index.
    pub entry: u32,
    /// Offset of the first byte.
    pub offset: u64,
    /// At most [`MAX_CHUNK`] bytes.
    pub data: Bytes,
}

impl Wire for FileMessage {
    type Pb = pb::FileMessage;

    fn to_pb(&self) -> pb::FileMessage {
        let body = match self {
            FileMessage::Offer(o) => Body::Offer(pb::FileOffer {
                transfer_id: o.transfer_id,
                entries: o
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| pb::FileEntry {
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                        path: e.path.clone(),
                        size: e.size,
                        directory: e.directory,
                        modified_ms: e.modified_ms,
                    })
                    .collect(),
                total_size: o.total_size(),
            }),
            FileMessage::Answer {
                transfer_id,
                accept,
                reason,
            } => Body::Answer(pb::FileAnswer {
                transfer_id: *transfer_id,
                accept: *accept,
                reason: reason.clone(),
            }),
            FileMessage::Resume {
                transfer_id,
                entry,
                offset,
            } => Body::Resume(pb::FileResume {
                transfer_id: *transfer_id,
                entry: *entry,
                offset: *offset,
            }),
            FileMessage::Chunk(c) => Body::Chunk(pb::FileChunk {
                transfer_id: c.transfer_id,
                entry: c.entry,
                offset: c.offset,
                data: c.data.clone(),
            }),
            FileMessage::EntryDone {
                transfer_id,
                entry,
                sha256,
            } => Body::EntryDone(pb::FileEntryDone {
                transfer_id: *transfer_id,
                entry: *entry,
                sha256: Bytes::copy_from_slice(sha256),
            }),
            FileMessage::EntryResult {
                transfer_id,
                entry,
                error,
            } => Body::EntryResult(pb::FileEntryResult {
                transfer_id: *transfer_id,
                entry: *entry,
                ok: error.is_none(),
                error: error.clone().unwrap_or_default(),
            }),
            FileMessage::Ack {
                transfer_id,
                entry,
                offset,
            } => Body::Ack(pb::FileAck {
                transfer_id: *transfer_id,
                entry: *entry,
                offset: *offset,
            }),
            FileMessage::Cancel {
                transfer_id,
                reason,
            } => Body::Cancel(pb::FileCancel {
                transfer_id: *transfer_id,
                reason: reason.clone(),
            }),
        };
        pb::FileMessage { body: Some(body) }
    }

    fn from_pb(pb: pb::FileMessage) -> Result<Self, DecodeError> {
        Ok(match required("file.body", pb.body)? {
            Body::Offer(o) => FileMessage::Offer(offer_from_pb(o)?),
            Body::Answer(a) => {
                check_str("file_answer.reason", &a.reason, MAX_NOTE)?;
                FileMessage::Answer {
                    transfer_id: a.transfer_id,
                    accept: a.accept,
                    reason: a.reason,
                }
            }
            Body::Resume(r) => FileMessage::Resume {
                transfer_id: r.transfer_id,
                entry: r.entry,
                offset: r.offset,
            },
            Body::Chunk(c) => {
                check_bytes("file_chunk.data", &c.data, MAX_CHUNK)?;
                if c.offset.checked_add(c.data.len() as u64).is_none() {
                    return Err(DecodeError::Invalid {
                        field: "file_chunk.offset",
                        reason: "offset + length overflows",
                    });
                }
                FileMessage::Chunk(FileChunk {
                    transfer_id: c.transfer_id,
                    entry: c.entry,
                    offset: c.offset,
                    data: c.data,
                })
            }
            Body::EntryDone(d) => FileMessage::EntryDone {
                transfer_id: d.transfer_id,
                entry: d.entry,
                sha256: digest("file_entry_done.sha256", &d.sha256)?,
            },
            Body::EntryResult(r) => {
                check_str("file_entry_result.error", &r.error, MAX_NOTE)?;
                FileMessage::EntryResult {
                    transfer_id: r.transfer_id,
                    entry: r.entry,
                    error: if r.ok { None } else { Some(r.error) },
                }
            }
            Body::Ack(a) => FileMessage::Ack {
                transfer_id: a.transfer_id,
                entry: a.entry,
                offset: a.offset,
            },
            Body::Cancel(c) => {
                check_str("file_cancel.reason", &c.reason, MAX_NOTE)?;
                FileMessage::Cancel {
                    transfer_id: c.transfer_id,
                    reason: c.reason,
                }
            }
        })
    }
}

fn offer_from_pb(o: pb::FileOffer) -> Result<FileOffer, DecodeError> {
    check_count("file_offer.entries", &o.entries, MAX_FILE_ENTRIES)?;
    let mut entries = Vec::with_capacity(o.entries.len());
    let mut total = 0u64;
    for (i, e) in o.entries.into_iter().enumerate() {
        if e.index as usize != i {
            return Err(DecodeError::Invalid {
                field: "file_entry.index",
                reason: "entries must be numbered 0..n in order",
            });
        }
        check_str("file_entry.path", &e.path, MAX_PATH)?;
        if e.path.is_empty() {
            return Err(DecodeError::MissingField("file_entry.path"));
        }
        if e.directory && e.size != 0 {
            return Err(DecodeError::Invalid {
                field: "file_entry.size",
                reason: "a folder has no size",
            });
        }
        total = total.checked_add(e.size).ok_or(DecodeError::Invalid {
            field: "file_offer.total_size",
            reason: "sizes overflow",
        })?;
        entries.push(FileEntry {
            path: e.path,
            size: e.size,
            directory: e.directory,
            modified_ms: e.modified_ms,
        });
    }
    if total != o.total_size {
        return Err(DecodeError::Invalid {
            field: "file_offer.total_size",
            reason: "does not equal the sum of entry sizes",
        });
    }
    Ok(FileOffer {
        transfer_id: o.transfer_id,
        entries,
    })
}

/// Parses a 32-byte SHA-256 digest field.
pub(crate) fn digest(field: &'static str, bytes: &[u8]) -> Result<Sha256Digest, DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Invalid {
        field,
        reason: "a SHA-256 digest is 32 bytes",
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = FileEntry> {
        (text(24), 0u64..1 << 40, any::<bool>(), any::<u64>())
            .prop_filter("paths are non-empty", |(p, ..)| !p.is_empty())
            .prop_map(|(path, size, directory, modified_ms)| FileEntry {
                path,
                size: if directory { 0 } else { size },
                directory,
                modified_ms,
            })
    }

    pub(crate) fn file_message() -> impl Strategy<Value = FileMessage> {
        prop_oneof![
            (any::<u64>(), proptest::collection::vec(entry(), 0..5)).prop_map(
                |(transfer_id, entries)| FileMessage::Offer(FileOffer {
                    transfer_id,
                    entries
                })
            ),
            (any::<u64>(), any::<bool>(), text(16)).prop_map(|(transfer_id, accept, reason)| {
                FileMessage::Answer {
                    transfer_id,
                    accept,
                    reason,
                }
            }),
            (any::<u64>(), any::<u32>(), any::<u64>()).prop_map(|(transfer_id, entry, offset)| {
                FileMessage::Resume {
                    transfer_id,
                    entry,
                    offset,
                }
            }),
            (any::<u64>(), any::<u32>(), 0u64..1 << 50, bytes(64)).prop_map(
                |(transfer_id, entry, offset, data)| FileMessage::Chunk(FileChunk {
                    transfer_id,
                    entry,
                    offset,
                    data
                })
            ),
            (any::<u64>(), any::<u32>(), any::<[u8; 32]>()).prop_map(
                |(transfer_id, entry, sha256)| FileMessage::EntryDone {
                    transfer_id,
                    entry,
                    sha256
                }
            ),
            (any::<u64>(), any::<u32>(), proptest::option::of(text(16))).prop_map(
                |(transfer_id, entry, error)| FileMessage::EntryResult {
                    transfer_id,
                    entry,
                    error
                }
            ),
            (any::<u64>(), any::<u32>(), any::<u64>()).prop_map(|(transfer_id, entry, offset)| {
                FileMessage::Ack {
                    transfer_id,
                    entry,
                    offset,
                }
            }),
            (any::<u64>(), text(16)).prop_map(|(transfer_id, reason)| FileMessage::Cancel {
                transfer_id,
                reason
            }),
        ]
    }

    proptest! {
        #[test]
        fn files_round_trip(m in file_message()) {
            assert_round_trip(&m);
        }
    }

    fn offer_pb(entries: Vec<pb::FileEntry>, total_size: u64) -> pb::FileMessage {
        pb::FileMessage {
            body: Some(Body::Offer(pb::FileOffer {
                transfer_id: 1,
                entries,
                total_size,
            })),
        }
    }

    fn pb_entry(index: u32, size: u64) -> pb::FileEntry {
        pb::FileEntry {
            index,
            path: "a.txt".into(),
            size,
            directory: false,
            modified_ms: 0,
        }
    }

    #[test]
    fn offer_total_must_match_entries() {
        let bad = offer_pb(vec![pb_entry(0, 10), pb_entry(1, 5)], 16);
        assert!(matches!(
            FileMessage::from_pb(bad),
            Err(DecodeError::Invalid {
                field: "file_offer.total_size",
                ..
            })
        ));
        let overflow = offer_pb(vec![pb_entry(0, u64::MAX), pb_entry(1, 1)], 0);
        assert!(FileMessage::from_pb(overflow).is_err());
    }

    #[test]
    fn offer_entries_must_be_in_order() {
        let bad = offer_pb(vec![pb_entry(1, 0)], 0);
        assert!(matches!(
            FileMessage::from_pb(bad),
            Err(DecodeError::Invalid {
                field: "file_entry.index",
                ..
            })
        ));
    }

    #[test]
    fn over_long_path_and_chunk_are_refused() {
        let mut e = pb_entry(0, 0);
        e.path = "a/".repeat(MAX_PATH);
        assert!(matches!(
            FileMessage::from_pb(offer_pb(vec![e], 0)),
            Err(DecodeError::TooLong {
                field: "file_entry.path",
                ..
            })
        ));
        let chunk = pb::FileMessage {
            body: Some(Body::Chunk(pb::FileChunk {
                transfer_id: 1,
                entry: 0,
                offset: 0,
                data: Bytes::from(vec![0; MAX_CHUNK + 1]),
            })),
        };
        assert!(matches!(
            FileMessage::from_pb(chunk),
            Err(DecodeError::TooLong {
                field: "file_chunk.data",
                ..
            })
        ));
    }

    #[test]
    fn short_digest_is_refused() {
        let done = pb::FileMessage {
            body: Some(Body::EntryDone(pb::FileEntryDone {
                transfer_id: 1,
                entry: 0,
                sha256: Bytes::from_static(&[0; 31]),
            })),
        };
        assert!(FileMessage::from_pb(done).is_err());
    }
}
