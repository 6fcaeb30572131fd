//! Safe paths against a real destination folder.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use proptest::prelude::*;
use rsupport_client::storage::SafePathFs;
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
