//! The one name for the two ends of a session, used by every channel.

use rsupport_proto::ConnectionMode;

/// Which end of a session: the operator (support agent) or the customer.
/// Every channel names the parties with it (who drew a stroke, who offered
/// a file, who hosts the screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The support agent's program.
    Operator,
    /// The customer's program.
    Customer,
}

impl Side {
    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::Operator => Side::Customer,
            Side::Customer => Side::Operator,
        }
    }

    /// Whether this side hosts (shares its screen, receives input) in `mode`.
    pub fn hosts_in(self, mode: ConnectionMode) -> bool {
        mode.customer_hosts() == (self == Side::Customer)
    }
}
