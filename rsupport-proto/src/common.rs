//! Types shared by every channel: roles, connection modes, close and end
//! reasons, colour depth, points and rectangles.

use crate::error::DecodeError;
use crate::pb;
use crate::wire::{wire_enum, Wire};

wire_enum! {
    /// Who a party is on the relay.
    pub enum Role => Role {
        /// A support agent.
        Operator => Operator,
        /// An operator who may also change settings, accounts and unlocks.
        Admin => Admin,
        /// The customer's program.
        Customer => Customer,
    }
}

wire_enum! {
    /// The five connection modes of a session.
    ///
    /// One symmetric mechanism serves all five: the mode says which party
    /// *hosts* (shares its screen, receives input) and whether the viewer may
    /// control.
    pub enum ConnectionMode => ConnectionMode {
        /// The operator sees the customer's screen; nobody controls.
        ViewCustomer => ViewCustomer,
        /// The operator sees and controls the customer's screen.
        ControlCustomer => ControlCustomer,
        /// As `ControlCustomer`, with service / administrator rights.
        ManageCustomer => ManageCustomer,
        /// The customer sees the operator's screen and may control it.
        ShareOperatorScreen => ShareOperatorScreen,
        /// The customer sees the operator's screen; nobody controls.
        ShowOperatorScreen => ShowOperatorScreen,
    }
}

impl ConnectionMode {
    /// Whether the customer's machine is the host (shares its screen).
    pub fn customer_hosts(self) -> bool {
        matches!(
            self,
            ConnectionMode::ViewCustomer
                | ConnectionMode::ControlCustomer
                | ConnectionMode::ManageCustomer
        )
    }

    /// Whether the viewer may send input to the host.
    pub fn viewer_controls(self) -> bool {
        matches!(
            self,
            ConnectionMode::ControlCustomer
                | ConnectionMode::ManageCustomer
                | ConnectionMode::ShareOperatorScreen
        )
    }

    /// The one-word name consoles and pages use: "view", "control",
    /// "manage", "share", "show".
    pub fn short_name(self) -> &'static str {
        match self {
            ConnectionMode::ViewCustomer => "view",
            ConnectionMode::ControlCustomer => "control",
            ConnectionMode::ManageCustomer => "manage",
            ConnectionMode::ShareOperatorScreen => "share",
            ConnectionMode::ShowOperatorScreen => "show",
        }
    }

    /// The mode a [`short_name`](Self::short_name) names, if any.
    pub fn from_short_name(name: &str) -> Option<ConnectionMode> {
        ConnectionMode::ALL
            .iter()
            .copied()
            .find(|mode| mode.short_name() == name)
    }
}

wire_enum! {
    /// Why a connection was closed.
    pub enum CloseReason => CloseReason {
        /// Orderly close with nothing wrong.
        Normal => Normal,
        /// The peer sent bytes that do not decode.
        Malformed => Malformed,
        /// The peer sent a frame or field over its size cap.
        TooLarge => TooLarge,
        /// No protocol version in common.
        VersionMismatch => VersionMismatch,
        /// A message arrived that is not allowed in the current state.
        UnexpectedMessage => UnexpectedMessage,
        /// Not logged in, or not allowed.
        Unauthorized => Unauthorized,
        /// Handshake or idle timeout.
        Timeout => Timeout,
        /// The relay is shutting down.
        Shutdown => Shutdown,
        /// The relay is at its connection cap.
        Overloaded => Overloaded,
        /// Too many failed attempts from this source.
        RateLimited => RateLimited,
        /// An internal error on the sender's side.
        Internal => Internal,
        /// The peer did not read fast enough.
        SlowConsumer => SlowConsumer,
    }
}

wire_enum! {
    /// Why a session ended.
    pub enum EndReason => EndReason {
        /// The operator ended it.
        OperatorEnded => OperatorEnded,
        /// The customer ended it.
        CustomerEnded => CustomerEnded,
        /// The licence's maximum session duration was reached.
        TimeLimit => TimeLimit,
        /// The peer's connection dropped and did not come back in time.
        PeerLost => PeerLost,
        /// The session was handed to another operator.
        Transferred => Transferred,
        /// The relay is shutting down.
        RelayShutdown => RelayShutdown,
        /// The customer declined consent.
        ConsentDenied => ConsentDenied,
        /// A protocol error on one side.
        ProtocolError => ProtocolError,
        /// An administrator ended it.
        AdminEnded => AdminEnded,
        /// The other side kept sending malformed or out-of-place messages
        /// (one such message is dropped; a sustained stream ends the session).
        PeerMisbehaved => PeerMisbehaved,
        /// The end-to-end key exchange failed: a wrong code, or someone
        /// between the parties tried to take part in it.
        KeyExchangeFailed => KeyExchangeFailed,
        /// A sealed message failed authentication or arrived replayed,
        /// reordered or cut: someone between the parties changed the traffic.
        Tampered => Tampered,
        /// The session would not be end-to-end encrypted and a side refuses that.
        NotEncrypted => NotEncrypted,
    }
}

wire_enum! {
    /// Colour depth the host quantises to before encoding.
    pub enum ColorDepth => ColorDepth {
        /// 24-bit true colour (lossless).
        TrueColor => TrueColor,
        /// 16-bit high colour (RGB 5-6-5).
        HighColor => HighColor,
        /// 256 colours.
        Colors256 => Colors256,
        /// 16 colours.
        Colors16 => Colors16,
        /// 4 colours.
        Colors4 => Colors4,
    }
}

/// A point in screen coordinates (pixels of the shared monitor, origin top-left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Point {
    /// Horizontal position.
    pub x: i32,
    /// Vertical position.
    pub y: i32,
}

impl Point {
    /// A point at `(x, y)`.
    pub const fn new(x: i32, y: i32) -> Self {
        Point { x, y }
    }
}

impl Wire for Point {
    type Pb = pb::Point;
    fn to_pb(&self) -> pb::Point {
        pb::Point {
            x: self.x,
            y: self.y,
        }
    }
    fn from_pb(pb: pb::Point) -> Result<Self, DecodeError> {
        Ok(Point { x: pb.x, y: pb.y })
    }
}

/// An axis-aligned rectangle in screen coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// A rectangle at `(x, y)` of `width` × `height`.
    pub const fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// Whether `p` lies inside (left/top edges inclusive, right/bottom exclusive).
    pub fn contains(&self, p: Point) -> bool {
        let (x, y) = (i64::from(p.x), i64::from(p.y));
        x >= i64::from(self.x)
            && y >= i64::from(self.y)
            && x < i64::from(self.x) + i64::from(self.width)
            && y < i64::from(self.y) + i64::from(self.height)
    }

    /// The smallest rectangle holding all of `rects`; empty (all zero) when
    /// there are none.
    pub fn bounding(rects: &[Rect]) -> Rect {
        let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        for r in rects {
            x0 = x0.min(i64::from(r.x));
            y0 = y0.min(i64::from(r.y));
            x1 = x1.max(i64::from(r.x) + i64::from(r.width));
            y1 = y1.max(i64::from(r.y) + i64::from(r.height));
        }
        if x0 > x1 {
            return Rect::default();
        }
        Rect::new(
            i32::try_from(x0).unwrap_or(0),
            i32::try_from(y0).unwrap_or(0),
            u32::try_from(x1 - x0).unwrap_or(u32::MAX),
            u32::try_from(y1 - y0).unwrap_or(u32::MAX),
        )
    }
}

impl Wire for Rect {
    type Pb = pb::Rect;
    fn to_pb(&self) -> pb::Rect {
        pb::Rect {
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
        }
    }
    fn from_pb(pb: pb::Rect) -> Result<Self, DecodeError> {
        Ok(Rect::new(pb.x, pb.y, pb.width, pb.height))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::strategies::*;
    use proptest::prelude::*;

    pub(crate) fn point() -> impl Strategy<Value = Point> {
        (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point { x, y })
    }

    pub(crate) fn rect() -> impl Strategy<Value = Rect> {
        (any::<i32>(), any::<i32>(), any::<u32>(), any::<u32>())
            .prop_map(|(x, y, w, h)| Rect::new(x, y, w, h))
    }

    #[test]
    fn bounding_holds_every_rect_and_nothing_more() {
        let rects = [Rect::new(10, 20, 5, 5), Rect::new(-3, 40, 2, 1)];
        assert_eq!(Rect::bounding(&rects), Rect::new(-3, 20, 18, 21));
        assert_eq!(Rect::bounding(&rects[..1]), rects[0]);
        assert_eq!(Rect::bounding(&[]), Rect::default());
    }

    proptest! {
        #[test]
        fn points_and_rects_round_trip(p in point(), r in rect()) {
            assert_round_trip(&p);
            assert_round_trip(&r);
        }

        #[test]
        fn enums_round_trip(mode in one_of(ConnectionMode::ALL), reason in one_of(EndReason::ALL)) {
            prop_assert_eq!(ConnectionMode::from_wire("mode", mode.to_wire()), Ok(mode));
            prop_assert_eq!(EndReason::from_wire("reason", reason.to_wire()), Ok(reason));
        }
    }

    #[test]
    fn unspecified_enum_is_a_missing_field() {
        assert_eq!(
            Role::from_wire("role", 0),
            Err(DecodeError::MissingField("role"))
        );
        assert_eq!(Role::from_wire_opt("role", 0), Ok(None));
    }

    #[test]
    fn unknown_enum_value_is_rejected() {
        assert_eq!(
            ColorDepth::from_wire("depth", 99),
            Err(DecodeError::InvalidEnum {
                field: "depth",
                value: 99
            })
        );
    }

    #[test]
    fn mode_roles() {
        assert!(ConnectionMode::ControlCustomer.customer_hosts());
        assert!(ConnectionMode::ControlCustomer.viewer_controls());
        assert!(!ConnectionMode::ViewCustomer.viewer_controls());
        assert!(!ConnectionMode::ShareOperatorScreen.customer_hosts());
        assert!(ConnectionMode::ShareOperatorScreen.viewer_controls());
        assert!(!ConnectionMode::ShowOperatorScreen.viewer_controls());
    }

    #[test]
    fn rect_contains_is_half_open() {
        let r = Rect::new(10, 10, 5, 5);
        assert!(r.contains(Point::new(10, 10)));
        assert!(r.contains(Point::new(14, 14)));
        assert!(!r.contains(Point::new(15, 14)));
        assert!(!r.contains(Point::new(9, 12)));
    }
}
