//! Hiding the X11 root background (the wallpaper of a plain X desktop) for the
//! length of a session.
//!
//! The core protocol cannot read a window's background back, so the previous
//! one is found in one of two ways:
//!
//! 1. `_XROOTPMAP_ID` / `ESETROOT_PMAP_ID`: the pixmap wallpaper setters (feh,
//!    hsetroot, nitrogen, Esetroot…) publish and keep alive. Restoring sets it back.
//! 2. Otherwise (a solid `xsetroot -solid`, the default weave, a setter that
//!    publishes nothing): a snapshot. A screen-sized override-redirect window with
//!    a `ParentRelative` background is mapped for an instant, so the server paints
//!    the root's background into it, and that is copied into a pixmap. The screen
//!    shows the bare background for that instant; restoring sets the pixmap.
//!
//! Desktops that draw their wallpaper in a desktop window (GNOME, KDE, XFCE with
//! a desktop manager) are not affected by either: their wallpaper is not the root
//! background.

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, BackPixmap, ChangeWindowAttributesAux, ConnectionExt as _, CreateGCAux,
    CreateWindowAux, Pixmap, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;

use super::{backend, Atoms};
use crate::source::{CaptureError, WallpaperControl};

/// Root-background control on one X display. Restores on drop.
pub struct X11Wallpaper {
    conn: RustConnection,
    root: Window,
    depth: u8,
    size: (u16, u16),
    atoms: Atoms,
    solid_rgb: u32,
    saved: Option<Saved>,
}

#[derive(Debug, Clone, Copy)]
struct Saved {
    pixmap: Pixmap,
    /// True for our own snapshot (freed after restoring), false for a setter's pixmap.
    owned: bool,
}

impl std::fmt::Debug for X11Wallpaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Wallpaper")
            .field("root", &self.root)
            .field("hidden", &self.saved.is_some())
            .finish_non_exhaustive()
    }
}

impl X11Wallpaper {
    /// Connects to `display` (`None`: `$DISPLAY`); [`hide`](WallpaperControl::hide)
    /// will paint the background `solid_rgb` (`0xRRGGBB`).
    pub fn connect(display: Option<&str>, solid_rgb: u32) -> Result<Self, CaptureError> {
        let (conn, screen_num) =
            x11rb::connect(display).map_err(|e| CaptureError::Connect(e.to_string()))?;
        let screen = conn
            .setup()
            .roots
            .get(screen_num)
            .ok_or_else(|| CaptureError::Connect(format!("no screen {screen_num}")))?;
        let (root, depth) = (screen.root, screen.root_depth);
        let size = (screen.width_in_pixels, screen.height_in_pixels);
        let atoms = Atoms::new(&conn)
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        Ok(X11Wallpaper {
            conn,
            root,
            depth,
            size,
            atoms,
            solid_rgb: solid_rgb & 0x00ff_ffff,
            saved: None,
        })
    }

    /// The setter-published wallpaper pixmap, if the property names a live one.
    fn published_pixmap(&self) -> Option<Pixmap> {
        for atom in [self.atoms.xrootpmap_id, self.atoms.esetroot_pmap_id] {
            let reply = self
                .conn
                .get_property(false, self.root, atom, AtomEnum::PIXMAP, 0, 1)
                .ok()?
                .reply()
                .ok()?;
            let Some(pixmap) = reply.value32().and_then(|mut v| v.next()) else {
                continue;
            };
            // A setter that exited without RetainPermanent leaves a dead id behind.
            let alive = self
                .conn
                .get_geometry(pixmap)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some();
            if pixmap != x11rb::NONE && alive {
                return Some(pixmap);
            }
        }
        None
    }

    /// Copies what the root background looks like into a new pixmap.
    fn snapshot(&self) -> Result<Pixmap, CaptureError> {
        let c = &self.conn;
        let (w, h) = self.size;
        let pixmap = c.generate_id().map_err(backend)?;
        c.create_pixmap(self.depth, pixmap, self.root, w, h)
            .map_err(backend)?;
        let win = c.generate_id().map_err(backend)?;
        c.create_window(
            self.depth,
            win,
            self.root,
            0,
            0,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new()
                .background_pixmap(BackPixmap::PARENT_RELATIVE)
                .override_redirect(1),
        )
        .map_err(backend)?;
        c.map_window(win).map_err(backend)?;
        let gc = c.generate_id().map_err(backend)?;
        c.create_gc(gc, pixmap, &CreateGCAux::new().graphics_exposures(0))
            .map_err(backend)?;
        // Mapping paints the background before any later request runs, so the
        // copy sees the root background wherever `win` is (everywhere).
        c.copy_area(win, pixmap, gc, 0, 0, 0, 0, w, h)
            .map_err(backend)?;
        c.free_gc(gc).map_err(backend)?;
        c.destroy_window(win).map_err(backend)?;
        // Round trip: any error in the above surfaces here, not later.
        c.get_input_focus()
            .map_err(backend)?
            .reply()
            .map_err(backend)?;
        Ok(pixmap)
    }

    fn set_background(&self, aux: &ChangeWindowAttributesAux) -> Result<(), CaptureError> {
        self.conn
            .change_window_attributes(self.root, aux)
            .map_err(backend)?
            .check()
            .map_err(backend)?;
        // Repaint the visible background now (exposures for nobody: it is the root).
        self.conn
            .clear_area(false, self.root, 0, 0, 0, 0)
            .map_err(backend)?
            .check()
            .map_err(backend)
    }
}

impl WallpaperControl for X11Wallpaper {
    fn hide(&mut self) -> Result<(), CaptureError> {
        if self.saved.is_some() {
            return Ok(());
        }
        let saved = match self.published_pixmap() {
            Some(pixmap) => Saved {
                pixmap,
                owned: false,
            },
            None => Saved {
                pixmap: self.snapshot()?,
                owned: true,
            },
        };
        self.saved = Some(saved);
        let solid = ChangeWindowAttributesAux::new().background_pixel(self.solid_rgb);
        if let Err(e) = self.set_background(&solid) {
            // Leave nothing half-done: forget the snapshot and report.
            let _ = self.restore();
            return Err(e);
        }
        Ok(())
    }

    fn restore(&mut self) -> Result<(), CaptureError> {
        let Some(saved) = self.saved.take() else {
            return Ok(());
        };
        let result =
            self.set_background(&ChangeWindowAttributesAux::new().background_pixmap(saved.pixmap));
        if saved.owned {
            // The root keeps its own reference to a background pixmap; our id can go.
            let _ = self.conn.free_pixmap(saved.pixmap);
        }
        let _ = self.conn.flush();
        result
    }

    fn is_hidden(&self) -> bool {
        self.saved.is_some()
    }
}

impl Drop for X11Wallpaper {
    fn drop(&mut self) {
        let _ = self.restore();
    }
}
