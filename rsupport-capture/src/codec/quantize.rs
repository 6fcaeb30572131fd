//! Colour depth reduction, applied by the host before encoding so fewer
//! colours reach the tile encoder (longer runs, smaller palettes). The viewer
//! still receives BGRA.

use rsupport_proto::ColorDepth;

/// The 16 colours of the classic VGA palette, BGR.
const VGA16: [[u8; 3]; 16] = [
    [0, 0, 0],
    [0, 0, 128],
    [0, 128, 0],
    [0, 128, 128],
    [128, 0, 0],
    [128, 0, 128],
    [128, 128, 0],
    [192, 192, 192],
    [128, 128, 128],
    [0, 0, 255],
    [0, 255, 0],
    [0, 255, 255],
    [255, 0, 0],
    [255, 0, 255],
    [255, 255, 0],
    [255, 255, 255],
];

/// Maps pixels to a reduced colour depth through lookup tables built once.
#[derive(Debug, Clone)]
pub(crate) struct Quantizer {
    depth: ColorDepth,
    /// 4-4-4 bit BGR → output colour, for the palette depths.
    table: Vec<[u8; 3]>,
}

/// Widens an `n`-bit value to 8 bits by repeating its high bits.
fn widen(v: u8, bits: u32) -> u8 {
    let v = u32::from(v) << (8 - bits);
    let mut out = v;
    let mut shift = bits;
    while shift < 8 {
        out |= v >> shift;
        shift += bits;
    }
    out as u8
}

fn nearest(palette: &[[u8; 3]], bgr: [u8; 3]) -> [u8; 3] {
    let dist = |p: &[u8; 3]| -> u32 {
        p.iter()
            .zip(bgr)
            .map(|(a, b)| u32::from(a.abs_diff(b)).pow(2))
            .sum()
    };
    palette.iter().copied().min_by_key(dist).unwrap_or([0; 3])
}

impl Quantizer {
    pub(crate) fn new(depth: ColorDepth) -> Self {
        let mut table = Vec::new();
        if matches!(depth, ColorDepth::Colors16 | ColorDepth::Colors4) {
            let grays: [[u8; 3]; 4] = [[0; 3], [85; 3], [170; 3], [255; 3]];
            for i in 0..4096u32 {
                let bgr = [
                    widen((i >> 8) as u8 & 15, 4),
                    widen((i >> 4) as u8 & 15, 4),
                    widen(i as u8 & 15, 4),
                ];
                table.push(if depth == ColorDepth::Colors16 {
                    nearest(&VGA16, bgr)
                } else {
                    // Luminance to 4 grey levels.
                    let l =
                        (u32::from(bgr[0]) * 29 + u32::from(bgr[1]) * 150 + u32::from(bgr[2]) * 77)
                            >> 8;
                    grays[(l as usize * 4 / 256).min(3)]
                });
            }
        }
        Quantizer { depth, table }
    }

    pub(crate) fn depth(&self) -> ColorDepth {
        self.depth
    }

    /// Whether this depth changes pixels at all.
    pub(crate) fn is_identity(&self) -> bool {
        self.depth == ColorDepth::TrueColor
    }

    /// Quantises `src` (BGRA) into `dst` (same length). Alpha is kept.
    pub(crate) fn apply(&self, src: &[u8], dst: &mut [u8]) {
        let pairs = src.chunks_exact(4).zip(dst.chunks_exact_mut(4));
        match self.depth {
            ColorDepth::HighColor => {
                for (s, d) in pairs {
                    d.copy_from_slice(&[
                        widen(s[0] >> 3, 5),
                        widen(s[1] >> 2, 6),
                        widen(s[2] >> 3, 5),
                        s[3],
                    ]);
                }
            }
            ColorDepth::Colors256 => {
                // 3-3-2 bits (R, G, B): 256 colours with no palette to send.
                for (s, d) in pairs {
                    d.copy_from_slice(&[
                        widen(s[0] >> 6, 2),
                        widen(s[1] >> 5, 3),
                        widen(s[2] >> 5, 3),
                        s[3],
                    ]);
                }
            }
            ColorDepth::Colors16 | ColorDepth::Colors4 => {
                for (s, d) in pairs {
                    let key = (usize::from(s[0] >> 4) << 8)
                        | (usize::from(s[1] >> 4) << 4)
                        | usize::from(s[2] >> 4);
                    let c = self.table.get(key).copied().unwrap_or([0; 3]);
                    d.copy_from_slice(&[c[0], c[1], c[2], s[3]]);
                }
            }
            _ => dst.copy_from_slice(src),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn distinct_after(depth: ColorDepth) -> usize {
        let mut src = Vec::new();
        for i in 0..(1u32 << 16) {
            let v = i.wrapping_mul(2_654_435_761);
            src.extend_from_slice(&[v as u8, (v >> 8) as u8, (v >> 16) as u8, 255]);
        }
        let mut dst = vec![0; src.len()];
        Quantizer::new(depth).apply(&src, &mut dst);
        dst.chunks_exact(4)
            .map(|c| c.to_vec())
            .collect::<HashSet<_>>()
            .len()
    }

    #[test]
    fn depths_bound_the_number_of_colours() {
        assert!(distinct_after(ColorDepth::HighColor) <= 1 << 16);
        assert!(distinct_after(ColorDepth::HighColor) > 256);
        assert!(distinct_after(ColorDepth::Colors256) <= 256);
        assert!(distinct_after(ColorDepth::Colors16) <= 16);
        assert!(distinct_after(ColorDepth::Colors4) <= 4);
    }

    #[test]
    fn widening_keeps_black_and_white() {
        assert_eq!(widen(0, 5), 0);
        assert_eq!(widen(31, 5), 255);
        assert_eq!(widen(63, 6), 255);
        assert_eq!(widen(3, 2), 255);
    }
}
