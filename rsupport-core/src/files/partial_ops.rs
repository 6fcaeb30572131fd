//! Ordering of the IO requests on partial files: writes and syncs of one
//! partial file may run concurrently, but opening, truncating, reading
//! back, committing and discarding it wait until nothing else on that file
//! is in flight (and later requests wait for them). So a driver may run
//! requests on any number of workers in any order.

use std::collections::{HashMap, HashSet, VecDeque};

use super::io::{FileIo, FileIoRequest, IoId, IoQueue, PartialKey};

/// What a receiver request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    CreateDir,
    Open,
    Write {
        offset: u64,
    },
    Sync {
        upto: u64,
    },
    Truncate,
    ReadBack {
        offset: u64,
        len: usize,
    },
    Commit,
    Discard,
    /// Free space in the destination, before an accepted offer starts.
    FreeSpace,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OpTag {
    pub(crate) transfer_id: u64,
    pub(crate) entry: u32,
    pub(crate) epoch: u64,
    pub(crate) kind: OpKind,
}

impl OpTag {
    fn partial(&self) -> Option<PartialKey> {
        (!matches!(self.kind, OpKind::CreateDir | OpKind::FreeSpace)).then_some(PartialKey {
            transfer_id: self.transfer_id,
            entry: self.entry,
        })
    }

    fn exclusive(&self) -> bool {
        !matches!(self.kind, OpKind::Write { .. } | OpKind::Sync { .. })
    }
}

#[derive(Debug, Default)]
pub(crate) struct PartialOps {
    tags: HashMap<IoId, OpTag>,
    /// Requests in flight per partial file.
    busy: HashMap<PartialKey, usize>,
    /// Partial files with an exclusive request in flight.
    exclusive: HashSet<PartialKey>,
    /// Requests waiting for their turn, in order.
    held: VecDeque<(PartialKey, bool, FileIoRequest)>,
}

impl PartialOps {
    /// Issues `io` now or as soon as the ordering rules allow.
    pub(crate) fn issue(&mut self, queue: &mut IoQueue, io: FileIo, tag: OpTag) -> IoId {
        let id = queue.id();
        self.tags.insert(id, tag);
        let request = FileIoRequest { id, io };
        let Some(key) = tag.partial() else {
            queue.send(request);
            return id;
        };
        let exclusive = tag.exclusive();
        if self.held.iter().any(|(k, ..)| *k == key) || !self.may_run(key, exclusive) {
            self.held.push_back((key, exclusive, request));
        } else {
            self.start(queue, key, exclusive, request);
        }
        id
    }

    /// Whether `id` is one of ours.
    pub(crate) fn contains(&self, id: IoId) -> bool {
        self.tags.contains_key(&id)
    }

    /// A request completed: what it was for, and the next held requests
    /// of its file are issued.
    pub(crate) fn complete(&mut self, queue: &mut IoQueue, id: IoId) -> Option<OpTag> {
        let tag = self.tags.remove(&id)?;
        let Some(key) = tag.partial() else {
            return Some(tag);
        };
        if tag.exclusive() {
            self.exclusive.remove(&key);
        }
        if let Some(n) = self.busy.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.busy.remove(&key);
            }
        }
        while let Some(i) = self.held.iter().position(|(k, ..)| *k == key) {
            let exclusive = self.held.get(i).is_some_and(|h| h.1);
            if !self.may_run(key, exclusive) {
                break;
            }
            if let Some((_, _, request)) = self.held.remove(i) {
                self.start(queue, key, exclusive, request);
            }
        }
        Some(tag)
    }

    fn may_run(&self, key: PartialKey, exclusive: bool) -> bool {
        if exclusive {
            !self.busy.contains_key(&key)
        } else {
            !self.exclusive.contains(&key)
        }
    }

    fn start(&mut self, queue: &mut IoQueue, key: PartialKey, exclusive: bool, r: FileIoRequest) {
        *self.busy.entry(key).or_default() += 1;
        if exclusive {
            self.exclusive.insert(key);
        }
        queue.send(r);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;

    fn tag(kind: OpKind) -> OpTag {
        OpTag {
            transfer_id: 1,
            entry: 0,
            epoch: 1,
            kind,
        }
    }

    #[test]
    fn exclusive_requests_wait_for_everything_before_them() {
        let root: Arc<Path> = Arc::from(Path::new("/d"));
        let key = PartialKey {
            transfer_id: 1,
            entry: 0,
        };
        let mut q = IoQueue::default();
        let mut ops = PartialOps::default();
        let write = |offset| FileIo::Write {
            root: root.clone(),
            key,
            offset,
            data: bytes::Bytes::new(),
        };
        let w1 = ops.issue(&mut q, write(0), tag(OpKind::Write { offset: 0 }));
        let w2 = ops.issue(&mut q, write(4), tag(OpKind::Write { offset: 4 }));
        let discard = FileIo::Discard {
            root: root.clone(),
            key,
        };
        let d = ops.issue(&mut q, discard, tag(OpKind::Discard));
        // A write after the discard waits for it too.
        let w3 = ops.issue(&mut q, write(8), tag(OpKind::Write { offset: 8 }));
        let out =
            |q: &mut IoQueue| std::iter::from_fn(|| q.pop().map(|r| r.id)).collect::<Vec<_>>();
        assert_eq!(out(&mut q), vec![w1, w2]);
        ops.complete(&mut q, w2);
        assert_eq!(out(&mut q), vec![]);
        ops.complete(&mut q, w1);
        assert_eq!(out(&mut q), vec![d]);
        ops.complete(&mut q, d);
        assert_eq!(out(&mut q), vec![w3]);
        assert!(ops.complete(&mut q, w3).is_some());
        assert!(ops.complete(&mut q, w3).is_none(), "completed twice");
    }
}
