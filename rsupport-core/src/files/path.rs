//! Safe paths: sender-supplied names are never trusted.
//!
//! [`validate_relative_path`] checks a path from a [`FileOffer`] with no
//! filesystem access. It applies the Windows rules on every OS, so a file that
//! a Linux operator can receive is also one a Windows customer can receive, and
//! a name that means something special to Windows (a device, a stream, a drive)
//! never reaches a Windows disk through a Linux relay test.
//!
//! `rsupport_client::storage::SafePathFs::prepare_in`
//! (in the storage executor) is the destination-side half: it walks the
//! destination one component at a time with `symlink_metadata`, creating
//! folders one level at a time and refusing any component that is a symlink or
//! not a folder, so nothing is written outside the chosen destination.
//!
//! Error messages name the offending component by index, never by content:
//! file names must not reach logs.
//!
//! [`FileOffer`]: rsupport_proto::files::FileOffer

use std::io;
use std::path::{Path, PathBuf};

/// Longest accepted relative path in bytes (UTF-8).
pub const MAX_RELATIVE_PATH: usize = 1024;
/// Longest accepted single component in bytes (the common filesystem limit).
pub const MAX_COMPONENT: usize = 255;
/// Deepest accepted folder nesting.
pub const MAX_DEPTH: usize = 64;
/// Name of the folder, directly under a destination, holding partial files.
/// Offers may not write into it.
pub const PARTIAL_DIR: &str = ".rsupport-partial";

/// Why a sender-supplied path, or the destination it lands in, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path is empty.
    #[error("empty path")]
    Empty,
    /// The whole path is longer than [`MAX_RELATIVE_PATH`].
    #[error("path is {len} bytes, the limit is {max}")]
    TooLong {
        /// Bytes in the path.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A component is longer than [`MAX_COMPONENT`].
    #[error("component {index} is {len} bytes, the limit is {max}")]
    ComponentTooLong {
        /// Zero-based component index.
        index: usize,
        /// Bytes in it.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_DEPTH`] components.
    #[error("path is nested deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Starts with `/` (absolute or UNC `//server`).
    #[error("absolute paths are not allowed")]
    Absolute,
    /// Contains `\`; the wire separator is `/` and `\` would be one on Windows.
    #[error("backslash separators are not allowed")]
    Backslash,
    /// Contains a NUL byte.
    #[error("NUL byte in path")]
    Nul,
    /// Contains a control character (U+0001..U+001F, U+007F, and the C1
    /// controls U+0080..U+009F).
    #[error("control character in component {index}")]
    ControlCharacter {
        /// Zero-based component index.
        index: usize,
    },
    /// Contains an invisible formatting character: bidirectional controls
    /// (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069, U+061C),
    /// zero-width characters (U+200B..U+200D, U+FEFF) or line separators
    /// (U+2028, U+2029). They make a name look different from what it is
    /// ("photo\u{202E}gpj.exe" shows as "photoexe.jpg").
    #[error("invisible formatting character in component {index} (it can disguise the name)")]
    FormattingCharacter {
        /// Zero-based component index.
        index: usize,
    },
    /// Contains `:` (drive letter or alternate data stream).
    #[error("':' (drive letter or stream) in component {index}")]
    Colon {
        /// Zero-based component index.
        index: usize,
    },
    /// Contains one of `< > " | ? *`, invalid in Windows names.
    #[error("character not allowed in file names in component {index}")]
    ForbiddenCharacter {
        /// Zero-based component index.
        index: usize,
    },
    /// `a//b` or a trailing `/`.
    #[error("empty component {index}")]
    EmptyComponent {
        /// Zero-based component index.
        index: usize,
    },
    /// A `.` component.
    #[error("'.' component {index}")]
    CurrentDir {
        /// Zero-based component index.
        index: usize,
    },
    /// A `..` component.
    #[error("'..' component {index} (directory traversal)")]
    ParentDir {
        /// Zero-based component index.
        index: usize,
    },
    /// A Windows device name (`CON`, `NUL`, `COM1`, `LPT1.txt` …) or the
    /// partial-file folder.
    #[error("reserved name in component {index}")]
    ReservedName {
        /// Zero-based component index.
        index: usize,
    },
    /// Ends with `.` or space, which Windows silently strips.
    #[error("component {index} ends with a dot or space")]
    TrailingDotOrSpace {
        /// Zero-based component index.
        index: usize,
    },
    /// An existing component of the destination is a symlink.
    #[error("component {index} in the destination is a symbolic link")]
    SymlinkInDestination {
        /// Zero-based component index (of the relative path).
        index: usize,
    },
    /// An existing component that should be a folder is something else.
    #[error("component {index} in the destination is not a folder")]
    NotADirectory {
        /// Zero-based component index (of the relative path).
        index: usize,
    },
    /// The final path already exists; files are never overwritten.
    #[error("the destination already has an entry with this name")]
    AlreadyExists,
    /// The filesystem failed while checking or creating folders.
    #[error("filesystem error while preparing the destination: {0}")]
    Io(io::ErrorKind),
}

/// A relative path that passed [`validate_relative_path`]: its components are
/// plain names safe on Windows, macOS and Linux.
///
/// `Debug` does not print the names (they are user data).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SafePath {
    components: Vec<String>,
}

impl std::fmt::Debug for SafePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SafePath")
            .field("depth", &self.components.len())
            .finish_non_exhaustive()
    }
}

/// Checks a sender-supplied relative path (`/` separators) without touching
/// the filesystem. Accepts arbitrary input and never panics, so it is the
/// entry point for the path fuzz target.
pub fn validate_relative_path(path: &str) -> Result<SafePath, PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_RELATIVE_PATH {
        return Err(PathError::TooLong {
            len: path.len(),
            max: MAX_RELATIVE_PATH,
        });
    }
    if path.contains('\0') {
        return Err(PathError::Nul);
    }
    if path.contains('\\') {
        return Err(PathError::Backslash);
    }
    if path.starts_with('/') {
        return Err(PathError::Absolute);
    }
    let mut components = Vec::new();
    for (index, component) in path.split('/').enumerate() {
        if index >= MAX_DEPTH {
            return Err(PathError::TooDeep { max: MAX_DEPTH });
        }
        check_component(index, component)?;
        components.push(component.to_owned());
    }
    Ok(SafePath { components })
}

fn check_component(index: usize, c: &str) -> Result<(), PathError> {
    match c {
        "" => return Err(PathError::EmptyComponent { index }),
        "." => return Err(PathError::CurrentDir { index }),
        ".." => return Err(PathError::ParentDir { index }),
        _ => {}
    }
    if c.len() > MAX_COMPONENT {
        return Err(PathError::ComponentTooLong {
            index,
            len: c.len(),
            max: MAX_COMPONENT,
        });
    }
    for ch in c.chars() {
        match ch {
            '\u{1}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => {
                return Err(PathError::ControlCharacter { index })
            }
            '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{061c}'
            | '\u{feff}' => return Err(PathError::FormattingCharacter { index }),
            ':' => return Err(PathError::Colon { index }),
            '<' | '>' | '"' | '|' | '?' | '*' => {
                return Err(PathError::ForbiddenCharacter { index })
            }
            _ => {}
        }
    }
    if c.ends_with('.') || c.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace { index });
    }
    if is_windows_device(c) || (index == 0 && c.eq_ignore_ascii_case(PARTIAL_DIR)) {
        return Err(PathError::ReservedName { index });
    }
    Ok(())
}

/// Windows treats these as devices whatever the extension (`nul.txt`,
/// `COM1.tar.gz`) and ignores spaces before the extension (`CON .txt`).
fn is_windows_device(component: &str) -> bool {
    let stem = component.split('.').next().unwrap_or(component);
    let stem = stem.trim_end_matches([' ', '.']).to_ascii_uppercase();
    match stem.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" | "CLOCK$" => true,
        _ => {
            let digit = stem
                .strip_prefix("COM")
                .or_else(|| stem.strip_prefix("LPT"));
            digit.is_some_and(|d| {
                matches!(
                    d,
                    "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
                )
            })
        }
    }
}

impl SafePath {
    /// The validated components, outermost first.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The path under `root` (no filesystem access; see
    /// `rsupport_client::storage::SafePathFs::prepare_in`).
    pub fn join_onto(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        p.extend(&self.components);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_paths_are_accepted() {
        for ok in [
            "a.txt",
            "folder/sub/file.tar.gz",
            "日本語/ファイル.txt",
            ".hidden",
        ] {
            assert!(validate_relative_path(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            validate_relative_path("a/b/c").map(|p| p.components().len()),
            Ok(3)
        );
    }

    #[test]
    fn every_rule_has_its_error() {
        use PathError::*;
        let long_component = "x".repeat(MAX_COMPONENT + 1);
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        let too_long = "ab/".repeat(MAX_RELATIVE_PATH / 3 + 1);
        let cases: Vec<(&str, PathError)> = vec![
            ("", Empty),
            ("/etc/passwd", Absolute),
            ("//server/share/x", Absolute),
            ("\\\\server\\share", Backslash),
            ("a\\..\\b", Backslash),
            ("a\0b", Nul),
            ("a/\u{7}b", ControlCharacter { index: 1 }),
            ("a\u{85}b", ControlCharacter { index: 0 }),
            ("a/photo\u{202e}gpj.exe", FormattingCharacter { index: 1 }),
            ("\u{feff}a", FormattingCharacter { index: 0 }),
            ("C:/Windows/x", Colon { index: 0 }),
            ("c:x", Colon { index: 0 }),
            ("file.txt:stream", Colon { index: 0 }),
            ("a/b?c", ForbiddenCharacter { index: 1 }),
            ("a//b", EmptyComponent { index: 1 }),
            ("a/", EmptyComponent { index: 1 }),
            ("./a", CurrentDir { index: 0 }),
            ("..", ParentDir { index: 0 }),
            ("a/../../etc", ParentDir { index: 1 }),
            ("CON", ReservedName { index: 0 }),
            ("x/nul.txt", ReservedName { index: 1 }),
            ("Com1.tar.gz", ReservedName { index: 0 }),
            ("lpt9", ReservedName { index: 0 }),
            ("CON .txt", ReservedName { index: 0 }),
            ("conout$", ReservedName { index: 0 }),
            (".rsupport-partial/1-0", ReservedName { index: 0 }),
            ("a/name.", TrailingDotOrSpace { index: 1 }),
            ("name ", TrailingDotOrSpace { index: 0 }),
            (
                &long_component,
                ComponentTooLong {
                    index: 0,
                    len: MAX_COMPONENT + 1,
                    max: MAX_COMPONENT,
                },
            ),
            (&deep, TooDeep { max: MAX_DEPTH }),
            (
                &too_long,
                TooLong {
                    len: too_long.len(),
                    max: MAX_RELATIVE_PATH,
                },
            ),
        ];
        for (path, want) in cases {
            assert_eq!(validate_relative_path(path), Err(want), "{path:?}");
        }
        // Names that only look like devices are fine.
        for ok in ["console", "COM10", "lpt", "auxiliary.txt", "nul_x"] {
            assert!(validate_relative_path(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn debug_hides_names() {
        let p = validate_relative_path("secret-plans/budget.xlsx").unwrap();
        assert!(!format!("{p:?}").contains("secret"));
    }

    fn lexically_inside(root: &Path, joined: &Path) -> bool {
        use std::path::Component;
        joined.starts_with(root)
            && joined
                .strip_prefix(root)
                .map(|rest| rest.components().all(|c| matches!(c, Component::Normal(_))))
                .unwrap_or(false)
    }

    proptest! {
        /// Whatever a sender writes, an accepted path stays under the root.
        #[test]
        fn accepted_paths_stay_inside(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("..".to_string()), Just(".".to_string()), Just("".to_string()),
                    Just("/".to_string()), Just("\\".to_string()), Just("C:".to_string()),
                    "[a-zA-Z0-9 ._:/\\\\-]{0,12}", any::<String>(),
                ],
                1..8,
            )
        ) {
            let raw = parts.join("/");
            let root = Path::new("/srv/dest");
            if let Ok(safe) = validate_relative_path(&raw) {
                let joined = safe.join_onto(root);
                prop_assert!(lexically_inside(root, &joined), "{raw:?} -> {joined:?}");
                prop_assert_eq!(joined.components().count(), root.components().count() + safe.components().len());
            }
        }

        #[test]
        fn never_panics(raw in any::<String>()) {
            let _ = validate_relative_path(&raw);
        }
    }
}
