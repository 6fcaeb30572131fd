//! Encodes a folder of PNG frames (or a synthetic sequence) with the tile
//! codec and prints one JSON line of sizes and timings.
//!
//! ```text
//! cargo run --release -p rsupport-capture --example encode_corpus -- <folder of PNGs>
//! cargo run --release -p rsupport-capture --example encode_corpus -- --synthetic typing --frames 120
//! options: --depth 24|16|256|16c|4   --lossy   --cache <entries>   --no-motion   --zstd <level>
//!          --verbose (per-frame stats on stderr)   --size 1920x1080 (synthetic)   --damage (pass damage rectangles: the generator's, or a folder's frames.tsv)
//! ```
//!
//! Frames are read in file-name order. Byte and time figures cover the delta
//! frames (every frame after the first); the key frame is reported apart.
//! `bytes` is the size of the protobuf `FrameUpdate` (before the session
//! envelope and TLS). `lossless_match` says whether every decoded frame equals
//! its input (expected `false` for reduced depths and lossy mode). Times are
//! given as wall clock and as this thread's CPU time (`*_cpu_ms`, Linux),
//! which stays honest on a loaded machine; `baseline_frame_compare_cpu_ms` is
//! one whole-frame `==` against the previous frame, measured in the same run.

use std::path::PathBuf;
use std::time::Instant;

use rsupport_capture::codec::synthetic::{Scenario, Sequence};
use rsupport_capture::codec::{Decoder, Encoder, EncoderConfig, Limits};
use rsupport_capture::source::{DirtyRegion, Rect};
use rsupport_capture::BgraFrame;
use rsupport_proto::ColorDepth;

enum Input {
    /// PNG paths in order, and per frame the damage rectangles from the
    /// capture's `frames.tsv` (`None` = whole frame).
    Folder(Vec<PathBuf>, Option<Vec<Option<Vec<Rect>>>>),
    Synthetic(Sequence, usize),
}

impl Input {
    fn next(&mut self) -> Result<Option<BgraFrame>, String> {
        match self {
            Input::Folder(paths, _) => {
                if paths.is_empty() {
                    return Ok(None);
                }
                let path = paths.remove(0);
                let rgba = image::open(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .to_rgba8();
                let (w, h) = rgba.dimensions();
                let mut px = rgba.into_raw();
                for p in px.chunks_exact_mut(4) {
                    p.swap(0, 2);
                }
                BgraFrame::from_bgra(w, h, px)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }
            Input::Synthetic(seq, left) => {
                if *left == 0 {
                    return Ok(None);
                }
                *left -= 1;
                Ok(Some(seq.next_frame()))
            }
        }
    }
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

fn parse_args() -> Result<(Input, EncoderConfig, String, bool, bool), String> {
    let mut args = std::env::args().skip(1);
    let mut config = EncoderConfig::default();
    let mut folder = None;
    let mut synthetic = None;
    let mut frames = 60usize;
    let mut damage = false;
    let mut verbose = false;
    let (mut width, mut height) = (1920u32, 1080u32);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--depth" => {
                config.color_depth = match value()?.as_str() {
                    "24" => ColorDepth::TrueColor,
                    "16" => ColorDepth::HighColor,
                    "256" => ColorDepth::Colors256,
                    "16c" => ColorDepth::Colors16,
                    "4" => ColorDepth::Colors4,
                    other => return Err(format!("unknown depth {other}")),
                }
            }
            "--lossy" => config.allow_lossy = true,
            "--damage" => damage = true,
            "--verbose" => verbose = true,
            "--zstd" => config.zstd_level = value()?.parse().map_err(|e| format!("--zstd: {e}"))?,
            "--no-motion" => config.detect_motion = false,
            "--cache" => {
                config.cache_entries = value()?.parse().map_err(|e| format!("--cache: {e}"))?
            }
            "--frames" => frames = value()?.parse().map_err(|e| format!("--frames: {e}"))?,
            "--synthetic" => {
                let name = value()?;
                synthetic =
                    Some(Scenario::from_name(&name).ok_or(format!("unknown scenario {name}"))?);
            }
            "--size" => {
                let v = value()?;
                let (w, h) = v.split_once('x').ok_or("--size WxH")?;
                width = w.parse().map_err(|_| "--size WxH")?;
                height = h.parse().map_err(|_| "--size WxH")?;
            }
            _ if !a.starts_with("--") => folder = Some(PathBuf::from(a)),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    if let Some(s) = synthetic {
        return Ok((
            Input::Synthetic(Sequence::new(s, width, height, 42), frames),
            config,
            format!("synthetic:{}", s.name()),
            damage,
            verbose,
        ));
    }
    let folder = folder.ok_or(
        "usage: encode_corpus <folder of PNGs> | --synthetic <typing|scrolling|window-drag|video>",
    )?;
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png")))
        .collect();
    paths.sort();
    let hints = if damage {
        Some(read_damage(&folder.join("frames.tsv"))?)
    } else {
        None
    };
    Ok((
        Input::Folder(paths, hints),
        config,
        folder.display().to_string(),
        damage,
        verbose,
    ))
}

/// Reads `frame<TAB>ms<TAB>dirty` lines, `dirty` being `full` or
/// space-separated `x,y,w,h` rectangles (the capture recorder's format).
fn read_damage(path: &std::path::Path) -> Result<Vec<Option<Vec<Rect>>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let dirty = line.split('\t').nth(2).unwrap_or("full").trim();
        if dirty == "full" {
            out.push(None);
            continue;
        }
        let mut rects = Vec::new();
        for r in dirty.split_whitespace() {
            let v: Vec<i64> = r.split(',').filter_map(|n| n.parse().ok()).collect();
            if let [x, y, w, h] = v[..] {
                rects.push(Rect::new(x as i32, y as i32, w as u32, h as u32));
            }
        }
        out.push(Some(rects));
    }
    Ok(out)
}

/// CPU time of this thread, ms: unlike wall time it does not grow when other
/// programs share the cores.
fn cpu_ms() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
    }
    #[cfg(not(target_os = "linux"))]
    {
        0.0
    }
}

/// Wall and CPU milliseconds spent in `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (wall, cpu) = (Instant::now(), cpu_ms());
    let out = f();
    (out, wall.elapsed().as_secs_f64() * 1e3, cpu_ms() - cpu)
}

#[derive(Default)]
struct Series {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Series {
    fn push(&mut self, wall: f64, cpu: f64) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }
}

fn main() -> Result<(), String> {
    let (mut input, config, source, use_damage, verbose) = parse_args()?;
    let mut encoder = Encoder::new(config.clone());
    let mut limits = Limits::default();
    limits.cache_entries = config.cache_entries;
    let mut decoder = Decoder::new(limits);
    let (mut bytes, mut enc, mut dec, mut base) = (
        Vec::new(),
        Series::default(),
        Series::default(),
        Series::default(),
    );
    let (mut key_bytes, mut key_ms) = (0usize, 0.0f64);
    let mut lossless = true;
    let mut abs_err = 0u64;
    let mut samples = 0u64;
    let mut count = 0usize;
    let mut prev: Option<BgraFrame> = None;
    while let Some(frame) = input.next()? {
        let damage = match (&input, use_damage) {
            (Input::Synthetic(seq, _), true) => Some(seq.damage().clone()),
            (Input::Folder(_, Some(list)), true) => {
                let mut d = DirtyRegion::new();
                match list.get(count) {
                    Some(Some(rects)) => {
                        for r in rects {
                            d.add(*r, frame.width(), frame.height());
                        }
                    }
                    _ => d.set_full(),
                }
                Some(d)
            }
            _ => None,
        };
        let (update, e_wall, e_cpu) = timed(|| match &damage {
            Some(d) => encoder.encode_damaged(&frame, d, 0),
            None => encoder.encode(&frame, 0),
        });
        let update = update.map_err(|e| e.to_string())?;
        let size = update.encode().len();
        if verbose {
            eprintln!(
                "frame {count}: {size} bytes, {e_cpu:.3} ms cpu, {:?}",
                encoder.last_stats()
            );
        }
        let (applied, d_wall, d_cpu) = timed(|| decoder.apply(&update));
        applied.map_err(|e| format!("frame {count}: {e}"))?;
        let out = decoder.frame().ok_or("no frame after decoding")?;
        if out != &frame {
            lossless = false;
            abs_err += out
                .pixels()
                .iter()
                .zip(frame.pixels())
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum::<u64>();
        }
        samples += frame.pixels().len() as u64;
        if count == 0 {
            key_bytes = size;
            key_ms = e_wall;
        } else {
            bytes.push(size as f64);
            enc.push(e_wall, e_cpu);
            dec.push(d_wall, d_cpu);
            // Baseline: one whole-frame compare with the previous frame, the
            // least work any diffing encoder without damage hints does.
            if let Some(p) = &prev {
                let (same, b_wall, b_cpu) =
                    timed(|| std::hint::black_box(p.pixels() == frame.pixels()));
                std::hint::black_box(same);
                base.push(b_wall, b_cpu);
            }
        }
        prev = Some(frame);
        count += 1;
    }
    if count == 0 {
        return Err("no frames".into());
    }
    let mean_cpu = mean(&enc.cpu);
    println!(
        "{{\"source\":\"{}\",\"frames\":{count},\"depth\":\"{:?}\",\"lossy\":{},\"damage_hints\":{use_damage},\"key_frame_bytes\":{key_bytes},\"key_frame_encode_ms\":{key_ms:.3},\"mean_bytes_per_frame\":{:.1},\"p95_bytes_per_frame\":{:.0},\"mean_encode_ms\":{:.3},\"p95_encode_ms\":{:.3},\"mean_encode_cpu_ms\":{mean_cpu:.3},\"p95_encode_cpu_ms\":{:.3},\"encode_fps_cpu\":{:.1},\"mean_decode_ms\":{:.3},\"mean_decode_cpu_ms\":{:.3},\"baseline_frame_compare_cpu_ms\":{:.3},\"lossless_match\":{lossless},\"mean_abs_error\":{:.4}}}",
        source.replace('\\', "\\\\").replace('"', "\\\""),
        config.color_depth,
        config.allow_lossy,
        mean(&bytes),
        percentile(&bytes, 0.95),
        mean(&enc.wall),
        percentile(&enc.wall, 0.95),
        percentile(&enc.cpu, 0.95),
        if mean_cpu > 0.0 { 1e3 / mean_cpu } else { 0.0 },
        mean(&dec.wall),
        mean(&dec.cpu),
        mean(&base.cpu),
        abs_err as f64 / samples.max(1) as f64,
    );
    Ok(())
}
