//! Who may inject right now: the sans-IO control gate.
//!
//! The gate holds the host's consent state for remote input and nothing
//! else. It does no IO and reads no clock: every input carries `now`, and
//! the one timer (the local-input grace period) comes out of
//! [`ControlGate::poll_timeout`]. Tests drive it on a virtual clock.
//!
//! ```text
//!            grant                 local input (Suspend)
//! ViewOnly ────────▶ Controlling ─────────────────────▶ LocalOverride
//!    ▲    ◀─────────   │  ▲  ▲ ◀──── grace period over ────────┘
//!    │ set_view_only   │  │  └───────── resume ─── Paused ◀── pause
//!    │                 │  └── grant ─── Revoked ◀── revoke / local input (Revoke)
//!    └─────────────────┴──▶ Disconnected (connection lost) / Ended (end)
//! ```
//!
//! Every transition out of `Controlling` emits [`GateEvent::Stopped`]: the
//! owner must release every key and button still held (no stuck Ctrl).

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

use rsupport_proto::control::RevokeCause;

/// What local user activity does to remote control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalTakeback {
    /// Local input is ignored (kiosk or unattended machines).
    Off,
    /// Local input suspends remote input until the local user has been idle
    /// for the grace period, then remote control resumes by itself.
    Suspend {
        /// Idle time after the last local input before remote input resumes.
        grace: Duration,
    },
    /// Local input revokes control; the viewer must ask again.
    Revoke,
}

/// Gate settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateConfig {
    /// What local user activity does.
    pub local_takeback: LocalTakeback,
}

impl Default for GateConfig {
    /// Local input wins, and remote control resumes after 2 s of local quiet.
    fn default() -> Self {
        GateConfig {
            local_takeback: LocalTakeback::Suspend {
                grace: Duration::from_secs(2),
            },
        }
    }
}

/// The gate's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateState {
    /// The viewer watches; nothing is injected.
    ViewOnly,
    /// Remote input is injected.
    Controlling,
    /// The host's user paused sharing (e.g. while typing a password).
    Paused,
    /// The host's user is using the machine; remote input resumes at `until`
    /// unless they keep going.
    LocalOverride {
        /// When remote input resumes.
        until: Instant,
    },
    /// Control was withdrawn; only a new grant restores it.
    Revoked(RevokeCause),
    /// The viewer's connection dropped; a new grant is needed after reconnect.
    Disconnected,
    /// The session ended. Terminal.
    Ended,
}

/// Why remote input stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The session switched to view-only.
    ViewOnly,
    /// Sharing paused.
    Paused,
    /// The local user took over (temporarily or for good).
    LocalInput,
    /// Control revoked.
    Revoked(RevokeCause),
    /// The viewer's connection dropped.
    ConnectionLost,
    /// The session ended.
    Ended,
}

/// What the gate tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GateEvent {
    /// Remote input stopped: release everything held now.
    Stopped(StopReason),
    /// Remote input is accepted again.
    Resumed,
    /// Tell the viewer control was revoked (send `ControlRevoked { cause }`).
    Revoked(RevokeCause),
}

/// Whether a remote input event may be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Inject it.
    Admit,
    /// Drop it; the gate is in this state.
    Refuse(GateState),
}

/// The sans-IO control gate. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ControlGate {
    config: GateConfig,
    state: GateState,
    events: VecDeque<GateEvent>,
}

impl ControlGate {
    /// A gate in [`GateState::ViewOnly`]: nothing is injected until
    /// [`grant`](Self::grant) (deny by default).
    pub fn new(config: GateConfig) -> Self {
        ControlGate {
            config,
            state: GateState::ViewOnly,
            events: VecDeque::new(),
        }
    }

    // ---- getters ----

    /// The current state.
    pub fn state(&self) -> GateState {
        self.state
    }

    /// The settings.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    // ---- inputs ----

    /// Asks whether a remote input event arriving at `now` may be injected.
    /// Runs due timers first, so a caller that forgot `handle_timeout`
    /// still resumes on time.
    pub fn admit(&mut self, now: Instant) -> Admission {
        self.handle_timeout(now);
        match self.state {
            GateState::Controlling => Admission::Admit,
            other => Admission::Refuse(other),
        }
    }

    /// The host's own user moved the mouse or typed at `now`. Feed only
    /// genuine local input here, not the echo of injected events.
    pub fn handle_local_activity(&mut self, now: Instant) {
        match (self.state, self.config.local_takeback) {
            (GateState::Controlling, LocalTakeback::Suspend { grace }) => {
                self.stop(
                    GateState::LocalOverride { until: now + grace },
                    StopReason::LocalInput,
                );
            }
            (GateState::LocalOverride { .. }, LocalTakeback::Suspend { grace }) => {
                self.state = GateState::LocalOverride { until: now + grace };
            }
            (GateState::Controlling, LocalTakeback::Revoke) => {
                self.stop(
                    GateState::Revoked(RevokeCause::LocalInput),
                    StopReason::LocalInput,
                );
                self.events
                    .push_back(GateEvent::Revoked(RevokeCause::LocalInput));
            }
            _ => {}
        }
    }

    /// Runs timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let GateState::LocalOverride { until } = self.state {
            if now >= until {
                self.state = GateState::Controlling;
                self.events.push_back(GateEvent::Resumed);
            }
        }
    }

    // ---- commands ----

    /// The host's user granted control (mode answer `Allow`, or a new grant
    /// after a revoke or reconnect). Does not end a pause: use
    /// [`resume`](Self::resume).
    pub fn grant(&mut self) {
        match self.state {
            GateState::ViewOnly | GateState::Revoked(_) | GateState::Disconnected => {
                self.state = GateState::Controlling;
                self.events.push_back(GateEvent::Resumed);
            }
            _ => {}
        }
    }

    /// Switch to watching only.
    pub fn set_view_only(&mut self) {
        self.stop(GateState::ViewOnly, StopReason::ViewOnly);
    }

    /// Withdraw control now. Tells the viewer through [`GateEvent::Revoked`].
    pub fn revoke(&mut self, cause: RevokeCause) {
        if matches!(self.state, GateState::Ended | GateState::ViewOnly) {
            return;
        }
        self.stop(GateState::Revoked(cause), StopReason::Revoked(cause));
        self.events.push_back(GateEvent::Revoked(cause));
    }

    /// The host's user paused sharing. Only a controlling (or locally
    /// overridden) session pauses; pausing view-only changes nothing here.
    pub fn pause(&mut self) {
        if matches!(
            self.state,
            GateState::Controlling | GateState::LocalOverride { .. }
        ) {
            self.stop(GateState::Paused, StopReason::Paused);
        }
    }

    /// The host's user resumed sharing.
    pub fn resume(&mut self) {
        if self.state == GateState::Paused {
            self.state = GateState::Controlling;
            self.events.push_back(GateEvent::Resumed);
        }
    }

    /// The viewer's connection dropped.
    pub fn connection_lost(&mut self) {
        self.stop(GateState::Disconnected, StopReason::ConnectionLost);
    }

    /// The session ended. Nothing is injected afterwards.
    pub fn end(&mut self) {
        self.stop(GateState::Ended, StopReason::Ended);
    }

    // ---- outputs ----

    /// The next event for the owner.
    pub fn poll_event(&mut self) -> Option<GateEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            GateState::LocalOverride { until } => Some(until),
            _ => None,
        }
    }

    /// Moves to `next`; emits `Stopped` when leaving a state where remote
    /// input was (or may soon again be) flowing. Ended is terminal.
    fn stop(&mut self, next: GateState, reason: StopReason) {
        if self.state == GateState::Ended || self.state == next {
            return;
        }
        let was_flowing = self.state == GateState::Controlling;
        self.state = next;
        if was_flowing {
            self.events.push_back(GateEvent::Stopped(reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A virtual clock: a fixed origin plus offsets, no sleeping.
    struct Clock(Instant);
    impl Clock {
        fn at(&self, ms: u64) -> Instant {
            self.0 + Duration::from_millis(ms)
        }
    }

    fn events(gate: &mut ControlGate) -> Vec<GateEvent> {
        std::iter::from_fn(|| gate.poll_event()).collect()
    }

    fn controlling(config: GateConfig) -> ControlGate {
        let mut gate = ControlGate::new(config);
        gate.grant();
        assert_eq!(events(&mut gate), [GateEvent::Resumed]);
        gate
    }

    #[test]
    fn view_only_admits_nothing() {
        let clock = Clock(Instant::now());
        let mut gate = ControlGate::new(GateConfig::default());
        assert_eq!(
            gate.admit(clock.at(0)),
            Admission::Refuse(GateState::ViewOnly)
        );
        gate.handle_local_activity(clock.at(1));
        assert_eq!(
            gate.admit(clock.at(10_000)),
            Admission::Refuse(GateState::ViewOnly)
        );
        assert_eq!(gate.poll_timeout(), None);
    }

    #[test]
    fn revoke_is_immediate_and_needs_a_new_grant() {
        let clock = Clock(Instant::now());
        let mut gate = controlling(GateConfig::default());
        assert_eq!(gate.admit(clock.at(0)), Admission::Admit);
        gate.revoke(RevokeCause::User);
        assert_eq!(
            events(&mut gate),
            [
                GateEvent::Stopped(StopReason::Revoked(RevokeCause::User)),
                GateEvent::Revoked(RevokeCause::User)
            ]
        );
        assert_eq!(
            gate.admit(clock.at(1)),
            Admission::Refuse(GateState::Revoked(RevokeCause::User))
        );
        // Time alone does not bring control back.
        assert_eq!(
            gate.admit(clock.at(3_600_000)),
            Admission::Refuse(GateState::Revoked(RevokeCause::User))
        );
        // Resume is for pauses, not revokes.
        gate.resume();
        assert_eq!(gate.state(), GateState::Revoked(RevokeCause::User));
        gate.grant();
        assert_eq!(gate.admit(clock.at(3_600_001)), Admission::Admit);
    }

    #[test]
    fn local_input_suspends_until_the_grace_period_passes_quietly() {
        let clock = Clock(Instant::now());
        let grace = Duration::from_millis(1500);
        let mut gate = controlling(GateConfig {
            local_takeback: LocalTakeback::Suspend { grace },
        });
        gate.handle_local_activity(clock.at(100));
        assert_eq!(
            events(&mut gate),
            [GateEvent::Stopped(StopReason::LocalInput)]
        );
        assert_eq!(gate.poll_timeout(), Some(clock.at(1600)));
        // More local input pushes the deadline out.
        gate.handle_local_activity(clock.at(1000));
        assert_eq!(gate.poll_timeout(), Some(clock.at(2500)));
        assert!(matches!(
            gate.admit(clock.at(2499)),
            Admission::Refuse(GateState::LocalOverride { .. })
        ));
        assert!(events(&mut gate).is_empty());
        gate.handle_timeout(clock.at(2500));
        assert_eq!(events(&mut gate), [GateEvent::Resumed]);
        assert_eq!(gate.admit(clock.at(2500)), Admission::Admit);
        assert_eq!(gate.poll_timeout(), None);
    }

    #[test]
    fn local_input_can_revoke_for_good() {
        let clock = Clock(Instant::now());
        let mut gate = controlling(GateConfig {
            local_takeback: LocalTakeback::Revoke,
        });
        gate.handle_local_activity(clock.at(5));
        assert_eq!(
            events(&mut gate),
            [
                GateEvent::Stopped(StopReason::LocalInput),
                GateEvent::Revoked(RevokeCause::LocalInput)
            ]
        );
        assert_eq!(gate.poll_timeout(), None);
        assert!(matches!(
            gate.admit(clock.at(999_999)),
            Admission::Refuse(GateState::Revoked(_))
        ));
    }

    #[test]
    fn local_input_ignored_when_takeback_is_off() {
        let clock = Clock(Instant::now());
        let mut gate = controlling(GateConfig {
            local_takeback: LocalTakeback::Off,
        });
        gate.handle_local_activity(clock.at(5));
        assert!(events(&mut gate).is_empty());
        assert_eq!(gate.admit(clock.at(6)), Admission::Admit);
    }

    #[test]
    fn pause_and_resume() {
        let clock = Clock(Instant::now());
        let mut gate = controlling(GateConfig::default());
        gate.pause();
        assert_eq!(events(&mut gate), [GateEvent::Stopped(StopReason::Paused)]);
        assert_eq!(
            gate.admit(clock.at(1)),
            Admission::Refuse(GateState::Paused)
        );
        // Local input while paused does not start a takeback timer.
        gate.handle_local_activity(clock.at(2));
        assert_eq!(gate.poll_timeout(), None);
        // A grant does not end a pause: only the host's user resumes.
        gate.grant();
        assert_eq!(gate.state(), GateState::Paused);
        gate.resume();
        assert_eq!(events(&mut gate), [GateEvent::Resumed]);
        assert_eq!(gate.admit(clock.at(3)), Admission::Admit);
    }

    #[test]
    fn pause_during_local_override_cancels_the_timer() {
        let clock = Clock(Instant::now());
        let mut gate = controlling(GateConfig::default());
        gate.handle_local_activity(clock.at(0));
        events(&mut gate);
        gate.pause();
        // Already stopped: no second Stopped, and the timer is gone.
        assert!(events(&mut gate).is_empty());
        assert_eq!(gate.poll_timeout(), None);
        gate.handle_timeout(clock.at(60_000));
        assert_eq!(gate.state(), GateState::Paused);
    }

    #[test]
    fn connection_loss_and_end_stop_injection() {
        let clock = Clock(Instant::now());
        let mut gate = controlling(GateConfig::default());
        gate.connection_lost();
        assert_eq!(
            events(&mut gate),
            [GateEvent::Stopped(StopReason::ConnectionLost)]
        );
        assert_eq!(
            gate.admit(clock.at(0)),
            Admission::Refuse(GateState::Disconnected)
        );
        gate.grant();
        assert_eq!(gate.admit(clock.at(1)), Admission::Admit);
        events(&mut gate);
        gate.end();
        assert_eq!(events(&mut gate), [GateEvent::Stopped(StopReason::Ended)]);
        gate.grant();
        gate.resume();
        gate.revoke(RevokeCause::User);
        assert_eq!(gate.admit(clock.at(2)), Admission::Refuse(GateState::Ended));
        assert!(events(&mut gate).is_empty(), "Ended is terminal");
    }
}
