//! A hostile customer against a real operator program (issue 12, H4):
//! after the operator's view request is granted — so frames *are* decoded —
//! the customer sends the updates that made the old decoder allocate
//! gigabytes or spin for seconds. Prints the operator process's RSS after
//! each one against its RSS while viewing a normal 1080p screen, and
//! whether the session is still up. Asserts nothing.
//!
//! The relay runs in this process too (it holds no frames: a few MiB).
//!
//! Run: `cargo bench -p rsupport-client --bench hostile_frames`
//! Target (issue 12): the operator program alive and within 64 MiB of its
//! idle RSS after any hostile frame.

use std::time::{Duration, Instant};

use rsupport_capture::codec::{crafted, Encoder, EncoderConfig};
use rsupport_capture::BgraFrame;
use rsupport_client::{LobbyEvent, RelayTarget, SessionHandle};
use rsupport_core::session::{ChatEvent, ControlEvent, SessionEvent};
use rsupport_proto::chat::{ChatMessage, ChatText};
use rsupport_proto::screen::{CopyRect, FrameUpdate, ScreenMessage, Tile, TileCompression};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::ConnectionMode;
use rsupport_testkit::relay::{start_relay, KeyedCustomer, OPERATOR, PASSWORD};

const WAIT: Duration = Duration::from_secs(60);

fn rss_mib() -> f64 {
    rsupport_testkit::rss_kib(std::process::id()) as f64 / 1024.0
}

/// A customer speaking the relay protocol itself, as a modified program
/// would, holding the session's end-to-end keys (so what it sends opens).
struct Hostile {
    keyed: KeyedCustomer,
    seq: u64,
}

impl Hostile {
    async fn join(target: &RelayTarget, code: &str) -> Hostile {
        Hostile {
            keyed: KeyedCustomer::join(target, code).await,
            seq: 0,
        }
    }

    async fn send(&mut self, message: SessionMessage) {
        self.seq += 1;
        self.keyed.send(&message).await;
    }

    /// Grants the operator's next mode request, as a consenting customer would.
    async fn grant_next_request(&mut self) {
        self.keyed.grant_next_request().await;
    }

    /// Sends a chat line and waits until the operator's session reports it:
    /// everything sent before it has been handled.
    async fn barrier(&mut self, operator: &mut SessionHandle, text: &str) -> bool {
        let line = ChatText {
            id: self.seq + 1,
            text: text.into(),
            sent_at_ms: 0,
            sender_name: "hostile".into(),
        };
        self.send(SessionMessage::Chat(ChatMessage::Text(line)))
            .await;
        let seen = tokio::time::timeout(WAIT, async {
            while let Some(event) = operator.next_event().await {
                match event {
                    SessionEvent::Chat(ChatEvent::Received(l)) if l.text == text => return true,
                    SessionEvent::Control(ControlEvent::Ended { .. }) => return false,
                    _ => {}
                }
            }
            false
        });
        seen.await.unwrap_or(false)
    }
}

fn update(width: u32, height: u32, tiles: Vec<Tile>, copies: Vec<CopyRect>) -> FrameUpdate {
    crafted::update(width, height, true, copies, tiles, TileCompression::None)
}

/// The hostile updates, each with a name.
fn hostile_updates() -> Vec<(&'static str, FrameUpdate)> {
    // The largest frame a viewer holds (DEFAULT_MAX_FRAME_PIXELS).
    let wide = (2560, 1600);
    let mut list = Vec::new();
    // The review's H4: full-frame solid tiles, each cached under its own id.
    list.push((
        "64 full-frame solid tiles, cached (8192x8192)",
        crafted::solid_bomb(8192, 64, TileCompression::None),
    ));
    // Many cacheable 256x256 tiles covering the largest allowed frame several times.
    let mut tiles = Vec::new();
    let mut id = 1000;
    for _ in 0..4 {
        for y in (0..wide.1).step_by(256) {
            for x in (0..wide.0).step_by(256) {
                id += 1;
                tiles.push(crafted::solid(
                    x,
                    y,
                    256,
                    256.min(wide.1 - y).max(1),
                    Some(id),
                ));
            }
        }
    }
    list.push((
        "4 layers of cached 256x256 solid tiles (largest frame)",
        update(wide.0, wide.1, tiles, Vec::new()),
    ));
    // Copies: whole-frame copy rectangles, many of them.
    let copies = (0..4096)
        .map(|i| CopyRect {
            src_x: i % 7,
            src_y: i % 5,
            dst_x: 0,
            dst_y: 0,
            width: wide.0 - 8,
            height: wide.1 - 8,
        })
        .collect();
    list.push((
        "4,096 full-frame copy rectangles (largest frame)",
        update(wide.0, wide.1, Vec::new(), copies),
    ));
    // A batch that claims to decompress to far more than it does.
    let mut liar = update(
        1920,
        1080,
        vec![crafted::solid(0, 0, 64, 64, None)],
        Vec::new(),
    );
    liar.compression = TileCompression::Zstd;
    liar.tiles_raw_len = u32::MAX;
    list.push(("zstd batch claiming 4 GiB", liar));
    list
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let target = start_relay(None).await;
    let mut operator = rsupport_client::Operator::connect(&target, Default::default())
        .await
        .expect("operator connects");
    operator
        .login(OPERATOR, PASSWORD, None)
        .await
        .expect("operator logs in");
    let invitation = operator.issue_code().await.expect("code");
    let mut hostile = Hostile::join(&target, invitation.code()).await;
    let mut session = loop {
        if let Some(LobbyEvent::SessionStarted(s)) = operator.next_event().await {
            break s;
        }
    };
    session
        .request_mode(ConnectionMode::ViewCustomer, "to help")
        .await
        .expect("request");
    hostile.grant_next_request().await;

    // A normal 1080p screen first: the operator's RSS while viewing is the baseline.
    let mut screen = BgraFrame::filled(1920, 1080, [0x30, 0x60, 0x90, 255]);
    for (i, px) in screen.pixels_mut().chunks_exact_mut(4).enumerate() {
        px[0] = (i % 251) as u8;
        px[1] = (i / 1920 % 241) as u8;
    }
    let mut encoder = Encoder::new(EncoderConfig::default());
    let normal = encoder.encode(&screen, 0).expect("encode");
    hostile
        .send(SessionMessage::Screen(ScreenMessage::Frame(normal)))
        .await;
    assert!(hostile.barrier(&mut session, "normal frame sent").await);
    let shown = session.framebuffer().await.expect("framebuffer").is_some();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_mib();
    println!("# hostile frames against an operator viewing a customer (consent granted)");
    println!("operator RSS viewing a normal 1080p screen: {idle:.0} MiB (picture shown: {shown})");
    println!(
        "{:<55} {:>10} {:>10} {:>8}  verdict",
        "update", "RSS MiB", "+MiB", "ms"
    );
    let mut worst: f64 = 0.0;
    let mut alive = true;
    for (name, frame) in hostile_updates() {
        let started = Instant::now();
        hostile
            .send(SessionMessage::Screen(ScreenMessage::Frame(frame)))
            .await;
        alive &= hostile.barrier(&mut session, name).await;
        let took = started.elapsed().as_secs_f64() * 1e3;
        let rss = rss_mib();
        let grown = rss - idle;
        worst = worst.max(grown);
        println!(
            "{name:<55} {rss:>10.0} {grown:>+10.0} {took:>8.0}  {}",
            if alive { "session up" } else { "SESSION GONE" }
        );
    }
    let stats = session
        .stats()
        .await
        .map(|s| format!("{s:?}"))
        .unwrap_or_default();
    println!("session stats: {stats}");
    println!(
        "worst growth +{worst:.0} MiB, session {}  [target: alive and ≤ +64 MiB: {}]",
        if alive { "alive" } else { "ended" },
        if alive && worst <= 64.0 {
            "met"
        } else {
            "NOT MET"
        }
    );
}
