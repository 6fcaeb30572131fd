//! Detects the local user's own input on X11, for local-input takeback.
//!
//! XInput 2 raw events report every device event with the *slave* device it
//! came from. Injected input arrives from the XTEST slave devices of the
//! virtual core master (where [`X11Injector`](super::X11Injector), enigo and
//! xdotool all inject), so anything from any other device — a real
//! keyboard, mouse or touchpad — is the local user. Feed each detection to
//! [`InputController::handle_local_activity`](crate::InputController::handle_local_activity).

use x11rb::connection::{Connection, RequestConnection as _};
use x11rb::protocol::xinput::{
    self, ConnectionExt as _, Device, DeviceId, DeviceType, EventMask, XIEventMask,
};
use x11rb::protocol::xproto::ConnectionExt as _;
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;

use super::InjectError;

fn backend(e: impl std::fmt::Display) -> InjectError {
    InjectError::Backend(e.to_string())
}

/// Watches an X server for input from devices other than the injection
/// (XTEST) devices.
pub struct X11LocalActivity {
    conn: RustConnection,
    ignored: Vec<DeviceId>,
}

impl std::fmt::Debug for X11LocalActivity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11LocalActivity")
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

impl X11LocalActivity {
    /// Connects to `display` (`None` reads `DISPLAY`) and starts listening
    /// to raw input of every device.
    pub fn connect(display: Option<&str>) -> Result<Self, InjectError> {
        let (conn, screen) =
            x11rb::connect(display).map_err(|e| InjectError::Connect(e.to_string()))?;
        if conn
            .extension_information(xinput::X11_EXTENSION_NAME)
            .map_err(backend)?
            .is_none()
        {
            return Err(InjectError::Unsupported(
                "the X server has no XInputExtension",
            ));
        }
        let version = conn
            .xinput_xi_query_version(2, 2)
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        if version.major_version < 2 {
            return Err(InjectError::Unsupported("the X server has no XInput 2"));
        }
        let root = conn
            .setup()
            .roots
            .get(screen)
            .ok_or(InjectError::Connect(format!("no screen {screen}")))?
            .root;
        let ignored = injection_devices(&conn)?;
        let mask =
            XIEventMask::RAW_KEY_PRESS | XIEventMask::RAW_BUTTON_PRESS | XIEventMask::RAW_MOTION;
        let all_masters: u16 = Device::ALL_MASTER.into();
        conn.xinput_xi_select_events(
            root,
            &[EventMask {
                deviceid: all_masters,
                mask: vec![mask],
            }],
        )
        .map_err(backend)?;
        conn.get_input_focus()
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        Ok(X11LocalActivity { conn, ignored })
    }

    /// The XTEST devices whose input is ignored.
    pub fn ignored_devices(&self) -> &[DeviceId] {
        &self.ignored
    }

    /// Drains pending events without blocking; returns how many raw input
    /// events came from local devices (key presses, button presses, motion).
    pub fn poll(&mut self) -> Result<usize, InjectError> {
        let mut local = 0;
        while let Some(event) = self.conn.poll_for_event().map_err(backend)? {
            let source = match event {
                Event::XinputRawKeyPress(e) => e.sourceid,
                Event::XinputRawButtonPress(e) => e.sourceid,
                Event::XinputRawMotion(e) => e.sourceid,
                _ => continue,
            };
            if !self.ignored.contains(&source) {
                local += 1;
            }
        }
        Ok(local)
    }

    /// Waits until the server has sent everything up to now, then drains:
    /// every event the server generated before this call is counted.
    pub fn poll_synced(&mut self) -> Result<usize, InjectError> {
        self.conn
            .get_input_focus()
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        self.poll()
    }
}

/// The XTEST slaves of the virtual core master pair: the devices that
/// carry injected input.
fn injection_devices(conn: &RustConnection) -> Result<Vec<DeviceId>, InjectError> {
    let all: u16 = Device::ALL.into();
    let devices = conn
        .xinput_xi_query_device(all)
        .map_err(backend)?
        .reply()
        .map_err(backend)?
        .infos;
    let core_masters: Vec<DeviceId> = devices
        .iter()
        .filter(|d| {
            matches!(
                d.type_,
                DeviceType::MASTER_POINTER | DeviceType::MASTER_KEYBOARD
            )
        })
        .filter(|d| d.name.starts_with(b"Virtual core"))
        .map(|d| d.deviceid)
        .collect();
    Ok(devices
        .iter()
        .filter(|d| {
            matches!(
                d.type_,
                DeviceType::SLAVE_POINTER | DeviceType::SLAVE_KEYBOARD
            )
        })
        .filter(|d| core_masters.contains(&d.attachment))
        .filter(|d| d.name.windows(5).any(|w| w == b"XTEST"))
        .map(|d| d.deviceid)
        .collect())
}
