//! Two whole sessions, operator and customer, wired back to back on a
//! virtual clock with no relay, no sockets and no sleeping: what a test of
//! the session's own rules needs, and nothing else.
//!
//! Envelopes cross through their wire encoding (so what is tested is what
//! would travel), the customer's screen is a synthetic sequence, and what
//! the customer's machine would inject is recorded.

use std::time::{Duration, Instant};

use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_capture::BgraFrame;
use rsupport_core::e2e::KeyExchange;
use rsupport_core::session::{
    ControlEvent, Session, SessionConfig, SessionEvent, SessionPolicy, Side,
};
use rsupport_input::inject::RecordingInjector;
use rsupport_input::{CoordinateMapper, GateConfig, Monitor};
use rsupport_proto::envelope::{Envelope, Priority};
use rsupport_proto::session::SessionMessage;
use rsupport_proto::{ConnectionMode, Rect};

/// Width of the synthetic screen.
pub const WIDTH: u32 = 320;
/// Height of the synthetic screen.
pub const HEIGHT: u32 = 200;
/// The session id both sides use.
pub const SESSION_ID: u64 = 77;
/// Time between two capture ticks.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(50);
/// The secret digits of the session code both sides of a pair key their
/// end-to-end exchange with.
pub const CODE_SECRET: &str = "24680";

/// The key exchange of a pair's sessions: CPace over [`CODE_SECRET`].
pub fn code_exchange() -> KeyExchange {
    KeyExchange::Code {
        secret: CODE_SECRET.into(),
    }
}

/// An operator's and a customer's [`Session`] joined directly.
pub struct SessionPair {
    /// The support agent's side.
    pub operator: Session,
    /// The customer's side (hosts the screen in customer modes).
    pub customer: Session,
    /// The virtual clock; [`advance`](Self::advance) moves it.
    pub now: Instant,
    /// The customer's (synthetic) screen.
    pub screen: Sequence,
    /// What the customer's machine was asked to inject.
    pub injector: RecordingInjector,
}

impl std::fmt::Debug for SessionPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPair")
            .field("now", &self.now)
            .field("injected", &self.injector.events().len())
            .finish_non_exhaustive()
    }
}

/// A session of `side` that allows `allowed` modes, on a WIDTH × HEIGHT
/// monitor.
pub fn session(side: Side, allowed: &[ConnectionMode]) -> Session {
    session_with(side, allowed, false, None)
}

/// As [`session`], with the admin's "full file transfer control" and the
/// folder offers are saved to without asking.
pub fn session_with(
    side: Side,
    allowed: &[ConnectionMode],
    full_file_control: bool,
    download_dir: Option<std::path::PathBuf>,
) -> Session {
    session_keyed(
        side,
        allowed,
        full_file_control,
        download_dir,
        code_exchange(),
    )
}

/// As [`session_with`], with the key exchange given (a wrong code, a
/// contact exchange, plaintext).
pub fn session_keyed(
    side: Side,
    allowed: &[ConnectionMode],
    full_file_control: bool,
    download_dir: Option<std::path::PathBuf>,
    key_exchange: KeyExchange,
) -> Session {
    let mapper = CoordinateMapper::for_monitor(
        vec![Monitor::new(Rect::new(0, 0, WIDTH, HEIGHT), 1.0)],
        0,
        WIDTH,
        HEIGHT,
    )
    .expect("a valid monitor");
    Session::new(
        SessionConfig {
            side,
            session_id: SESSION_ID,
            display_name: format!("{side:?}"),
            policy: SessionPolicy::allowing(allowed.iter().copied()),
            gate: GateConfig::default(),
            full_file_control,
            download_dir,
            key_exchange,
        },
        mapper,
    )
}

impl SessionPair {
    /// Both sides allowing `allowed`; the customer's screen plays a typing
    /// sequence.
    pub fn new(allowed: &[ConnectionMode]) -> SessionPair {
        Self::assemble(
            session(Side::Operator, allowed),
            session(Side::Customer, allowed),
        )
    }

    /// Two sessions joined, their key exchange run.
    fn assemble(operator: Session, customer: Session) -> SessionPair {
        let mut pair = SessionPair {
            operator,
            customer,
            now: Instant::now(),
            screen: Sequence::new(Scenario::Typing, WIDTH, HEIGHT, 3),
            injector: RecordingInjector::new(),
        };
        pair.pump();
        pair
    }

    /// What the operator's side would send for `message`, sealed with its
    /// keys: a well-formed but possibly unwelcome message from the peer.
    pub fn from_operator(&mut self, message: &SessionMessage) -> Envelope {
        self.operator
            .wrap_raw(message.priority(), message.encode())
            .expect("the keys are agreed")
    }

    /// As [`from_operator`](Self::from_operator), from the customer's side.
    pub fn from_customer(&mut self, message: &SessionMessage) -> Envelope {
        self.customer
            .wrap_raw(message.priority(), message.encode())
            .expect("the keys are agreed")
    }

    /// Bytes that are no session message at all, sealed by the operator.
    pub fn garbage_from_operator(&mut self, payload: &'static [u8]) -> Envelope {
        self.operator
            .wrap_raw(Priority::Chat, bytes::Bytes::from_static(payload))
            .expect("the keys are agreed")
    }

    /// Both sides allowing `allowed`, each agreeing keys its own way.
    pub fn keyed(
        allowed: &[ConnectionMode],
        operator: KeyExchange,
        customer: KeyExchange,
    ) -> SessionPair {
        Self::assemble(
            session_keyed(Side::Operator, allowed, false, None, operator),
            session_keyed(Side::Customer, allowed, false, None, customer),
        )
    }

    /// As [`new`](Self::new), the operator holding "full file transfer
    /// control" and the customer saving offers to `download_dir`.
    pub fn with_file_control(
        allowed: &[ConnectionMode],
        download_dir: std::path::PathBuf,
    ) -> SessionPair {
        Self::assemble(
            session_with(Side::Operator, allowed, true, None),
            session_with(Side::Customer, allowed, true, Some(download_dir)),
        )
    }

    /// Moves every envelope both ways (through their wire encoding) and lets
    /// the customer inject what it admitted, until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(envelope) = self.operator.poll_transmit() {
                let envelope = through_the_wire(&envelope);
                self.customer
                    .handle_envelope(envelope, self.now)
                    .expect("the customer accepts the operator's envelope");
                moved = true;
            }
            while let Some(envelope) = self.customer.poll_transmit() {
                let envelope = through_the_wire(&envelope);
                self.operator
                    .handle_envelope(envelope, self.now)
                    .expect("the operator accepts the customer's envelope");
                moved = true;
            }
            self.customer
                .inject_pending(&mut self.injector)
                .expect("the recording injector never fails");
            if !moved {
                break;
            }
        }
    }

    /// Moves the clock by `by` and lets both sides act on their deadlines.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.operator.handle_timeout(self.now);
        self.customer.handle_timeout(self.now);
        self.pump();
    }

    /// One tick of the customer's capture loop ([`FRAME_INTERVAL`] later):
    /// the frame when the session wanted one and sent it, `None` when it
    /// wanted none (a paused or idle host must not encode even if asked).
    pub fn capture_tick(&mut self) -> Option<BgraFrame> {
        self.now += FRAME_INTERVAL;
        let frame = self.screen.next_frame();
        if !self.customer.wants_frame(self.now) {
            let sent = self
                .customer
                .submit_frame(&frame, self.now, 0)
                .expect("a synthetic frame encodes");
            assert!(!sent, "a host that wants no frame sent one");
            self.pump();
            return None;
        }
        self.customer
            .submit_frame(&frame, self.now, 0)
            .expect("a synthetic frame encodes");
        self.pump();
        Some(frame)
    }

    /// The operator asks for `mode` and the customer allows it.
    pub fn grant(&mut self, mode: ConnectionMode) {
        self.operator
            .control()
            .request_mode(mode, "help")
            .expect("the operator may ask");
        self.pump();
        let id = std::iter::from_fn(|| self.customer.poll_event())
            .find_map(|e| match e {
                SessionEvent::Control(ControlEvent::ConsentRequested { request_id, .. }) => {
                    Some(request_id)
                }
                _ => None,
            })
            .expect("the customer is asked");
        self.customer
            .control()
            .decide(id, true)
            .expect("the customer may answer");
        self.pump();
    }

    /// Every event the operator's side has produced since the last call.
    pub fn operator_events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.operator.poll_event()).collect()
    }

    /// Every event the customer's side has produced since the last call.
    pub fn customer_events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.customer.poll_event()).collect()
    }
}

fn through_the_wire(envelope: &Envelope) -> Envelope {
    Envelope::decode(envelope.encode()).expect("an envelope decodes from its own encoding")
}
