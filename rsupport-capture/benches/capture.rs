//! X11 capture throughput at 1920x1080 under a private Xvfb: frames per second
//! and CPU time per frame (ours and the X server's), MIT-SHM against the plain
//! `GetImage` baseline in the same run.
//!
//! ```text
//! cargo bench -p rsupport-capture --bench capture            # 300 frames each
//! CAPTURE_BENCH_FRAMES=1000 cargo bench -p rsupport-capture --bench capture
//! ```
//!
//! Prints numbers; asserts nothing about speed.

#[cfg(target_os = "linux")]
fn main() {
    linux::run();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("capture bench: the X11 backend is Linux-only; nothing to measure here");
}

#[cfg(target_os = "linux")]
mod linux {
    #![allow(clippy::unwrap_used)] // bench set-up: fail loudly

    use std::time::{Duration, Instant};

    use rsupport_capture::source::{
        CaptureMethod, Capturer, DirtyRegion, WindowId, WindowSelection, X11Capturer,
    };
    use rsupport_capture::BgraFrame;
    use rsupport_testkit::Xvfb;
    use rustix::time::{clock_gettime, ClockId};
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        ConnectionExt as _, CreateGCAux, CreateWindowAux, Rectangle, WindowClass,
    };

    struct Result {
        label: &'static str,
        fps: f64,
        client_ms: f64,
        server_ms: f64,
    }

    pub fn run() {
        let frames: u32 = std::env::var("CAPTURE_BENCH_FRAMES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300);
        let x = Xvfb::start(); // 1920x1080x24
        let server_pid = xvfb_pid(x.number());
        let window = draw_desktop(&x.display());
        println!(
            "capture bench: 1920x1080 Xvfb :{} (pid {server_pid:?}), {frames} frames per case",
            x.number()
        );

        let mut results = vec![
            measure(
                &x.display(),
                CaptureMethod::GetImage,
                None,
                frames,
                server_pid,
            ),
            measure(&x.display(), CaptureMethod::Shm, None, frames, server_pid),
            measure(
                &x.display(),
                CaptureMethod::Shm,
                Some(window),
                frames,
                server_pid,
            ),
        ];
        results[2].label = "shm + app selection";
        let base = results[0].fps;
        println!(
            "{:<22} {:>9} {:>16} {:>16} {:>12}",
            "method", "frames/s", "client CPU ms/fr", "Xvfb CPU ms/fr", "vs GetImage"
        );
        for r in &results {
            println!(
                "{:<22} {:>9.1} {:>16.2} {:>16.2} {:>11.2}x",
                r.label,
                r.fps,
                r.client_ms,
                r.server_ms,
                r.fps / base
            );
        }
    }

    fn measure(
        display: &str,
        method: CaptureMethod,
        only: Option<u32>,
        frames: u32,
        server_pid: Option<u32>,
    ) -> Result {
        let mut cap = X11Capturer::connect_with(Some(display), method).expect("connect");
        assert_eq!(cap.method(), method, "{method:?} not available");
        if let Some(w) = only {
            cap.select_windows(WindowSelection::Only(vec![WindowId(u64::from(w))]))
                .expect("select");
        }
        let mut frame = BgraFrame::filled(0, 0, [0; 4]);
        let mut dirty = DirtyRegion::new();
        for _ in 0..10 {
            cap.capture(&mut frame, &mut dirty).expect("capture");
        }
        let (cpu0, srv0, t0) = (cpu_now(), server_cpu(server_pid), Instant::now());
        for _ in 0..frames {
            cap.capture(&mut frame, &mut dirty).expect("capture");
            std::hint::black_box(frame.pixels());
        }
        let wall = t0.elapsed();
        let cpu = cpu_now().saturating_sub(cpu0);
        let srv = server_cpu(server_pid).saturating_sub(srv0);
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(frames);
        Result {
            label: match method {
                CaptureMethod::Shm => "shm",
                _ => "getimage (baseline)",
            },
            fps: f64::from(frames) / wall.as_secs_f64(),
            client_ms: per(cpu),
            server_ms: per(srv),
        }
    }

    /// Our process's CPU time (all threads).
    fn cpu_now() -> Duration {
        let t = clock_gettime(ClockId::ProcessCPUTime);
        Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
    }

    /// utime + stime of the X server from /proc/<pid>/stat.
    fn server_cpu(pid: Option<u32>) -> Duration {
        let Some(pid) = pid else {
            return Duration::ZERO;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return Duration::ZERO;
        };
        // Fields after the ")" that closes the command name; utime, stime are 14, 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum();
        let hz = rustix::param::clock_ticks_per_second().max(1);
        Duration::from_nanos(ticks * 1_000_000_000 / hz)
    }

    /// Xvfb writes its pid into the display lock file.
    fn xvfb_pid(display: u32) -> Option<u32> {
        std::fs::read_to_string(format!("/tmp/.X{display}-lock"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// A busy desktop: many coloured rectangles on the root and a few windows;
    /// returns one window for the app-selection case.
    fn draw_desktop(display: &str) -> u32 {
        let (conn, n) = x11rb::connect(Some(display)).expect("connect");
        let screen = &conn.setup().roots[n];
        let (root, depth) = (screen.root, screen.root_depth);
        let gc = conn.generate_id().unwrap();
        conn.create_gc(gc, root, &CreateGCAux::new()).unwrap();
        let mut seed = 0x2545_f491_u32;
        for _ in 0..400 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            conn.change_gc(
                gc,
                &x11rb::protocol::xproto::ChangeGCAux::new().foreground(seed & 0xff_ffff),
            )
            .unwrap();
            let r = Rectangle {
                x: (seed % 1900) as i16,
                y: ((seed >> 8) % 1060) as i16,
                width: (20 + (seed >> 4) % 300) as u16,
                height: (20 + (seed >> 12) % 200) as u16,
            };
            conn.poly_fill_rectangle(root, gc, &[r]).unwrap();
        }
        let mut last = 0;
        for i in 0..5i16 {
            let w = conn.generate_id().unwrap();
            conn.create_window(
                depth,
                w,
                root,
                100 + i * 250,
                100 + i * 120,
                640,
                480,
                0,
                WindowClass::INPUT_OUTPUT,
                x11rb::COPY_FROM_PARENT,
                &CreateWindowAux::new().background_pixel(0x30_30_30 + u32::from(i as u16) * 0x20),
            )
            .unwrap();
            conn.map_window(w).unwrap();
            last = w;
        }
        conn.get_input_focus().unwrap().reply().unwrap();
        // The drawing connection closes here; windows die with it unless kept.
        conn.set_close_down_mode(x11rb::protocol::xproto::CloseDown::RETAIN_PERMANENT)
            .unwrap();
        conn.get_input_focus().unwrap().reply().unwrap();
        last
    }
}
