//! What the local party currently allows, as a type rather than loose flags.
//!
//! Both sides keep one. The customer's side is authoritative for every mode
//! the customer consented to; the operator's side is authoritative for the
//! modes in which the operator's own screen is shared. Neither side trusts the
//! relay or the peer to enforce anything.

use rsupport_proto::control::RevokeCause;
use rsupport_proto::ConnectionMode;

pub use crate::Side;

/// Whether the viewer's input may reach the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The mode is view-only.
    ViewOnly,
    /// The viewer controls.
    Granted,
    /// Control was granted and then withdrawn.
    Revoked(RevokeCause),
}

/// The sharing state agreed by both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// No mode granted yet (chat only), or sharing stopped.
    Idle,
    /// A mode is in force.
    Active {
        /// The mode.
        mode: ConnectionMode,
        /// The host's user paused sharing: nothing is captured, sent or injected.
        paused: bool,
        /// Whether the viewer may send input now.
        control: Control,
    },
}

impl Sharing {
    /// A freshly granted mode.
    pub fn granted(mode: ConnectionMode) -> Sharing {
        Sharing::Active {
            mode,
            paused: false,
            control: if mode.viewer_controls() {
                Control::Granted
            } else {
                Control::ViewOnly
            },
        }
    }

    /// The mode in force, if any.
    pub fn mode(&self) -> Option<ConnectionMode> {
        match self {
            Sharing::Idle => None,
            Sharing::Active { mode, .. } => Some(*mode),
        }
    }

    /// Whether sharing is paused.
    pub fn is_paused(&self) -> bool {
        matches!(self, Sharing::Active { paused: true, .. })
    }

    /// Whether `side` should capture and send its screen now.
    pub fn side_sends_screen(&self, side: Side) -> bool {
        match self {
            Sharing::Active {
                mode,
                paused: false,
                ..
            } => side.hosts_in(*mode),
            _ => false,
        }
    }

    /// Whether `side`, as host, may inject the viewer's input now.
    pub fn side_accepts_input(&self, side: Side) -> bool {
        match self {
            Sharing::Active {
                mode,
                paused: false,
                control: Control::Granted,
            } => side.hosts_in(*mode),
            _ => false,
        }
    }

    /// Whether `side`, as viewer, may send input now.
    pub fn side_may_send_input(&self, side: Side) -> bool {
        match self {
            Sharing::Active {
                mode,
                paused: false,
                control: Control::Granted,
            } => !side.hosts_in(*mode),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_decided_by_the_mode() {
        assert!(Side::Customer.hosts_in(ConnectionMode::ViewCustomer));
        assert!(!Side::Operator.hosts_in(ConnectionMode::ManageCustomer));
        assert!(Side::Operator.hosts_in(ConnectionMode::ShareOperatorScreen));
        assert!(!Side::Customer.hosts_in(ConnectionMode::ShowOperatorScreen));
    }

    #[test]
    fn view_only_modes_never_accept_input() {
        for mode in [
            ConnectionMode::ViewCustomer,
            ConnectionMode::ShowOperatorScreen,
        ] {
            let s = Sharing::granted(mode);
            for side in [Side::Operator, Side::Customer] {
                assert!(!s.side_accepts_input(side));
                assert!(!s.side_may_send_input(side));
            }
        }
    }

    #[test]
    fn control_modes_route_input_from_viewer_to_host() {
        let s = Sharing::granted(ConnectionMode::ControlCustomer);
        assert!(s.side_accepts_input(Side::Customer));
        assert!(s.side_may_send_input(Side::Operator));
        assert!(!s.side_accepts_input(Side::Operator));
        let s = Sharing::granted(ConnectionMode::ShareOperatorScreen);
        assert!(s.side_accepts_input(Side::Operator));
        assert!(s.side_may_send_input(Side::Customer));
    }

    #[test]
    fn pause_stops_screen_and_input() {
        let Sharing::Active { mode, control, .. } =
            Sharing::granted(ConnectionMode::ControlCustomer)
        else {
            unreachable!()
        };
        let paused = Sharing::Active {
            mode,
            control,
            paused: true,
        };
        assert!(!paused.side_sends_screen(Side::Customer));
        assert!(!paused.side_accepts_input(Side::Customer));
        assert!(!paused.side_may_send_input(Side::Operator));
    }
}
