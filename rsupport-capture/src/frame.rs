//! The pixel buffer every capture source produces and the codec consumes.

/// A 32-bit BGRA image, rows packed tightly (`stride == width * 4`).
///
/// BGRA is what X11 (ZPixmap, depth 24/32 on little-endian), Windows GDI/DXGI
/// and macOS hand out, so capture never converts colours.
#[derive(Clone, PartialEq, Eq)]
pub struct BgraFrame {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl std::fmt::Debug for BgraFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BgraFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// The pixel buffer does not match the dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{width}x{height} BGRA needs {expected} bytes, got {actual}")]
pub struct FrameSizeError {
    /// Width asked for.
    pub width: u32,
    /// Height asked for.
    pub height: u32,
    /// Bytes needed.
    pub expected: u64,
    /// Bytes given.
    pub actual: usize,
}

impl BgraFrame {
    /// A frame of `width` × `height` filled with one BGRA colour.
    pub fn filled(width: u32, height: u32, bgra: [u8; 4]) -> Self {
        let n = width as usize * height as usize;
        let mut pixels = Vec::with_capacity(n * 4);
        for _ in 0..n {
            pixels.extend_from_slice(&bgra);
        }
        BgraFrame {
            width,
            height,
            pixels,
        }
    }

    /// Wraps an existing BGRA buffer, checking its length.
    pub fn from_bgra(width: u32, height: u32, pixels: Vec<u8>) -> Result<Self, FrameSizeError> {
        let expected = u64::from(width) * u64::from(height) * 4;
        if pixels.len() as u64 != expected {
            return Err(FrameSizeError {
                width,
                height,
                expected,
                actual: pixels.len(),
            });
        }
        Ok(BgraFrame {
            width,
            height,
            pixels,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width as usize * 4
    }

    /// All pixels, row-major BGRA.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// All pixels, mutable.
    pub fn pixels_mut(&mut self) -> &mut [u8] {
        &mut self.pixels
    }

    /// One row of pixels (`None` past the bottom).
    pub fn row(&self, y: u32) -> Option<&[u8]> {
        let start = y as usize * self.stride();
        self.pixels.get(start..start + self.stride())
    }

    /// The BGRA value at `(x, y)` (`None` outside the frame).
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width {
            return None;
        }
        let i = y as usize * self.stride() + x as usize * 4;
        self.pixels.get(i..i + 4).and_then(|p| p.try_into().ok())
    }

    /// Gives the buffer back.
    pub fn into_pixels(self) -> Vec<u8> {
        self.pixels
    }

    /// Encodes the frame as an opaque PNG (screenshots, saved views).
    pub fn to_png(&self) -> Result<Vec<u8>, PngError> {
        let mut rgba = self.pixels.clone();
        for px in rgba.chunks_exact_mut(4) {
            px.swap(0, 2);
            px[3] = 0xFF;
        }
        let image = image::RgbaImage::from_raw(self.width, self.height, rgba)
            .ok_or_else(|| PngError("pixel buffer does not match the size".into()))?;
        let mut out = std::io::Cursor::new(Vec::new());
        image
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| PngError(e.to_string()))?;
        Ok(out.into_inner())
    }
}

/// PNG encoding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("png encoding failed: {0}")]
pub struct PngError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_bgra_checks_length() {
        assert!(BgraFrame::from_bgra(2, 2, vec![0; 16]).is_ok());
        assert_eq!(
            BgraFrame::from_bgra(2, 2, vec![0; 15])
                .unwrap_err()
                .expected,
            16
        );
    }

    #[test]
    fn png_round_trips_colours() {
        let mut f = BgraFrame::filled(4, 3, [10, 20, 30, 0]);
        f.pixels_mut()[0..4].copy_from_slice(&[1, 2, 3, 255]);
        let png = f.to_png().unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(back.dimensions(), (4, 3));
        assert_eq!(back.get_pixel(0, 0).0, [3, 2, 1, 255]);
        assert_eq!(back.get_pixel(3, 2).0, [30, 20, 10, 255]);
    }

    #[test]
    fn pixel_access_is_bounded() {
        let mut f = BgraFrame::filled(3, 2, [1, 2, 3, 255]);
        f.pixels_mut()[(3 + 2) * 4] = 9;
        assert_eq!(f.pixel(2, 1), Some([9, 2, 3, 255]));
        assert_eq!(f.pixel(3, 0), None);
        assert_eq!(f.pixel(0, 2), None);
        assert_eq!(f.row(1).map(<[u8]>::len), Some(12));
        assert_eq!(f.row(2), None);
    }
}
