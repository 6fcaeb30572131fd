//! Files through the web console in a real browser: a file the operator
//! picks in the page reaches the customer's program intact (SHA-256), and a
//! file the customer's program sends is saved by the browser intact, with
//! progress shown both ways. The relay forwards only sealed records.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use rsupport_client::HostPlatform;
use rsupport_core::files::FileEvent;
use rsupport_core::session::SessionEvent;
use rsupport_testkit::relay::wait_for;
use serde_json::json;
use sha2::{Digest, Sha256};
use support::{customer_joins, received_intact, relay_with_console, Browser, Scene};

/// Bytes nobody could guess or compress, so a mix-up cannot pass.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_move_both_ways_between_the_browser_and_the_customer() {
    let dir = tempfile::tempdir().unwrap();
    let Scene {
        mut browser,
        mut cu,
        ..
    } = Scene::start(HostPlatform::synthetic()).await;
    browser
        .run(json!({"cmd": "wait_text", "testid": "protection", "text": "end-to-end encrypted"}))
        .await;

    // Browser → customer: 3 MiB, read by the page slice by slice.
    let upload = noise(3 * 1024 * 1024 + 17, 7);
    let upload_path = dir.path().join("report from operator.bin");
    std::fs::write(&upload_path, &upload).unwrap();
    browser
        .run(json!({"cmd": "upload", "path": upload_path}))
        .await;
    let transfer = wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived {
            transfer_id,
            entries,
            total_size,
        }) => {
            assert_eq!(entries[0].path, "report from operator.bin");
            assert_eq!(*total_size, upload.len() as u64);
            Some(*transfer_id)
        }
        _ => None,
    })
    .await;
    let inbox = dir.path().join("customer-inbox");
    std::fs::create_dir(&inbox).unwrap();
    cu.accept_files(transfer, &inbox).await.unwrap();
    received_intact(&mut cu, &inbox, "report from operator.bin", &upload).await;
    browser
        .run(json!({"cmd": "wait_file_state", "text": "done"}))
        .await;
    browser.screenshot("operator-files-sent").await;

    // Customer → browser: 2 MiB, offered by the customer's program.
    let sent = noise(2 * 1024 * 1024 + 3, 11);
    let sent_path = dir.path().join("crash-log.txt");
    std::fs::write(&sent_path, &sent).unwrap();
    cu.send_files(&sent_path).await.unwrap();
    browser.run(json!({"cmd": "accept_offer"})).await;
    let saved_path = dir.path().join("saved-by-browser");
    let saved = browser
        .run(json!({"cmd": "save", "path": saved_path}))
        .await;
    assert_eq!(saved["name"], json!("crash-log.txt"));
    let saved = std::fs::read(&saved_path).unwrap();
    assert_eq!(
        Sha256::digest(&saved),
        Sha256::digest(&sent),
        "the download is intact"
    );
    browser.screenshot("operator-files-received").await;
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_survives_the_browsers_connection_dropping() {
    use rsupport_testkit::relay::Forwarder;

    let dir = tempfile::tempdir().unwrap();
    let (target, _) = relay_with_console().await;
    // The browser reaches the relay through a forwarder the test can cut.
    let forwarder = Forwarder::start(target.addr().parse().unwrap()).await;
    let url = format!("https://{}/operator/", forwarder.addr());
    let mut browser = Browser::start().await;
    let code = support::operator_with_code(&mut browser, &url).await;
    let mut cu = customer_joins(&target, &code, HostPlatform::synthetic(), "Bob").await;
    browser.run(json!({"cmd": "wait_session"})).await;

    let upload = noise(24 * 1024 * 1024, 5);
    let upload_path = dir.path().join("disk-image.bin");
    std::fs::write(&upload_path, &upload).unwrap();
    browser
        .run(json!({"cmd": "upload", "path": upload_path}))
        .await;
    let transfer = wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::OfferReceived { transfer_id, .. }) => Some(*transfer_id),
        _ => None,
    })
    .await;
    let inbox = dir.path().join("customer-inbox");
    std::fs::create_dir(&inbox).unwrap();
    cu.accept_files(transfer, &inbox).await.unwrap();
    // Part-way through, the browser's connection drops.
    wait_for(&mut cu, |e| match e {
        SessionEvent::File(FileEvent::Progress(p)) if p.bytes_done >= 4 * 1024 * 1024 => Some(()),
        _ => None,
    })
    .await;
    forwarder.cut();
    browser
        .run(json!({"cmd": "wait_text", "testid": "notice", "text": "Reconnected; the session goes on."}))
        .await;
    // Intact across the drop.
    received_intact(&mut cu, &inbox, "disk-image.bin", &upload).await;
    assert!(
        forwarder.delivered().len() >= 2,
        "the browser connected again"
    );
    browser.screenshot("operator-resumed-upload").await;
    browser.quit().await;
}
