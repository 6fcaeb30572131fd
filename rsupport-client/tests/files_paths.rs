//! Safe paths against a real destination folder.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use proptest::prelude::*;
use rsupport_client::storage::SafePathFs;
#[cfg(unix)]
use rsupport_client::storage::{commit_racing, execute};
#[cfg(unix)]
use rsupport_core::files::io::{FileIo, PartialKey};
use rsupport_core::files::{validate_relative_path, PathError};

fn count_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the sender writes, an accepted path's folders are created
    /// inside the destination and the file would be written inside it.
    #[test]
    fn accepted_paths_resolve_inside_the_destination(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("..".to_string()), Just(".".to_string()), Just(String::new()),
                Just("C:".to_string()), Just("\\\\srv".to_string()), Just("con".to_string()),
                "[a-z.]{1,6}", "[a-zA-Z0-9 ._:-]{0,10}",
            ],
            1..6,
        ),
        leading_slash in any::<bool>(),
    ) {
        let raw = format!("{}{}", if leading_slash { "/" } else { "" }, parts.join("/"));
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("dest");
        std::fs::create_dir(&root).unwrap();
        if let Ok(safe) = validate_relative_path(&raw) {
            if let Ok(target) = safe.prepare_in(&root) {
                let parent = target.parent().unwrap().canonicalize().unwrap();
                prop_assert!(parent.starts_with(root.canonicalize().unwrap()), "{raw:?}");
                prop_assert!(target.starts_with(&root));
            }
        }
        // Nothing ever appears next to the destination.
        prop_assert_eq!(count_entries(outer.path()), 1);
    }
}

#[cfg(unix)]
#[test]
fn symlinks_and_files_in_the_way_are_refused() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("dest");
    let elsewhere = outer.path().join("elsewhere");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("link")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("target.txt"), root.join("dangling.txt")).unwrap();
    std::fs::write(root.join("file"), b"x").unwrap();

    let p = |s: &str| validate_relative_path(s).unwrap();
    assert_eq!(
        p("link/a.txt").prepare_in(&root),
        Err(PathError::SymlinkInDestination { index: 0 })
    );
    assert_eq!(
        p("link/deeper/a.txt").prepare_in(&root),
        Err(PathError::SymlinkInDestination { index: 0 })
    );
    assert_eq!(
        p("ok/link2").create_dir_in(&root).map(|_| ()),
        Ok(()),
        "new folders are created one level at a time"
    );
    assert_eq!(
        p("file/a.txt").prepare_in(&root),
        Err(PathError::NotADirectory { index: 0 })
    );
    // A dangling symlink at the final name counts as existing: never written through.
    assert_eq!(
        p("dangling.txt").prepare_in(&root),
        Err(PathError::AlreadyExists)
    );
    assert_eq!(
        p("link").create_dir_in(&root),
        Err(PathError::SymlinkInDestination { index: 0 })
    );
    assert_eq!(count_entries(&elsewhere), 0);
    assert!(root.join("ok/link2").is_dir());
}

#[test]
fn the_sender_learns_of_names_the_receiver_would_refuse() {
    let src = tempfile::tempdir().unwrap();
    let tree = src.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("fine.txt"), b"x").unwrap();
    assert_eq!(
        rsupport_client::storage::entries_from_path(&tree)
            .unwrap()
            .len(),
        2
    );
    std::fs::write(tree.join("aux.c"), b"x").unwrap();
    let err = rsupport_client::storage::entries_from_path(&tree).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("reserved name in component 1"),
        "{err}"
    );
}

/// SECURITY L7: names that reorder or hide characters in prompts and file
/// managers ("photo\u{202E}gpj.exe") and C1 controls are refused.
#[test]
fn bidi_format_and_c1_characters_are_refused() {
    for bad in [
        "photo\u{202E}gpj.exe",
        "a\u{200B}b.txt",
        "a\u{200F}.txt",
        "x\u{2066}y",
        "x\u{2069}",
        "\u{FEFF}bom.txt",
        "c1\u{85}.txt",
        "c1\u{9F}",
        "dir\u{202A}/ok.txt",
    ] {
        assert!(validate_relative_path(bad).is_err(), "{bad:?}");
    }
    // Ordinary letters of other scripts stay allowed.
    for ok in ["עברית.txt", "العربية.txt", "naïve café.txt"] {
        assert!(validate_relative_path(ok).is_ok(), "{ok:?}");
    }
}

/// A destination with a verified partial file for transfer 7, entry 0.
#[cfg(unix)]
fn with_partial(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, PartialKey) {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("dest");
    std::fs::create_dir(&root).unwrap();
    let key = PartialKey {
        transfer_id: 7,
        entry: 0,
    };
    let at: std::sync::Arc<Path> = root.as_path().into();
    execute(&FileIo::OpenPartial {
        root: at.clone(),
        key,
    })
    .unwrap();
    execute(&FileIo::Write {
        root: at,
        key,
        offset: 0,
        data: bytes::Bytes::copy_from_slice(content),
    })
    .unwrap();
    (outer, root, key)
}

/// SECURITY L7: a file created at the final name between the checks and
/// the move is never overwritten.
#[cfg(unix)]
#[test]
fn commit_never_overwrites_a_file_created_in_between() {
    let (_outer, root, key) = with_partial(b"ours");
    let path = validate_relative_path("report.txt").unwrap();
    let theirs = root.join("report.txt");
    let result = commit_racing(&root, key, &path, &mut || {
        std::fs::write(&theirs, b"theirs").unwrap();
    });
    assert!(result.is_err());
    assert_eq!(std::fs::read(&theirs).unwrap(), b"theirs");
}

/// SECURITY L7: a parent folder swapped for a symlink between the checks
/// and the move is not followed.
#[cfg(unix)]
#[test]
fn commit_does_not_follow_a_parent_swapped_for_a_symlink() {
    let (outer, root, key) = with_partial(b"ours");
    let elsewhere = outer.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let path = validate_relative_path("sub/report.txt").unwrap();
    let result = commit_racing(&root, key, &path, &mut || {
        std::fs::rename(root.join("sub"), root.join("sub-old")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("sub")).unwrap();
    });
    assert!(result.is_err(), "{result:?}");
    assert_eq!(
        count_entries(&elsewhere),
        0,
        "nothing written through the link"
    );
}

/// SECURITY L7: a symlink planted at the partial file's name is not
/// followed when the partial file is opened.
#[cfg(unix)]
#[test]
fn partial_files_are_never_opened_through_a_link() {
    let (outer, root, _) = with_partial(b"ours");
    let victim = outer.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let partial = root
        .join(rsupport_core::files::path::PARTIAL_DIR)
        .join("7-1");
    std::os::unix::fs::symlink(&victim, &partial).unwrap();
    let key = PartialKey {
        transfer_id: 7,
        entry: 1,
    };
    let at: std::sync::Arc<Path> = root.as_path().into();
    let _ = execute(&FileIo::OpenPartial {
        root: at.clone(),
        key,
    });
    let _ = execute(&FileIo::Write {
        root: at,
        key,
        offset: 0,
        data: bytes::Bytes::from_static(b"overwritten"),
    });
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
}

/// SECURITY M6: the executor tells the session how much room the
/// destination has, so offers that cannot fit are refused up front.
#[cfg(unix)]
#[test]
fn the_executor_reports_free_space() {
    let dir = tempfile::tempdir().unwrap();
    let at: std::sync::Arc<Path> = dir.path().into();
    match execute(&FileIo::FreeSpace { root: at }) {
        Ok(rsupport_core::files::IoDone::Len(free)) => assert!(free > 0),
        other => panic!("{other:?}"),
    }
}
