//! Local-input takeback on a real X server: the detector ignores injected
//! (XTEST core) input and reports input from any other device; fed to the
//! controller, the local user's input stops remote control and releases
//! what the operator held.
//!
//! Xvfb has no hardware, so "the local user" is a second XInput 2 master
//! device pair created for the test: its input comes from its own slave
//! devices, just as a real keyboard's would.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
#![cfg(feature = "x11")]

use std::time::{Duration, Instant};

use rsupport_input::inject::{X11Injector, X11LocalActivity};
use rsupport_input::{
    ControlGate, CoordinateMapper, GateConfig, GateState, InputController, Monitor, Outcome,
};
use rsupport_proto::input::{InputMessage, KeyInput};
use rsupport_proto::Rect;
use rsupport_testkit::x11::{Observer, Seen};
use x11rb::connection::Connection;
use x11rb::protocol::xinput::{
    ConnectionExt as _, Device, DeviceType, HierarchyChange, HierarchyChangeData,
    HierarchyChangeDataAddMaster,
};
use x11rb::protocol::xproto::{ConnectionExt as _, KEY_PRESS_EVENT, KEY_RELEASE_EVENT};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

/// A client whose input comes from a separate master device pair.
fn local_user(display: &str) -> (RustConnection, u32) {
    let (conn, screen) = x11rb::connect(Some(display)).unwrap();
    let root = conn.setup().roots[screen].root;
    conn.xinput_xi_query_version(2, 2).unwrap().reply().unwrap();
    let name = b"local".to_vec();
    let len = u16::try_from((8 + name.len().div_ceil(4) * 4) / 4).unwrap();
    let add = HierarchyChange {
        len,
        data: HierarchyChangeData::AddMaster(HierarchyChangeDataAddMaster {
            send_core: true,
            enable: true,
            name,
        }),
    };
    conn.xinput_xi_change_hierarchy(&[add]).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    let all: u16 = Device::ALL.into();
    let devices = conn
        .xinput_xi_query_device(all)
        .unwrap()
        .reply()
        .unwrap()
        .infos;
    let pointer = devices
        .iter()
        .find(|d| d.type_ == DeviceType::MASTER_POINTER && d.name == b"local pointer")
        .expect("the new master pointer exists")
        .deviceid;
    conn.xinput_xi_set_client_pointer(0u32, pointer).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    (conn, root)
}

#[test]
fn local_input_takes_control_back_and_releases_operator_keys() {
    let xvfb = rsupport_testkit::x11::start_xvfb();
    let display = xvfb.display();
    let mut observer = Observer::open(&display);
    let mut detector = X11LocalActivity::connect(Some(&display)).unwrap();
    assert!(
        !detector.ignored_devices().is_empty(),
        "the XTEST devices are known"
    );
    let mut injector = X11Injector::connect(Some(&display)).unwrap();
    let monitors = vec![Monitor::new(Rect::new(0, 0, 1920, 1080), 1.0)];
    let mapper = CoordinateMapper::for_monitor(monitors, 0, 1920, 1080).unwrap();
    let mut input = InputController::new(ControlGate::new(GateConfig::default()), mapper);
    input.grant();

    // The operator holds Ctrl: injected input is not local activity.
    let ctrl = InputMessage::Key(KeyInput::new("ControlLeft", Some(0xffe3), true));
    assert_eq!(input.handle_input(Instant::now(), &ctrl), Outcome::Accepted);
    input.inject_pending(&mut injector).unwrap();
    injector.sync().unwrap();
    assert_eq!(
        observer.next(Duration::from_secs(10)),
        Some(Seen::KeyPress {
            keysym: 0xffe3,
            shift: false
        })
    );
    assert_eq!(
        detector.poll_synced().unwrap(),
        0,
        "injected input counted as local"
    );

    // The local user types on their own keyboard.
    let (local, root) = local_user(&display);
    local
        .xtest_fake_input(KEY_PRESS_EVENT, 38, 0, root, 0, 0, 0)
        .unwrap();
    local
        .xtest_fake_input(KEY_RELEASE_EVENT, 38, 0, root, 0, 0, 0)
        .unwrap();
    local.get_input_focus().unwrap().reply().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen_local = 0;
    while seen_local == 0 && Instant::now() < deadline {
        seen_local = detector.poll_synced().unwrap();
    }
    assert_eq!(seen_local, 1, "one local key press");

    // Fed to the controller: remote input stops, Ctrl is released on the server.
    input.handle_local_activity(Instant::now());
    assert!(matches!(input.state(), GateState::LocalOverride { .. }));
    input.inject_pending(&mut injector).unwrap();
    let seen = observer.until(|s| *s == Seen::KeyRelease { keysym: 0xffe3 });
    assert!(seen.contains(&Seen::KeyRelease { keysym: 0xffe3 }));
    injector.sync().unwrap();
    assert!(observer.keys_down().is_empty(), "no stuck Ctrl");
    let typed = InputMessage::Text { text: "x".into() };
    assert!(matches!(
        input.handle_input(Instant::now(), &typed),
        Outcome::Gated(_)
    ));
}
