//! Downscaling a frame before it is encoded (the viewer's "scale" display
//! setting): fewer pixels to encode and send on slow links.

use crate::BgraFrame;

/// The size of `width` × `height` scaled to `percent` (1..=100), at least 1×1.
pub fn scaled_size(width: u32, height: u32, percent: u32) -> (u32, u32) {
    let p = u64::from(percent.clamp(1, 100));
    let w = (u64::from(width) * p / 100).max(1);
    let h = (u64::from(height) * p / 100).max(1);
    (w as u32, h as u32)
}

/// The largest percent (1..=100) at which `width` × `height` still fits in
/// `max_pixels`: what a host applies to a screen larger than its viewer holds.
pub fn fit_percent(width: u32, height: u32, max_pixels: u64) -> u32 {
    let area = |p: u32| {
        let (w, h) = scaled_size(width, height, p);
        u64::from(w) * u64::from(h)
    };
    if area(100) <= max_pixels {
        return 100;
    }
    // sqrt of the area ratio is close; step down past rounding.
    let ratio = max_pixels as f64 / (u64::from(width) * u64::from(height)) as f64;
    let mut p = ((ratio.sqrt() * 100.0).floor() as u32).clamp(1, 100);
    while p > 1 && area(p) > max_pixels {
        p -= 1;
    }
    p
}

/// The scale a host sends at: the viewer's requested `percent` (0 or 100 =
/// full size), or less when the full screen would not fit in `max_pixels`.
pub fn effective_percent(percent: u32, width: u32, height: u32, max_pixels: u64) -> u32 {
    let requested = if (1..100).contains(&percent) {
        percent
    } else {
        100
    };
    requested.min(fit_percent(width, height, max_pixels))
}

/// Writes `src` scaled to `percent` into `dst` (resized as needed), each
/// destination pixel the average of the source pixels it covers, so text
/// stays legible rather than dropping whole rows and columns.
pub fn downscale(src: &BgraFrame, percent: u32, dst: &mut BgraFrame) {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (dw, dh) = scaled_size(src.width(), src.height(), percent);
    let (dw, dh) = (dw as usize, dh as usize);
    if dst.width() as usize != dw || dst.height() as usize != dh {
        *dst = BgraFrame::filled(dw as u32, dh as u32, [0, 0, 0, 0]);
    }
    if sw == 0 || sh == 0 {
        return;
    }
    let pixels = src.pixels();
    let out = dst.pixels_mut();
    for dy in 0..dh {
        let y0 = dy * sh / dh;
        let y1 = ((dy + 1) * sh / dh).max(y0 + 1).min(sh);
        for dx in 0..dw {
            let x0 = dx * sw / dw;
            let x1 = ((dx + 1) * sw / dw).max(x0 + 1).min(sw);
            let mut sum = [0u32; 4];
            for y in y0..y1 {
                let row = &pixels[(y * sw + x0) * 4..(y * sw + x1) * 4];
                for px in row.chunks_exact(4) {
                    for (s, v) in sum.iter_mut().zip(px) {
                        *s += u32::from(*v);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            let o = (dy * dw + dx) * 4;
            for (c, s) in out[o..o + 4].iter_mut().zip(sum) {
                *c = ((s + n / 2) / n) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_size_averages_two_by_two_blocks() {
        let mut src = BgraFrame::filled(4, 2, [0, 0, 0, 255]);
        // Left 2×2 block: two white pixels, two black → mid grey.
        src.pixels_mut()[0..4].copy_from_slice(&[255, 255, 255, 255]);
        src.pixels_mut()[4 * 4 + 4..4 * 4 + 8].copy_from_slice(&[255, 255, 255, 255]);
        let mut dst = BgraFrame::filled(0, 0, [0; 4]);
        downscale(&src, 50, &mut dst);
        assert_eq!((dst.width(), dst.height()), (2, 1));
        assert_eq!(dst.pixel(0, 0), Some([128, 128, 128, 255]));
        assert_eq!(dst.pixel(1, 0), Some([0, 0, 0, 255]));
    }

    #[test]
    fn screens_larger_than_the_viewer_holds_are_scaled_to_fit() {
        let max = 3840 * 2160;
        assert_eq!(fit_percent(1920, 1080, max), 100);
        assert_eq!(fit_percent(3840, 2160, max), 100);
        let p = fit_percent(5120, 2880, max);
        let (w, h) = scaled_size(5120, 2880, p);
        assert!(u64::from(w) * u64::from(h) <= max, "{p}% gives {w}x{h}");
        let (w, h) = scaled_size(5120, 2880, p + 1);
        assert!(
            u64::from(w) * u64::from(h) > max,
            "{p}% is the largest that fits"
        );
        assert_eq!(effective_percent(0, 5120, 2880, max), p);
        assert_eq!(effective_percent(50, 5120, 2880, max), 50);
        assert_eq!(effective_percent(90, 1920, 1080, max), 90);
        assert_eq!(fit_percent(8192, 8192, 1), 1);
    }

    #[test]
    fn full_scale_is_a_copy_and_sizes_never_reach_zero() {
        let mut src = BgraFrame::filled(3, 3, [1, 2, 3, 4]);
        src.pixels_mut()[8] = 99;
        let mut dst = BgraFrame::filled(0, 0, [0; 4]);
        downscale(&src, 100, &mut dst);
        assert_eq!(dst, src);
        assert_eq!(scaled_size(3, 3, 1), (1, 1));
        assert_eq!(scaled_size(1920, 1080, 50), (960, 540));
    }
}
