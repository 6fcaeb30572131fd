//! Annotations (drawing tool).
