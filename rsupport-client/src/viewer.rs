//! [`Viewer`]: the peer's screen for the product to draw, latest frame wins.
//!
//! The connection task keeps one shared framebuffer per session. After each
//! applied frame update it copies only the changed rectangles into it and
//! adds them to every viewer's damage; a viewer that looks less often than
//! frames arrive sees the newest picture with the union of all changes since
//! it last looked — never a backlog, and no queue grows.
//!
//! The product reads pixels in place through a [`FrameView`], which holds a
//! lock on the shared frame. While it is held, the connection task does not
//! wait: it keeps the damage and publishes on a later round, so a slow
//! renderer never stalls other sessions or input. Drop the view soon.

use std::sync::{Arc, Mutex, MutexGuard};

use rsupport_capture::BgraFrame;
use rsupport_proto::Rect;
use tokio::sync::watch;

use crate::ClientError;
use rsupport_core::session::screen::ViewerScreenEvent;
use rsupport_core::session::SessionEvent;

/// Coalesces frame and cursor notices on the session's event channel: at
/// most one of each is queued; the handle swaps in the newest when it reads
/// it.
#[derive(Debug, Default)]
pub(crate) struct Latest {
    frame: Mutex<Option<SessionEvent>>,
    cursor: Mutex<Option<SessionEvent>>,
}

impl Latest {
    fn slot(&self, event: &SessionEvent) -> Option<&Mutex<Option<SessionEvent>>> {
        match event {
            SessionEvent::ViewerScreen(ViewerScreenEvent::FrameUpdated { .. }) => Some(&self.frame),
            SessionEvent::ViewerScreen(ViewerScreenEvent::Cursor(_)) => Some(&self.cursor),
            _ => None,
        }
    }

    /// Task side: records `event` as the newest of its kind. Returns it
    /// back when it must be queued (none of its kind is waiting), `None`
    /// when it was folded into the waiting one.
    pub(crate) fn offer(&self, event: SessionEvent) -> Option<SessionEvent> {
        let Some(slot) = self.slot(&event) else {
            return Some(event);
        };
        let mut newest = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let waiting = newest.is_some();
        *newest = Some(event.clone());
        (!waiting).then_some(event)
    }

    /// Handle side: the newest event of `event`'s kind (and none is waiting
    /// any more).
    pub(crate) fn take(&self, event: SessionEvent) -> SessionEvent {
        let Some(slot) = self.slot(&event) else {
            return event;
        };
        let newest = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        newest.unwrap_or(event)
    }
}

/// More damage rectangles than this merge into their bounding box.
const MAX_RECTS: usize = 64;

/// The state shared between the connection task and the viewers.
#[derive(Debug)]
pub(crate) struct ViewerShared {
    state: Mutex<State>,
    /// Bumped on every publish; viewers wait on it.
    published: watch::Sender<u64>,
    /// The session is over: waiting viewers return.
    closed: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    frame: Option<BgraFrame>,
    seq: u64,
    /// Damage per live viewer, by viewer id.
    damage: Vec<(u64, Vec<Rect>)>,
    next_viewer: u64,
}

impl ViewerShared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ViewerShared {
            state: Mutex::new(State::default()),
            published: watch::Sender::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Task side: the session's framebuffer changed in `pending` (taken
    /// when published). Never blocks: when a product holds a [`FrameView`],
    /// `pending` is kept for the next try and false is returned.
    pub(crate) fn publish(&self, frame: &BgraFrame, pending: &mut Vec<Rect>) -> bool {
        let Ok(mut state) = self.state.try_lock() else {
            return false;
        };
        let full = Rect::new(0, 0, frame.width(), frame.height());
        let same_size = state
            .frame
            .as_ref()
            .is_some_and(|f| f.width() == frame.width() && f.height() == frame.height());
        if same_size {
            if let Some(shared) = state.frame.as_mut() {
                for rect in pending.iter() {
                    copy_rect(frame, shared, *rect);
                }
            }
        } else {
            state.frame = Some(frame.clone());
            pending.clear();
            pending.push(full);
        }
        for (_, damage) in state.damage.iter_mut() {
            add_damage(damage, pending);
        }
        pending.clear();
        state.seq += 1;
        let seq = state.seq;
        drop(state);
        self.published.send_replace(seq);
        true
    }

    /// Task side: sharing restarted or ended; the picture is gone.
    pub(crate) fn clear(&self) -> bool {
        let Ok(mut state) = self.state.try_lock() else {
            return false;
        };
        state.frame = None;
        state.seq += 1;
        let seq = state.seq;
        drop(state);
        self.published.send_replace(seq);
        true
    }

    /// Task side: the session is gone; wakes every waiting viewer.
    pub(crate) fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.published.send_modify(|seq| *seq += 1);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A copy of the whole frame (for [`SessionHandle::framebuffer`](crate::SessionHandle::framebuffer)).
    pub(crate) fn snapshot(&self) -> Option<BgraFrame> {
        self.lock().frame.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a usable frame behind.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn viewer(self: &Arc<Self>) -> Viewer {
        let mut state = self.lock();
        let id = state.next_viewer;
        state.next_viewer += 1;
        // A new viewer has seen nothing: all of the current frame is new.
        let initial = state
            .frame
            .as_ref()
            .map(|f| vec![Rect::new(0, 0, f.width(), f.height())])
            .unwrap_or_default();
        let has_frame = !initial.is_empty();
        state.damage.push((id, initial));
        drop(state);
        let mut published = self.published.subscribe();
        if has_frame {
            // Not looked at yet: `changed` returns at once.
            published.mark_changed();
        }
        Viewer {
            shared: self.clone(),
            id,
            published,
        }
    }
}

fn add_damage(damage: &mut Vec<Rect>, new: &[Rect]) {
    for rect in new {
        if !damage.iter().any(|d| covers(d, rect)) {
            damage.push(*rect);
        }
    }
    if damage.len() > MAX_RECTS {
        let bounds = Rect::bounding(damage);
        damage.clear();
        damage.push(bounds);
    }
}

fn covers(outer: &Rect, inner: &Rect) -> bool {
    let (ox, oy) = (i64::from(outer.x), i64::from(outer.y));
    let (ix, iy) = (i64::from(inner.x), i64::from(inner.y));
    ix >= ox
        && iy >= oy
        && ix + i64::from(inner.width) <= ox + i64::from(outer.width)
        && iy + i64::from(inner.height) <= oy + i64::from(outer.height)
}

/// Copies `rect` (clipped to both frames, which have the same size) from
/// `src` to `dst`.
fn copy_rect(src: &BgraFrame, dst: &mut BgraFrame, rect: Rect) {
    let x0 = u32::try_from(rect.x.max(0)).unwrap_or(0).min(src.width());
    let y0 = u32::try_from(rect.y.max(0)).unwrap_or(0).min(src.height());
    let x1 = x0.saturating_add(rect.width).min(src.width());
    let y1 = y0.saturating_add(rect.height).min(src.height());
    let stride = src.stride();
    let (from, to) = (x0 as usize * 4, x1 as usize * 4);
    let dst_pixels = dst.pixels_mut();
    for y in y0..y1 {
        let row = y as usize * stride;
        if let (Some(s), Some(d)) = (
            src.pixels().get(row + from..row + to),
            dst_pixels.get_mut(row + from..row + to),
        ) {
            d.copy_from_slice(s);
        }
    }
}

/// The peer's screen as this side sees it, for a product that draws it.
/// From [`SessionHandle::viewer`](crate::SessionHandle::viewer); any number
/// may exist per session, each with its own damage.
///
/// ```no_run
/// # async fn run(session: &rsupport_client::SessionHandle) -> Result<(), rsupport_client::ClientError> {
/// let mut viewer = session.viewer();
/// loop {
///     viewer.changed().await?; // a new frame since we last looked
///     if let Some(view) = viewer.frame() {
///         for rect in view.changed_rects() {
///             // upload just this rectangle of view.frame() to the texture
///             let _ = (rect, view.frame().stride());
///         }
///     } // the lock is released here
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Viewer {
    shared: Arc<ViewerShared>,
    id: u64,
    published: watch::Receiver<u64>,
}

impl Viewer {
    /// Waits until a frame was published that this viewer has not looked
    /// at with [`frame`](Self::frame). Returns at once if one is waiting.
    /// Err([`ClientError::SessionEnded`]) once the session is gone.
    pub async fn changed(&mut self) -> Result<(), ClientError> {
        if self.shared.is_closed() {
            return Err(ClientError::SessionEnded);
        }
        self.published
            .changed()
            .await
            .map_err(|_| ClientError::SessionEnded)?;
        if self.shared.is_closed() {
            return Err(ClientError::SessionEnded);
        }
        Ok(())
    }

    /// The current frame and what changed since this viewer last looked
    /// (the damage is then forgotten). `None` before the first frame.
    /// Holds a lock on the shared frame: drop the view soon.
    pub fn frame(&mut self) -> Option<FrameView<'_>> {
        self.published.mark_unchanged();
        let mut state = self.shared.lock();
        let changed = state
            .damage
            .iter_mut()
            .find(|(id, _)| *id == self.id)
            .map(|(_, d)| std::mem::take(d))
            .unwrap_or_default();
        state.frame.as_ref()?;
        Some(FrameView { state, changed })
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.damage.retain(|(id, _)| *id != self.id);
    }
}

/// A borrowed look at the shared frame; see [`Viewer::frame`].
#[derive(Debug)]
pub struct FrameView<'a> {
    state: MutexGuard<'a, State>,
    changed: Vec<Rect>,
}

impl FrameView<'_> {
    /// The framebuffer (BGRA, `stride()` bytes per row), read in place.
    pub fn frame(&self) -> &BgraFrame {
        // `Viewer::frame` returns a view only when there is a frame.
        self.state
            .frame
            .as_ref()
            .unwrap_or_else(|| unreachable!("a FrameView always has a frame"))
    }

    /// What changed since this viewer last looked: redraw these. Covers
    /// every change (merged into a bounding box when there were many).
    pub fn changed_rects(&self) -> &[Rect] {
        &self.changed
    }

    /// How many frame updates were published for this session so far.
    pub fn seq(&self) -> u64 {
        self.state.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_viewer_sees_latest_pixels_and_the_union_of_damage() {
        let shared = ViewerShared::new();
        let mut viewer = shared.viewer();
        let mut frame = BgraFrame::filled(64, 32, [0, 0, 0, 255]);
        let mut pending = vec![Rect::new(0, 0, 64, 32)];
        assert!(shared.publish(&frame, &mut pending));
        viewer.frame().unwrap();
        // Many updates while nobody looks, each touching one pixel.
        for i in 0..200u32 {
            let (x, y) = (i % 64, (i / 64) % 32);
            let at = (y as usize) * frame.stride() + x as usize * 4;
            frame.pixels_mut()[at] = i as u8;
            let mut pending = vec![Rect::new(x as i32, y as i32, 1, 1)];
            assert!(shared.publish(&frame, &mut pending));
        }
        let view = viewer.frame().unwrap();
        assert_eq!(view.frame(), &frame, "the latest pixels");
        assert_eq!(view.seq(), 201);
        assert!(view.changed_rects().len() <= MAX_RECTS, "bounded damage");
        for i in 0..200u32 {
            let p = Rect::new((i % 64) as i32, ((i / 64) % 32) as i32, 1, 1);
            assert!(
                view.changed_rects().iter().any(|d| covers(d, &p)),
                "change at {p:?} is covered"
            );
        }
        drop(view);
        assert!(viewer.frame().unwrap().changed_rects().is_empty());
    }

    #[tokio::test]
    async fn a_new_viewer_sees_the_current_frame_and_ends_with_the_session() {
        let shared = ViewerShared::new();
        let frame = BgraFrame::filled(8, 8, [1, 2, 3, 255]);
        assert!(shared.publish(&frame, &mut vec![Rect::new(0, 0, 8, 8)]));
        let mut viewer = shared.viewer();
        viewer.changed().await.unwrap(); // at once: not looked at yet
        assert_eq!(
            viewer.frame().unwrap().changed_rects(),
            &[Rect::new(0, 0, 8, 8)]
        );
        let waiting = tokio::spawn(async move { viewer.changed().await });
        tokio::task::yield_now().await;
        shared.close();
        assert!(matches!(
            waiting.await.unwrap(),
            Err(ClientError::SessionEnded)
        ));
    }

    #[test]
    fn a_held_view_never_blocks_the_publisher() {
        let shared = ViewerShared::new();
        let mut viewer = shared.viewer();
        let frame = BgraFrame::filled(8, 8, [1, 2, 3, 255]);
        assert!(shared.publish(&frame, &mut vec![Rect::new(0, 0, 8, 8)]));
        let view = viewer.frame().unwrap();
        let mut pending = vec![Rect::new(1, 1, 2, 2)];
        assert!(!shared.publish(&frame, &mut pending), "busy: try later");
        assert_eq!(pending.len(), 1, "the damage is kept");
        drop(view);
        assert!(shared.publish(&frame, &mut pending));
        assert_eq!(
            viewer.frame().unwrap().changed_rects(),
            &[Rect::new(1, 1, 2, 2)]
        );
    }
}
