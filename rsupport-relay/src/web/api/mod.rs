//! The admin REST API under `/api/v1/`.

use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};

use super::{error_page, Answer, WebFront};
use crate::server::Dialer;

/// The admin API of one relay.
pub(crate) struct Api {
    dialer: Dialer,
}

impl Api {
    /// The API for the relay `dialer` reaches.
    pub(crate) fn new(dialer: Dialer) -> Self {
        Api { dialer }
    }

    /// Starts the task that keeps web sessions alive and ends idle ones.
    pub(crate) fn start_sweeper(&self) {
        let _ = &self.dialer;
    }

    /// Answers one API request.
    pub(crate) async fn handle(
        &self,
        _req: Request<Incoming>,
        _addr: SocketAddr,
        _front: &WebFront,
    ) -> Answer {
        error_page(StatusCode::NOT_FOUND, "There is no such API endpoint.")
    }
}
