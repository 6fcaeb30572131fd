//! Records a real X11 screen into a folder of PNG frames (a codec corpus), and
//! sets deterministic photo-like wallpapers for such recordings.
//!
//! ```text
//! record capture   --display :99 --out DIR [--frames 60] [--fps 10] [--region X,Y,W,H]
//! record wallpaper --display :99 [--seed 1]
//! ```
//!
//! `capture` writes `DIR/frame-00000.png`, … and `DIR/frames.tsv` (frame, capture
//! time in ms, dirty rectangles as DAMAGE reported them or `full`).
//! `wallpaper` paints a generated landscape into a pixmap, makes it the root
//! background and publishes it in `_XROOTPMAP_ID`, as wallpaper setters do.
//! scripts/record-corpus.sh drives both under Xvfb with real programs.

#[cfg(target_os = "linux")]
fn main() {
    if let Err(e) = linux::run(std::env::args().skip(1).collect()) {
        eprintln!("record: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("record: the X11 backend is Linux-only");
    std::process::exit(1);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Write as _;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use rsupport_capture::source::{CaptureArea, Capturer, DirtyRegion, Rect, X11Capturer};
    use rsupport_capture::BgraFrame;
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        AtomEnum, ChangeWindowAttributesAux, CloseDown, ConnectionExt as _, CreateGCAux,
        ImageFormat, PropMode,
    };
    use x11rb::wrapper::ConnectionExt as _;

    type Error = Box<dyn std::error::Error>;

    struct Args {
        display: Option<String>,
        out: Option<String>,
        frames: u32,
        fps: u32,
        region: Option<Rect>,
        seed: u32,
    }

    fn parse(args: &[String]) -> Result<Args, Error> {
        let mut a = Args {
            display: None,
            out: None,
            frames: 60,
            fps: 10,
            region: None,
            seed: 1,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--display" => a.display = Some(value()?.clone()),
                "--out" => a.out = Some(value()?.clone()),
                "--frames" => a.frames = value()?.parse()?,
                "--fps" => a.fps = value()?.parse::<u32>()?.max(1),
                "--seed" => a.seed = value()?.parse()?,
                "--region" => {
                    let v: Vec<i64> = value()?
                        .split(',')
                        .map(str::parse)
                        .collect::<Result<_, _>>()?;
                    let [x, y, w, h] = v[..] else {
                        return Err("--region takes X,Y,W,H".into());
                    };
                    a.region = Some(Rect::new(x as i32, y as i32, w as u32, h as u32));
                }
                other => return Err(format!("unknown argument {other}").into()),
            }
        }
        Ok(a)
    }

    pub fn run(args: Vec<String>) -> Result<(), Error> {
        let (cmd, rest) = args
            .split_first()
            .ok_or("usage: record capture|wallpaper …")?;
        let a = parse(rest)?;
        match cmd.as_str() {
            "capture" => capture(&a),
            "wallpaper" => wallpaper(&a),
            other => Err(format!("unknown command {other}").into()),
        }
    }

    fn capture(a: &Args) -> Result<(), Error> {
        let out = std::path::PathBuf::from(a.out.as_deref().ok_or("--out is required")?);
        std::fs::create_dir_all(&out)?;
        let mut cap = X11Capturer::connect(a.display.as_deref())?;
        if let Some(r) = a.region {
            cap.select_area(CaptureArea::Region(r))?;
        }
        // PNG encoding is slower than capture: two writer threads keep the
        // capture cadence steady.
        let (tx, rx) = mpsc::sync_channel::<(u32, BgraFrame)>(8);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                let out = out.clone();
                std::thread::spawn(move || -> Result<(), String> {
                    loop {
                        let next = rx.lock().map_err(|e| e.to_string())?.recv();
                        let Ok((i, frame)) = next else { return Ok(()) };
                        write_png(&out.join(format!("frame-{i:05}.png")), &frame)
                            .map_err(|e| e.to_string())?;
                    }
                })
            })
            .collect();

        let mut log = std::fs::File::create(out.join("frames.tsv"))?;
        writeln!(log, "frame\tms\tdirty")?;
        let mut frame = BgraFrame::filled(0, 0, [0; 4]);
        let mut dirty = DirtyRegion::new();
        let period = Duration::from_secs(1) / a.fps;
        let start = Instant::now();
        for i in 0..a.frames {
            let due = start + period * i;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            cap.capture(&mut frame, &mut dirty)?;
            let rects = if dirty.is_full() {
                "full".to_string()
            } else {
                dirty
                    .rects()
                    .iter()
                    .map(|r| format!("{},{},{},{}", r.x, r.y, r.width, r.height))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            writeln!(log, "{i}\t{}\t{rects}", start.elapsed().as_millis())?;
            tx.send((i, frame.clone()))?;
        }
        drop(tx);
        for w in writers {
            w.join().map_err(|_| "writer panicked")??;
        }
        println!("record: {} frames in {}", a.frames, out.display());
        Ok(())
    }

    fn write_png(path: &std::path::Path, frame: &BgraFrame) -> Result<(), Error> {
        let mut rgba = frame.pixels().to_vec();
        for px in rgba.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
        image::save_buffer(
            path,
            &rgba,
            frame.width(),
            frame.height(),
            image::ExtendedColorType::Rgba8,
        )?;
        Ok(())
    }

    fn wallpaper(a: &Args) -> Result<(), Error> {
        let (conn, n) = x11rb::connect(a.display.as_deref())?;
        let screen = &conn.setup().roots[n];
        let (root, depth) = (screen.root, screen.root_depth);
        let (w, h) = (screen.width_in_pixels, screen.height_in_pixels);
        let pixmap = conn.generate_id()?;
        conn.create_pixmap(depth, pixmap, root, w, h)?;
        let gc = conn.generate_id()?;
        conn.create_gc(gc, pixmap, &CreateGCAux::new())?;
        // Strips small enough for a core request without BIG-REQUESTS.
        let rows_per_strip = (200_000 / (usize::from(w) * 4)).max(1) as u16;
        let mut strip = Vec::new();
        let mut y0 = 0u16;
        while y0 < h {
            let rows = rows_per_strip.min(h - y0);
            strip.clear();
            for y in y0..y0 + rows {
                for x in 0..w {
                    let [r, g, b] = landscape(a.seed, u32::from(x), u32::from(y), w, h);
                    strip.extend_from_slice(&[b, g, r, 0]);
                }
            }
            conn.put_image(
                ImageFormat::Z_PIXMAP,
                pixmap,
                gc,
                w,
                rows,
                0,
                y0 as i16,
                0,
                depth,
                &strip,
            )?;
            y0 += rows;
        }
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().background_pixmap(pixmap),
        )?;
        conn.clear_area(false, root, 0, 0, 0, 0)?;
        let prop = conn.intern_atom(false, b"_XROOTPMAP_ID")?.reply()?.atom;
        conn.change_property32(PropMode::REPLACE, root, prop, AtomEnum::PIXMAP, &[pixmap])?;
        // Keep the pixmap after we exit, like hsetroot/feh do.
        conn.set_close_down_mode(CloseDown::RETAIN_PERMANENT)?;
        conn.get_input_focus()?.reply()?;
        println!("record: wallpaper seed {} set ({w}x{h})", a.seed);
        Ok(())
    }

    /// A photo-like landscape: sky gradient, sun, layered hills with value-noise
    /// texture and grain. Integer hashing only, so it is the same everywhere.
    fn landscape(seed: u32, x: u32, y: u32, w: u16, h: u16) -> [u8; 3] {
        let (fw, fh) = (f32::from(w), f32::from(h));
        let (fx, fy) = (x as f32 / fw, y as f32 / fh);
        let grain = (hash(seed ^ 0x9e37, x, y) % 9) as f32 - 4.0;
        let mut ridge_top = 1.0f32;
        for layer in 0..3u32 {
            let base = 0.45 + 0.15 * layer as f32;
            let ridge = base - 0.12 * noise(seed + layer, fx * (3.0 + layer as f32), 0.5);
            ridge_top = ridge_top.min(ridge);
            if fy > ridge {
                let shade = 0.55 + 0.45 * noise(seed + 10 + layer, fx * 40.0, fy * 40.0);
                let depth = 1.0 - 0.25 * (2 - layer) as f32;
                let g = (90.0 + 80.0 * shade) * depth;
                let r = (40.0 + 60.0 * shade * (layer as f32 / 2.0)) * depth;
                let b = (50.0 + 30.0 * shade) * depth * (1.0 - 0.2 * layer as f32);
                if fy > base + 0.15 || layer == 2 {
                    return clamp3(r + grain, g + grain, b + grain);
                }
            }
        }
        let sun = ((fx - 0.72).powi(2) + (fy - 0.18).powi(2) * (fh / fw).powi(2) * 4.0).sqrt();
        let glow = (1.0 - sun * 6.0).max(0.0);
        let t = (fy / ridge_top.max(0.01)).min(1.0);
        let cloud = noise(seed + 99, fx * 6.0, fy * 12.0).powi(3) * 70.0;
        clamp3(
            70.0 + 150.0 * t + 180.0 * glow + cloud + grain,
            120.0 + 90.0 * t + 150.0 * glow + cloud + grain,
            220.0 - 40.0 * t + 60.0 * glow + cloud + grain,
        )
    }

    fn clamp3(r: f32, g: f32, b: f32) -> [u8; 3] {
        [r, g, b].map(|v| v.clamp(0.0, 255.0) as u8)
    }

    fn hash(seed: u32, x: u32, y: u32) -> u32 {
        let mut v = seed
            .wrapping_mul(0x27d4_eb2d)
            .wrapping_add(x.wrapping_mul(0x85eb_ca6b))
            .wrapping_add(y.wrapping_mul(0xc2b2_ae35));
        v ^= v >> 15;
        v = v.wrapping_mul(0x2c1b_3c6d);
        v ^= v >> 12;
        v
    }

    /// Smooth value noise in 0..1, two octaves.
    fn noise(seed: u32, x: f32, y: f32) -> f32 {
        let octave = |s: u32, x: f32, y: f32| {
            let (xi, yi) = (x.floor(), y.floor());
            let (tx, ty) = (x - xi, y - yi);
            let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
            let v = |dx: u32, dy: u32| {
                (hash(
                    s,
                    (xi as i64 as u32).wrapping_add(dx),
                    (yi as i64 as u32).wrapping_add(dy),
                ) & 0xffff) as f32
                    / 65535.0
            };
            let top = v(0, 0) + (v(1, 0) - v(0, 0)) * sx;
            let bottom = v(0, 1) + (v(1, 1) - v(0, 1)) * sx;
            top + (bottom - top) * sy
        };
        0.65 * octave(seed, x, y) + 0.35 * octave(seed ^ 0x5555, x * 2.0, y * 2.0)
    }
}
