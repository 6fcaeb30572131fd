//! What both terminal consoles share: file progress bars, print job lines,
//! drawing commands, and modes and sharing states in plain words.

use std::collections::HashMap;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rsupport::client::{Drawing, SessionHandle};
use rsupport::core::files::{Direction, FileEvent};
use rsupport::core::print::{
    CustomerPrintEvent, OperatorPrintEvent, PrintEvent, ReceiverEvent, SenderEvent,
};
use rsupport::core::session::{Control, Sharing};
use rsupport::proto::annotate::Argb;
use rsupport::proto::{ConnectionMode, Point};

/// One progress bar per running file transfer.
#[derive(Default)]
pub struct TransferBars {
    bars: HashMap<u64, ProgressBar>,
}

impl TransferBars {
    /// Updates the bars; returns a line to print for events without a bar.
    pub fn on_file_event(&mut self, event: &FileEvent) -> Option<String> {
        match event {
            FileEvent::Progress(p) => {
                let bar = self.bars.entry(p.transfer_id).or_insert_with(|| {
                    let bar = ProgressBar::new(p.bytes_total);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_message(match p.direction {
                        Direction::Send => format!("sending #{}", p.transfer_id),
                        _ => format!("receiving #{}", p.transfer_id),
                    });
                    bar
                });
                bar.set_position(p.bytes_done);
                None
            }
            FileEvent::Finished {
                transfer_id,
                failed_entries,
                ..
            } => {
                self.finish(*transfer_id);
                Some(match failed_entries {
                    0 => format!("transfer #{transfer_id} finished, SHA-256 verified"),
                    n => format!("transfer #{transfer_id} finished; {n} item(s) failed"),
                })
            }
            FileEvent::Cancelled {
                transfer_id,
                reason,
                ..
            } => {
                self.finish(*transfer_id);
                Some(format!("transfer #{transfer_id} cancelled: {reason}"))
            }
            FileEvent::Declined {
                transfer_id,
                reason,
            } => Some(format!("transfer #{transfer_id} declined: {reason}")),
            FileEvent::EntryFailed { entry, error, .. } => {
                Some(format!("item {entry} failed: {error}"))
            }
            FileEvent::OfferRejected { entry, error, .. } => {
                Some(format!("item {entry} refused: {error}"))
            }
            FileEvent::OfferAutoAccepted {
                entries,
                total_size,
                ..
            } => Some(format!(
                "receiving {} item(s), {total_size} bytes (full file transfer control)",
                entries.len()
            )),
            _ => None,
        }
    }

    fn finish(&mut self, transfer_id: u64) {
        if let Some(bar) = self.bars.remove(&transfer_id) {
            bar.finish();
        }
    }
}

/// A line describing a print event, if it is worth showing.
pub fn print_line(event: &PrintEvent) -> Option<String> {
    Some(match event {
        PrintEvent::Customer(CustomerPrintEvent::Offered { job_id, name, .. }) => {
            format!("print job #{job_id} \"{name}\" sent to the operator")
        }
        PrintEvent::Customer(CustomerPrintEvent::NotSent { name, reason }) => {
            format!("print job \"{name}\" not sent: {reason}")
        }
        PrintEvent::Customer(CustomerPrintEvent::Channel(SenderEvent::Progress {
            job_id,
            stage,
            bytes_received,
        })) => format!("print job #{job_id}: {stage:?} ({bytes_received} bytes)"),
        PrintEvent::Customer(CustomerPrintEvent::Channel(SenderEvent::Finished {
            job_id,
            outcome,
            destination,
            detail,
        })) => format!("print job #{job_id}: {outcome:?} at {destination} {detail}"),
        PrintEvent::Operator(OperatorPrintEvent::Channel(ReceiverEvent::Offered(o))) => format!(
            "the customer prints \"{}\" ({} page(s), {} bytes): /print-accept {} or /print-decline {}",
            o.name, o.pages, o.size, o.job_id, o.job_id
        ),
        PrintEvent::Operator(OperatorPrintEvent::Stage { job_id, stage }) => {
            format!("print job #{job_id}: {stage:?}")
        }
        PrintEvent::Operator(OperatorPrintEvent::Done { job_id, outcome }) => format!(
            "print job #{job_id}: {:?} at {} {}",
            outcome.outcome, outcome.destination, outcome.detail
        ),
        _ => return None,
    })
}

/// Pen colour of the drawing commands.
const PEN: Argb = Argb::new(255, 230, 30, 30);

/// Acts on a drawing or print command; `None` when `line` is not one.
/// `/draw X Y X Y …`, `/laser X Y`, `/label X Y TEXT`, `/undo`, `/clear`,
/// `/print-accept ID`, `/print-decline ID`, `/print-cancel ID`.
pub async fn tool_command(
    session: &SessionHandle,
    line: &str,
) -> Option<Result<(), rsupport::client::ClientError>> {
    let mut words = line.split_whitespace();
    let command = words.next()?;
    let rest: Vec<&str> = words.collect();
    let numbers: Vec<i32> = rest.iter().map_while(|w| w.parse().ok()).collect();
    let point = |i: usize| Point::new(numbers[2 * i], numbers[2 * i + 1]);
    let job = || {
        rest.first()
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Some(match command {
        "/draw" if numbers.len() >= 2 => session.annotate(Drawing::Stroke {
            color: PEN,
            width_px: 4.0,
            points: (0..numbers.len() / 2).map(point).collect(),
            monitor_id: 0,
        }),
        "/laser" if numbers.len() >= 2 => session.annotate(Drawing::Laser {
            position: point(0),
            color: PEN,
            monitor_id: 0,
        }),
        "/label" if numbers.len() >= 2 => session.annotate(Drawing::Label {
            position: point(0),
            text: rest[2..].join(" "),
            color: PEN,
            size_px: 24,
            monitor_id: 0,
        }),
        "/undo" => session.annotate(Drawing::Undo),
        "/clear" => session.annotate(Drawing::Clear),
        "/print-accept" => session.accept_print(job()).await,
        "/print-decline" => {
            session
                .decline_print(job(), "declined by the operator")
                .await
        }
        "/print-cancel" => session.cancel_print(job(), "cancelled").await,
        _ => return None,
    })
}

/// The annotation layer composited onto `frame` as it looks now.
pub async fn with_annotations(
    session: &SessionHandle,
    mut frame: rsupport::capture::BgraFrame,
) -> Result<rsupport::capture::BgraFrame, rsupport::client::ClientError> {
    let layer = session.annotation_layer().await?;
    rsupport::core::annotate::render(&layer, &mut frame, 0, Instant::now());
    Ok(frame)
}

/// A connection mode as the person asked about it reads it.
pub fn mode_words(mode: ConnectionMode) -> &'static str {
    match mode {
        ConnectionMode::ViewCustomer => "see your screen",
        ConnectionMode::ControlCustomer => "see your screen and control your mouse and keyboard",
        ConnectionMode::ManageCustomer => {
            "see your screen and control it with administrator rights"
        }
        ConnectionMode::ShareOperatorScreen => "show you their screen and let you control it",
        ConnectionMode::ShowOperatorScreen => "show you their screen",
        _ => "use a mode this program does not know",
    }
}

/// The agreed sharing state in plain words.
pub fn sharing_words(sharing: &Sharing) -> String {
    match sharing {
        Sharing::Idle => "sharing: nothing is shared".into(),
        Sharing::Active {
            mode,
            paused,
            control,
        } => {
            let control = match control {
                Control::ViewOnly => "view only",
                Control::Granted => "control granted",
                Control::Revoked(_) => "control taken back by the customer",
            };
            let paused = if *paused { ", paused" } else { "" };
            format!("sharing: {mode:?} ({control}{paused})")
        }
    }
}
