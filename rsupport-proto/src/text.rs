//! Text from one party shown to another: characters that hide, reorder or
//! control what a person sees are removed, and the length is capped.
//!
//! A customer's name, description and first chat line reach an operator's
//! screen before anyone has checked who sent them. Right-to-left overrides
//! (`U+202E`) turn "Security.exe" into something that reads differently,
//! zero-width characters make two names look identical, and terminal escape
//! sequences start with a control character. [`clean_display_text`] removes
//! all of them, so what is shown is what was typed, letter for letter.

/// Whether `c` is a character [`clean_display_text`] removes: C0 controls
/// (`U+0000`–`U+001F`), DEL and C1 controls (`U+007F`–`U+009F`), zero-width
/// and direction marks (`U+200B`–`U+200F`), bidi embeddings and overrides
/// (`U+202A`–`U+202E`), bidi isolates (`U+2066`–`U+2069`) and the byte-order
/// mark / zero-width no-break space (`U+FEFF`).
pub fn is_hidden_or_control(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// `text` without the characters of [`is_hidden_or_control`] and cut to at
/// most `max_chars` characters (Unicode scalar values). Tabs and line breaks
/// become one space each, so words on either side stay apart.
pub fn clean_display_text(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if is_hidden_or_control(c) => None,
            c => Some(c),
        })
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spoofing_characters_go_and_text_is_capped() {
        assert_eq!(
            clean_display_text(
                "IT\u{202e}exe.\u{2066}x\u{200b}\u{feff}\u{1b}[2J\u{85}",
                100
            ),
            "ITexe.x[2J"
        );
        assert_eq!(clean_display_text("a\nb\tc", 100), "a b c");
        assert_eq!(clean_display_text("こんにちは", 3), "こんに");
        assert_eq!(clean_display_text("Zoë Müller", 64), "Zoë Müller");
        assert!(!is_hidden_or_control('é'));
        assert!(is_hidden_or_control('\u{200f}'));
    }
}
