//! A connection's two tasks: the writer drains its priority queue into the
//! socket (coalescing small frames), the reader cuts frames under the phase
//! limits, hands relay-control messages to the broker and forwards session
//! frames straight to the peer's queue.

use super::*;

pub(super) async fn write_loop<W: AsyncWrite + Unpin>(mut wr: W, shared: &ConnShared) {
    let mut batch = BytesMut::with_capacity(0);
    loop {
        match shared.queue.next() {
            Next::Frame(f) => {
                batch.extend_from_slice(&f.header);
                if f.body.len() < COALESCE_BELOW {
                    batch.extend_from_slice(&f.body);
                } else {
                    if wr.write_all(&batch).await.is_err() || wr.write_all(&f.body).await.is_err() {
                        return;
                    }
                    batch.clear();
                }
                if batch.len() >= 64 * 1024 {
                    if wr.write_all(&batch).await.is_err() {
                        return;
                    }
                    batch.clear();
                }
            }
            Next::Idle => {
                if !batch.is_empty() && wr.write_all(&batch).await.is_err() {
                    return;
                }
                batch.clear();
                if wr.flush().await.is_err() {
                    return;
                }
                // Idle connections keep no write buffer.
                if batch.capacity() > 64 * 1024 {
                    batch = BytesMut::new();
                }
                shared.queue.wait_ready().await;
            }
            Next::Close(reason, detail) => {
                let close = RelayMessage::Close { reason, detail }.encode();
                let frame = Frame::new(FrameKind::Relay, close);
                batch.extend_from_slice(&frame.header());
                batch.extend_from_slice(&frame.body);
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    let _ = wr.write_all(&batch).await;
                    let _ = wr.shutdown().await;
                })
                .await;
                return;
            }
        }
    }
}

pub(super) async fn read_loop<R: AsyncRead + Unpin>(
    mut rd: R,
    id: ConnId,
    shared: Arc<ConnShared>,
    relay: Arc<RelayConfig>,
    events: EventTx<Event>,
) {
    let idle = Duration::from_millis(relay.idle_timeout_ms);
    let slow = Duration::from_millis(relay.slow_consumer_timeout_ms);
    let mut decoder = FrameDecoder::new(FrameLimits::default());
    let mut buf = BytesMut::new();
    // Bytes of the read buffer charged to the memory budget.
    let mut charged = 0usize;
    let charge = shared.queue.charge();
    // Body bytes of an oversized frame still to skip (see `skip_unrouted`).
    let mut skip = 0usize;
    loop {
        // Grow only when full, doubling from 1 KiB up to READ_CHUNK steps:
        // an idle connection keeps a small buffer, a busy one reads in
        // large chunks.
        if buf.capacity() == buf.len() {
            buf.reserve(buf.capacity().clamp(1024, READ_CHUNK));
        }
        charge.track(&mut charged, buf.capacity());
        let read = tokio::select! {
            r = tokio::time::timeout(idle, rd.read_buf(&mut buf)) => r,
            _ = shared.queue.wait_closing() => return,
        };
        match read {
            Err(_) => return shared.queue.close(CloseReason::Timeout, "idle"),
            Ok(Err(_)) | Ok(Ok(0)) => return shared.queue.close(CloseReason::Normal, ""),
            Ok(Ok(_)) => {}
        }
        loop {
            if skip > 0 {
                let n = skip.min(buf.len());
                buf.advance(n);
                skip -= n;
                if skip > 0 {
                    break;
                }
            }
            decoder.set_limits(phase_limits(&shared));
            if let Some(len) = skip_unrouted(&shared, &buf) {
                skip = len;
                continue;
            }
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return shared.queue.close(e.close_reason(), "bad frame"),
            };
            match frame.kind {
                FrameKind::Relay => match RelayMessage::decode(frame.body) {
                    Ok(m) => {
                        // Bounded: a busy broker pauses this reader (M2).
                        tokio::select! {
                            sent = events.send(Event::Message(id, m)) => if sent.is_err() {
                                return;
                            },
                            _ = shared.queue.wait_closing() => return,
                        }
                    }
                    Err(e) => return shared.queue.close(e.close_reason(), "bad relay message"),
                },
                FrameKind::Session => {
                    let env = match Envelope::decode(frame.body.clone()) {
                        Ok(env) => env,
                        Err(e) => return shared.queue.close(e.close_reason(), "bad envelope"),
                    };
                    if let Some(peer) = forward(&shared, &env, &frame) {
                        // Backpressure: stop reading until the receiver drains,
                        // and close it if it does not within the grace period.
                        tokio::select! {
                            waited = tokio::time::timeout(slow, peer.queue.wait_room()) => {
                                if waited.is_err() {
                                    peer.queue.close(CloseReason::SlowConsumer, "receiver too slow");
                                }
                            }
                            _ = shared.queue.wait_closing() => return,
                        }
                    }
                }
                _ => {
                    return shared
                        .queue
                        .close(CloseReason::Malformed, "unknown frame kind")
                }
            }
        }
        // Do not keep a large read buffer on an idle connection.
        if buf.is_empty() && buf.capacity() > 64 * 1024 {
            buf = BytesMut::new();
        }
    }
}

/// Frame caps for what this connection may send now: small session frames
/// until it has been routed into a session, full-size afterwards.
fn phase_limits(shared: &ConnShared) -> FrameLimits {
    if shared.ever_routed.load(Ordering::Relaxed) {
        FrameLimits::default()
    } else {
        FrameLimits::new(FrameLimits::DEFAULT_RELAY, UNROUTED_SESSION_MAX)
    }
}

/// A connection that was in a session but has no route now (the session
/// just ended while its frames were in flight) may still send big session
/// frames: they are skipped as they arrive, never buffered whole. Returns
/// the bytes to skip (header included) for such a frame at the front of
/// `buf`. A connection never routed is left to the decoder, whose phase
/// limit refuses a session frame over [`UNROUTED_SESSION_MAX`] from its
/// header alone (`TooLarge`).
fn skip_unrouted(shared: &ConnShared, buf: &[u8]) -> Option<usize> {
    let Ok(Some((FrameKind::Session, len))) = announced(buf) else {
        return None;
    };
    let skippable = len > UNROUTED_SESSION_MAX
        && len <= FrameLimits::DEFAULT_SESSION
        && shared.ever_routed.load(Ordering::Relaxed)
        && !shared.has_routes();
    skippable.then_some(HEADER_LEN + len as usize)
}

/// Queues `frame` for the sender's peer in `env.session_id`. Returns the
/// peer when the sender should wait for it to drain.
fn forward(shared: &ConnShared, env: &Envelope, frame: &Frame) -> Option<Arc<ConnShared>> {
    // Frames for a session this connection is not in are dropped: the session
    // may have just ended, and a stranger's id must never reach anyone.
    let route = shared.route(env.session_id)?;
    let peer = route.peer.upgrade()?;
    let pushed = peer.queue.push(
        env.priority.rank(),
        frame.header(),
        Bytes::clone(&frame.body),
    );
    match pushed {
        Pushed::Queued => {
            route
                .meter
                .add(route.peer_is_operator, frame.wire_len() as u64);
            None
        }
        Pushed::Throttle => {
            route
                .meter
                .add(route.peer_is_operator, frame.wire_len() as u64);
            Some(peer)
        }
        Pushed::Overflow | Pushed::Closed => None,
    }
}
