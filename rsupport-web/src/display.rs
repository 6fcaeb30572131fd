//! What the operator sees of the customer's display besides the pixels:
//! monitors and windows to choose from, display settings (colours, scale,
//! wallpaper, monitor, windows) and screenshots.

use rsupport_proto::screen::{DisplaySettings, MonitorList, Screenshot, WindowInfo};
use rsupport_proto::ColorDepth;
use serde_json::{json, Value};

use crate::console::ConsoleError;
use crate::live::LiveSession;

/// The page's names for colour depths.
pub fn depth_from_name(name: &str) -> Option<ColorDepth> {
    Some(match name {
        "true" => ColorDepth::TrueColor,
        "high" => ColorDepth::HighColor,
        "256" => ColorDepth::Colors256,
        "16" => ColorDepth::Colors16,
        "4" => ColorDepth::Colors4,
        _ => return None,
    })
}

/// The monitor list as the page shows it.
pub fn monitors_json(list: &MonitorList) -> Value {
    json!({
        "active": list.active_id,
        "monitors": list.monitors.iter().map(|m| json!({
            "id": m.id,
            "name": m.name,
            "width": m.bounds.width,
            "height": m.bounds.height,
            "primary": m.primary,
        })).collect::<Vec<_>>(),
    })
}

/// The shareable windows as the page shows them.
pub fn windows_json(windows: &[WindowInfo]) -> Value {
    Value::Array(
        windows
            .iter()
            .map(
                |w| json!({"id": w.id.to_string(), "title": w.title, "application": w.application}),
            )
            .collect(),
    )
}

/// What the page asks for in the display settings panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayRequest {
    /// "true", "high", "256", "16" or "4".
    pub depth: String,
    /// Monitor id (0: keep).
    pub monitor: u32,
    /// 1..=100 percent (0: no scaling).
    pub scale_percent: u32,
    /// Plain colour instead of the wallpaper.
    pub hide_wallpaper: bool,
    /// Share only these windows (empty: the whole monitor).
    pub windows: Vec<u64>,
}

impl LiveSession {
    /// Asks the customer's side to change how it shares the screen.
    pub fn set_display(&mut self, request: &DisplayRequest) -> Result<(), ConsoleError> {
        let color_depth = depth_from_name(&request.depth).ok_or_else(|| {
            ConsoleError::Session(format!(
                "there is no colour depth called {:?}",
                request.depth
            ))
        })?;
        if request.scale_percent > 100 {
            return Err(ConsoleError::Session(
                "the scale is a percentage from 1 to 100".into(),
            ));
        }
        self.session.viewer().request_settings(DisplaySettings {
            color_depth,
            hide_wallpaper: request.hide_wallpaper,
            window_ids: request.windows.clone(),
            scale_percent: request.scale_percent,
            monitor_id: request.monitor,
            ..DisplaySettings::default()
        });
        Ok(())
    }

    /// Asks the customer's side for a full-resolution PNG of the screen.
    pub fn request_screenshot(&mut self) {
        self.next_screenshot += 1;
        let id = self.next_screenshot;
        self.session.viewer().request_screenshot(id);
    }

    /// Keeps a screenshot that arrived until the page takes it.
    pub(crate) fn keep_screenshot(&mut self, shot: Screenshot) -> u32 {
        self.screenshot = Some(shot.png);
        shot.request_id
    }

    /// The last screenshot's PNG bytes (the console forgets them).
    pub fn take_screenshot(&mut self) -> Option<Vec<u8>> {
        self.screenshot.take().map(|png| png.to_vec())
    }

    /// How many framebuffer pixels show one monitor pixel (the customer's
    /// side may scale the picture down), for drawings and their overlay.
    pub fn frame_scale(&self) -> f32 {
        let Some(frame) = self.session.framebuffer() else {
            return 1.0;
        };
        let width = self
            .session
            .screen_viewer()
            .monitors()
            .and_then(|list| list.monitors.iter().find(|m| m.id == list.active_id))
            .map_or(frame.width(), |m| m.bounds.width);
        if width == 0 {
            1.0
        } else {
            frame.width() as f32 / width as f32
        }
    }

    /// The monitor shared now (0 when unknown).
    pub fn active_monitor(&self) -> u32 {
        self.session
            .screen_viewer()
            .monitors()
            .map_or(0, |list| list.active_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_depth_the_page_offers_has_a_name() {
        for name in ["true", "high", "256", "16", "4"] {
            assert!(depth_from_name(name).is_some(), "{name}");
        }
        assert_eq!(depth_from_name("2"), None);
    }
}
