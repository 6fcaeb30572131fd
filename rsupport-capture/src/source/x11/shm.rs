//! A MIT-SHM segment shared with the X server through a memfd (`ShmAttachFd`,
//! MIT-SHM 1.2): the server writes screen pixels straight into our memory, so a
//! frame never travels through the socket.
//!
//! This is the only module of the crate with `unsafe`: mapping the memfd and
//! viewing the mapping as a byte slice.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use rustix::fs::{ftruncate, memfd_create, MemfdFlags};
use rustix::mm::{mmap, munmap, MapFlags, ProtFlags};
use x11rb::connection::Connection;
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

use crate::source::CaptureError;

/// A mapped memfd attached to the X server as an SHM segment.
pub(super) struct ShmSegment {
    seg: shm::Seg,
    ptr: NonNull<u8>,
    len: usize,
}

impl std::fmt::Debug for ShmSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmSegment")
            .field("seg", &self.seg)
            .field("len", &self.len)
            .finish()
    }
}

impl ShmSegment {
    /// Creates a `len`-byte segment and attaches it (read-write for the server).
    /// Fails when the server lacks `ShmAttachFd` or cannot receive descriptors
    /// (e.g. a TCP connection); the caller then falls back to `GetImage`.
    pub(super) fn create(conn: &RustConnection, len: usize) -> Result<ShmSegment, CaptureError> {
        let io = |what: &str, e: rustix::io::Errno| CaptureError::Backend(format!("{what}: {e}"));
        let len = len.max(4096);
        let fd = memfd_create("rsupport-capture", MemfdFlags::CLOEXEC)
            .map_err(|e| io("memfd_create", e))?;
        ftruncate(&fd, len as u64).map_err(|e| io("ftruncate", e))?;
        // SAFETY: a fresh shared mapping of a memfd we just sized to `len`; the kernel
        // picks the address, so no existing memory is affected.
        let raw = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| io("mmap", e))?;
        let ptr = NonNull::new(raw.cast::<u8>())
            .ok_or_else(|| CaptureError::Backend("mmap returned null".into()))?;
        // From here on Drop unmaps, whatever happens below.
        let mut segment = ShmSegment { seg: 0, ptr, len };
        let seg = conn.generate_id().map_err(super::backend)?;
        conn.shm_attach_fd(seg, fd, false)
            .map_err(super::backend)?
            .check()
            .map_err(super::backend)?;
        segment.seg = seg;
        Ok(segment)
    }

    /// The segment id to pass to `shm::GetImage`.
    pub(super) fn seg(&self) -> shm::Seg {
        self.seg
    }

    /// Size in bytes.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The first `len` bytes of the segment (`None` past its end).
    ///
    /// Call only when no request writing into the segment is in flight (i.e.
    /// after the `GetImage` reply arrived and before the next one is sent): the
    /// server writes only while it processes such a request.
    pub(super) fn bytes(&self, len: usize) -> Option<&[u8]> {
        if len > self.len {
            return None;
        }
        // SAFETY: `ptr` is a live mapping of `self.len >= len` bytes owned by `self`
        // (unmapped only in Drop, which needs `&mut self`); the server writes it only
        // during a GetImage request, and callers read only after that request's reply.
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), len) })
    }

    /// Detaches from the server; the mapping goes away on drop.
    pub(super) fn detach(&self, conn: &RustConnection) {
        if self.seg != 0 {
            // Errors only mean the connection is gone, and the server then detached it.
            let _ = conn.shm_detach(self.seg);
        }
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe the mapping created in `create`, unmapped
        // nowhere else; no slice from `bytes` can outlive `&self`.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// SAFETY: the segment owns its mapping exclusively (like a Vec<u8>); moving it to
// another thread moves that ownership.
unsafe impl Send for ShmSegment {}
