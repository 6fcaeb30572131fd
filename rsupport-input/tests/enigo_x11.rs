//! The enigo injector (default backend) against a real X server: the same
//! observer window as the XTEST tests checks what arrived.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test
#![cfg(feature = "enigo")]

use rsupport_input::inject::EnigoInjector;
use rsupport_input::{DesktopPoint, Injector, InputEvent, Keysym};
use rsupport_proto::input::MouseButton;
use rsupport_testkit::x11::{keysyms_of, typed, Observer, Seen};

#[test]
fn enigo_moves_clicks_scrolls_and_types_on_x11() {
    let xvfb = rsupport_testkit::x11::start_xvfb();
    let mut observer = Observer::open(&xvfb.display());
    let mut enigo =
        EnigoInjector::for_x11_display(&xvfb.display()).expect("enigo connects to Xvfb");

    enigo
        .inject(&InputEvent::MoveTo(DesktopPoint::new(321, 123)))
        .unwrap();
    enigo
        .inject(&InputEvent::Button {
            button: MouseButton::Right,
            pressed: true,
        })
        .unwrap();
    enigo
        .inject(&InputEvent::Button {
            button: MouseButton::Right,
            pressed: false,
        })
        .unwrap();
    enigo
        .inject(&InputEvent::Scroll { dx: 0, dy: 240 })
        .unwrap();
    enigo.flush().unwrap();
    let seen = observer.until(|s| matches!(s, Seen::ButtonRelease(5)));
    let seen2 = observer.until(|s| matches!(s, Seen::ButtonRelease(5)));
    assert_eq!(seen.first(), Some(&Seen::Motion { x: 321, y: 123 }));
    let buttons: Vec<_> = seen
        .iter()
        .chain(&seen2)
        .filter(|s| !matches!(s, Seen::Motion { .. }))
        .copied()
        .collect();
    assert_eq!(
        buttons,
        [
            Seen::ButtonPress(3),
            Seen::ButtonRelease(3),
            Seen::ButtonPress(5),
            Seen::ButtonRelease(5),
            Seen::ButtonPress(5),
            Seen::ButtonRelease(5)
        ]
    );

    enigo
        .inject(&InputEvent::Key {
            keysym: Keysym(u32::from('q')),
            pressed: true,
        })
        .unwrap();
    enigo
        .inject(&InputEvent::Key {
            keysym: Keysym(u32::from('q')),
            pressed: false,
        })
        .unwrap();
    let text = "日本語😀";
    enigo.inject(&InputEvent::Text(text.into())).unwrap();
    enigo.flush().unwrap();
    let last = *keysyms_of(text).last().unwrap();
    let seen = observer.until(|s| *s == Seen::KeyRelease { keysym: last });
    let mut expected = vec![u32::from('q')];
    expected.extend(keysyms_of(text));
    assert_eq!(typed(&seen), expected);
}
