//! Top-level windows on X11: what can be shared, and what of it is visible.
//!
//! With a window manager, clients are reparented into frame windows; the
//! EWMH `_NET_CLIENT_LIST` names the clients. Without one, the mapped children of
//! the root are the clients. Either way stacking order comes from the root's
//! children (bottom to top), which is what covers what on screen.

use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, MapState, Window, WindowClass};
use x11rb::rust_connection::RustConnection;

use super::{backend, Atoms};
use crate::source::mask::StackedWindow;
use crate::source::types::{CaptureError, Rect, WindowId, WindowInfo};

/// A direct child of the root as masking sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct TopLevel {
    pub(super) window: Window,
    /// Including the border.
    pub(super) outer: Rect,
}

/// The viewable (mapped and not inside an unmapped parent) children of the root,
/// bottom to top.
pub(super) fn stacking(conn: &RustConnection, root: Window) -> Result<Vec<TopLevel>, CaptureError> {
    let children = conn
        .query_tree(root)
        .map_err(backend)?
        .reply()
        .map_err(backend)?
        .children;
    // Send every request first, then read the replies: one round trip, not 2n.
    let mut cookies = Vec::with_capacity(children.len());
    for &w in &children {
        cookies.push((
            w,
            conn.get_window_attributes(w).map_err(backend)?,
            conn.get_geometry(w).map_err(backend)?,
        ));
    }
    let mut out = Vec::with_capacity(children.len());
    for (window, attrs, geom) in cookies {
        // A window destroyed meanwhile answers with an error: it covers nothing.
        let (Ok(attrs), Ok(geom)) = (attrs.reply(), geom.reply()) else {
            continue;
        };
        if attrs.map_state != MapState::VIEWABLE || attrs.class == WindowClass::INPUT_ONLY {
            continue;
        }
        let border = u32::from(geom.border_width) * 2;
        out.push(TopLevel {
            window,
            outer: Rect::new(
                i32::from(geom.x),
                i32::from(geom.y),
                u32::from(geom.width) + border,
                u32::from(geom.height) + border,
            ),
        });
    }
    Ok(out)
}

/// The child of the root that contains `window` (itself when it is one).
pub(super) fn top_level_of(
    conn: &RustConnection,
    root: Window,
    mut window: Window,
) -> Option<Window> {
    // Bounded: real trees are a few levels deep (client → frame → root).
    for _ in 0..16 {
        let parent = conn.query_tree(window).ok()?.reply().ok()?.parent;
        if parent == root {
            return Some(window);
        }
        if parent == x11rb::NONE {
            return None;
        }
        window = parent;
    }
    None
}

/// The client area of `window` in root coordinates, and whether it is viewable.
pub(super) fn client_rect(
    conn: &RustConnection,
    root: Window,
    window: Window,
) -> Option<(Rect, bool)> {
    let geom = conn.get_geometry(window).ok()?;
    let pos = conn.translate_coordinates(window, root, 0, 0).ok()?;
    let attrs = conn.get_window_attributes(window).ok()?;
    let (geom, pos, attrs) = (geom.reply().ok()?, pos.reply().ok()?, attrs.reply().ok()?);
    Some((
        Rect::new(
            i32::from(pos.dst_x),
            i32::from(pos.dst_y),
            u32::from(geom.width),
            u32::from(geom.height),
        ),
        attrs.map_state == MapState::VIEWABLE,
    ))
}

/// The stack masking needs: every viewable top-level, with the client area of
/// the selected windows it contains.
pub(super) fn masking_stack(
    conn: &RustConnection,
    root: Window,
    selected: &[WindowId],
    out: &mut Vec<StackedWindow>,
) -> Result<(), CaptureError> {
    let stack = stacking(conn, root)?;
    let mut shared: Vec<(Window, Rect)> = Vec::with_capacity(selected.len());
    for id in selected {
        let Ok(window) = Window::try_from(id.0) else {
            continue;
        };
        let Some(top) = top_level_of(conn, root, window) else {
            continue; // gone
        };
        if let Some((rect, true)) = client_rect(conn, root, window) {
            shared.push((top, rect));
        }
    }
    out.clear();
    for t in &stack {
        let mut mine = shared.iter().filter(|(top, _)| *top == t.window);
        let first = mine.next();
        out.push(StackedWindow {
            outer: t.outer,
            shared: first.map(|(_, r)| *r),
        });
        // Several selected clients in one top-level: each further one is its own
        // entry covering nothing, so it cuts nothing below it.
        for (_, r) in mine {
            out.push(StackedWindow {
                outer: Rect::default(),
                shared: Some(*r),
            });
        }
    }
    Ok(())
}

/// The shareable top-level client windows.
pub(super) fn list(
    conn: &RustConnection,
    root: Window,
    atoms: &Atoms,
) -> Result<Vec<WindowInfo>, CaptureError> {
    let clients = match window_list_property(conn, root, atoms.net_client_list) {
        Some(list) if !list.is_empty() => list,
        _ => clients_without_wm(conn, root)?,
    };
    let mut out = Vec::with_capacity(clients.len());
    for w in clients {
        let Some((rect, visible)) = client_rect(conn, root, w) else {
            continue;
        };
        if rect.is_empty() {
            continue;
        }
        out.push(WindowInfo::new(
            WindowId(u64::from(w)),
            title(conn, w, atoms),
            app_class(conn, w),
            rect,
            visible,
        ));
    }
    Ok(out)
}

fn window_list_property(conn: &RustConnection, root: Window, atom: u32) -> Option<Vec<Window>> {
    let reply = conn
        .get_property(false, root, atom, AtomEnum::WINDOW, 0, 1 << 16)
        .ok()?
        .reply()
        .ok()?;
    let list = reply.value32()?.collect();
    Some(list)
}

/// No window manager: the root's managed-looking children (not override-redirect);
/// a child without `WM_CLASS` is searched one level down for one that has it.
fn clients_without_wm(conn: &RustConnection, root: Window) -> Result<Vec<Window>, CaptureError> {
    let children = conn
        .query_tree(root)
        .map_err(backend)?
        .reply()
        .map_err(backend)?
        .children;
    let mut out = Vec::new();
    for w in children {
        let Ok(attrs) = conn.get_window_attributes(w).map_err(backend)?.reply() else {
            continue;
        };
        if attrs.override_redirect || attrs.class == WindowClass::INPUT_ONLY {
            continue;
        }
        if has_property(conn, w, AtomEnum::WM_CLASS.into()) {
            out.push(w);
            continue;
        }
        let Ok(tree) = conn.query_tree(w).map_err(backend)?.reply() else {
            continue;
        };
        if let Some(c) = tree
            .children
            .into_iter()
            .find(|&c| has_property(conn, c, AtomEnum::WM_CLASS.into()))
        {
            out.push(c);
        } else if attrs.map_state == MapState::VIEWABLE {
            out.push(w); // an unnamed but visible window is still shareable
        }
    }
    Ok(out)
}

fn has_property(conn: &RustConnection, w: Window, atom: u32) -> bool {
    conn.get_property(false, w, atom, AtomEnum::ANY, 0, 0)
        .ok()
        .and_then(|c| c.reply().ok())
        .is_some_and(|r| r.type_ != x11rb::NONE)
}

fn string_property(conn: &RustConnection, w: Window, atom: u32, kind: u32) -> Option<Vec<u8>> {
    let reply = conn
        .get_property(false, w, atom, kind, 0, 1024)
        .ok()?
        .reply()
        .ok()?;
    (reply.type_ != x11rb::NONE).then_some(reply.value)
}

fn title(conn: &RustConnection, w: Window, atoms: &Atoms) -> String {
    if let Some(v) = string_property(conn, w, atoms.net_wm_name, atoms.utf8_string) {
        return String::from_utf8_lossy(&v).into_owned();
    }
    string_property(conn, w, AtomEnum::WM_NAME.into(), AtomEnum::ANY.into())
        // WM_NAME is usually Latin-1 (STRING): map bytes to chars directly.
        .map(|v| v.iter().map(|&b| char::from(b)).collect())
        .unwrap_or_default()
}

/// The class part of `WM_CLASS` ("instance\0Class\0").
fn app_class(conn: &RustConnection, w: Window) -> String {
    let Some(v) = string_property(conn, w, AtomEnum::WM_CLASS.into(), AtomEnum::STRING.into())
    else {
        return String::new();
    };
    let mut parts = v.split(|&b| b == 0).filter(|p| !p.is_empty());
    let instance = parts.next().unwrap_or_default();
    let class = parts.next().unwrap_or(instance);
    String::from_utf8_lossy(class).into_owned()
}
