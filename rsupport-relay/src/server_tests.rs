//! The connection tasks over in-memory streams: what a connection that has
//! not been routed into a session can make the relay hold (M8).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const CONNS: u64 = 64;

/// Starts a connection task on one end of an in-memory pipe; returns the
/// peer's end.
fn connect(
    id: ConnId,
    budget: &Arc<MemoryBudget>,
    events: &EventTx<Event>,
) -> tokio::io::DuplexStream {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let conn = Conn {
        id,
        addr: "192.0.2.1:5000".parse().unwrap(),
        relay: Arc::new(RelayConfig::default()),
        events: events.clone(),
        budget: budget.clone(),
    };
    tokio::spawn(run_connection(server, conn, false));
    client
}

#[tokio::test]
async fn headers_announcing_16_mib_before_hello_buffer_next_to_nothing() {
    let budget = MemoryBudget::new(RelayConfig::default().memory_budget_bytes);
    let (events, _rx) = event_channel::channel::<Event>(4 * CONNS as usize);
    let mut clients = Vec::new();
    for id in 0..CONNS {
        let mut c = connect(id, &budget, &events);
        // A Session frame announcing just under 16 MiB, then 100 KiB of it.
        c.write_all(&[0x02, 0x00, 0xFF, 0xFF, 0xF0]).await.unwrap();
        let _ = c.write_all(&vec![0u8; 100 * 1024]).await;
        clients.push(c);
    }
    for c in &mut clients {
        // Each is closed (TooLarge from the header alone): read to the end.
        let mut sink = Vec::new();
        let _ = c.read_to_end(&mut sink).await;
    }
    // Nothing like 64 × 16 MiB was ever held: at most a read chunk or two each.
    let per_conn = budget.peak() / CONNS as usize;
    assert!(
        per_conn <= 4 * READ_CHUNK,
        "{} bytes held per connection at the peak",
        per_conn
    );
}

#[tokio::test]
async fn small_session_frames_before_pairing_are_dropped_not_kept() {
    let budget = MemoryBudget::new(RelayConfig::default().memory_budget_bytes);
    let (events, _rx) = event_channel::channel::<Event>(16);
    let mut c = connect(1, &budget, &events);
    // Session frames within the unrouted cap, no route: read and dropped.
    let env = Envelope {
        session_id: 7,
        priority: rsupport_proto::envelope::Priority::Bulk,
        protection: rsupport_proto::envelope::PayloadProtection::Sealed,
        seq: 1,
        payload: Bytes::from(vec![0u8; 60 * 1024]),
    };
    let body = env.encode();
    let frame = Frame::new(FrameKind::Session, body);
    for _ in 0..100 {
        c.write_all(&frame.header()).await.unwrap();
        c.write_all(&frame.body).await.unwrap();
    }
    assert!(budget.peak() <= 4 * 64 * 1024, "peak {}", budget.peak());
}

#[tokio::test]
async fn over_the_budget_the_biggest_holder_is_closed() {
    // A budget of 16 MiB and receivers that never read: forwarded frames
    // pile up in their queues until the biggest is closed.
    let budget = MemoryBudget::new(16 * 1024 * 1024);
    let (events, _rx) = event_channel::channel::<Event>(16);
    let shared = |id| {
        let s = Arc::new(ConnShared {
            queue: OutQueue::with_charge(32 << 20, 64 << 20, budget.charge()),
            routes: Mutex::new(HashMap::new()),
            ever_routed: AtomicBool::new(true),
        });
        let holder: Arc<dyn Holder> = s.clone();
        budget.register(id, Arc::downgrade(&holder));
        s
    };
    let (small, big) = (shared(1), shared(2));
    small.queue.push(4, [0; 5], Bytes::from(vec![0u8; 1 << 20]));
    for _ in 0..14 {
        big.queue.push(4, [0; 5], Bytes::from(vec![0u8; 1 << 20]));
    }
    assert!(!big.queue.is_closing());
    big.queue.push(4, [0; 5], Bytes::from(vec![0u8; 1 << 20]));
    assert!(big.queue.is_closing(), "the biggest holder is closed");
    assert!(!small.queue.is_closing());
    drop(events);
}
