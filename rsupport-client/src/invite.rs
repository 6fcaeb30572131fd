//! [`Invitation`]: what a product shows, reads out or e-mails to a customer.

use rsupport_core::e2e::SplitCode;
use rsupport_proto::limits::CODE_SECRET_DIGITS;
use rsupport_proto::relay::{CodeIssued, Secret};

/// A session-code invitation: the code, the join link and the expiry.
/// Returned by [`Operator::issue_code`](crate::Operator::issue_code).
///
/// The code is a secret until used: show it or read it out
/// ([`display_code`](Self::display_code)), never log it (`Debug` redacts it
/// and the join link, which contains it).
#[derive(Clone, PartialEq, Eq)]
pub struct Invitation {
    code: Secret<String>,
    join_link: String,
    expires_at_ms: u64,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation")
            .field("code", &self.code)
            .field("join_link", &(!self.join_link.is_empty()).then_some("***"))
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl Invitation {
    /// The invitation for a code the relay issued, extended with the secret
    /// digits the operator's program chose. The join link carries them in
    /// its fragment (after `#`), which browsers never send to a server.
    pub(crate) fn issued(c: CodeIssued, code: &SplitCode) -> Self {
        let join_link = if c.join_link.is_empty() {
            c.join_link
        } else {
            format!("{}#{}", c.join_link, code.secret.expose())
        };
        Invitation {
            code: Secret::new(code.full()),
            join_link,
            expires_at_ms: c.expires_at_ms,
        }
    }

    /// The digits the relay issued and checks (without the secret ones).
    pub(crate) fn routing_code(&self) -> &str {
        let digits = self.code.expose();
        digits
            .get(..digits.len().saturating_sub(CODE_SECRET_DIGITS))
            .unwrap_or(digits)
    }
}

impl Invitation {
    /// An invitation for `code` (for tests and for products that keep
    /// invitations themselves).
    pub fn new(code: impl Into<String>, join_link: impl Into<String>, expires_at_ms: u64) -> Self {
        Invitation {
            code: Secret::new(code.into()),
            join_link: join_link.into(),
            expires_at_ms,
        }
    }

    /// The session code, digits only. Say it on the phone or show it;
    /// never log it.
    pub fn code(&self) -> &str {
        self.code.expose()
    }

    /// The join link built from the relay's URL template (may be empty).
    pub fn join_link(&self) -> &str {
        &self.join_link
    }

    /// When the code stops working, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// The code grouped by three for reading aloud: `123 456 789 012`.
    /// A last group of one digit joins the group before it
    /// (`123 456 7890`), so no digit stands alone. Customers may type the
    /// code with or without the spaces.
    pub fn display_code(&self) -> String {
        let digits: Vec<char> = self.code.expose().chars().collect();
        let mut groups: Vec<String> = digits
            .chunks(3)
            .map(|c| c.iter().collect::<String>())
            .collect();
        if groups.len() > 1 && groups.last().is_some_and(|g| g.chars().count() == 1) {
            if let Some(last) = groups.pop() {
                if let Some(before) = groups.last_mut() {
                    before.push_str(&last);
                }
            }
        }
        groups.join(" ")
    }

    /// Minutes left at `now_ms` (rounded up).
    pub fn minutes_left(&self, now_ms: u64) -> u64 {
        self.expires_at_ms.saturating_sub(now_ms).div_ceil(60_000)
    }

    /// A plain-text message for e-mail or chat.
    pub fn text(&self, operator_name: &str, now_ms: u64) -> String {
        let mut t = format!(
            "{operator_name} invites you to a remote support session.\n\nSession code: {}\n",
            self.display_code()
        );
        if !self.join_link.is_empty() {
            t.push_str(&format!("Join link: {}\n", self.join_link));
        }
        t.push_str(&format!(
            "The code works once and expires in {} minutes.\n",
            self.minutes_left(now_ms)
        ));
        t
    }
}

/// Normalises a session code as typed by a person: ASCII spaces, tabs and
/// dashes are removed (`"123 456 789 012"`, `"123-456-789-012"`,
/// `" 123456789012 "`);
/// anything else but digits is refused.
pub(crate) fn normalize_code(input: &str) -> Result<String, crate::NotAllowed> {
    let mut code = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '0'..='9' => code.push(c),
            ' ' | '\t' | '-' => {}
            _ => {
                return Err(crate::NotAllowed::InvalidCode {
                    problem: "it may contain only digits, spaces and dashes".into(),
                })
            }
        }
    }
    if code.is_empty() {
        return Err(crate::NotAllowed::InvalidCode {
            problem: "it is empty".into(),
        });
    }
    if code.len() > rsupport_proto::limits::MAX_SECRET {
        return Err(crate::NotAllowed::InvalidCode {
            problem: "it is far too long".into(),
        });
    }
    Ok(code)
}

#[cfg(feature = "email")]
pub mod email;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_code_link_and_expiry() {
        let inv = Invitation::new(
            "123456789012",
            "https://help.example/j/123456789012",
            600_000,
        );
        let t = inv.text("Aiko", 1);
        assert!(t.contains("123 456 789 012"));
        assert!(t.contains("https://help.example/j/123456789012"));
        assert!(t.contains("10 minutes"));
        assert!(
            !format!("{inv:?}").contains("123456789012"),
            "Debug redacts the code"
        );
    }

    #[test]
    fn codes_are_shown_in_groups_of_three_without_a_lone_digit() {
        for (code, shown) in [
            ("123456789012", "123 456 789 012"),
            ("1234567890", "123 456 7890"),
            ("12345678901", "123 456 789 01"),
            ("1234567890123456", "123 456 789 012 3456"),
            ("1", "1"),
        ] {
            assert_eq!(Invitation::new(code, "", 0).display_code(), shown);
        }
    }

    #[test]
    fn codes_accept_spaces_dashes_and_tabs() {
        for typed in ["1234 5678", "1234-5678", " 12345678 ", "\t1234 - 5678\t"] {
            assert_eq!(normalize_code(typed).unwrap(), "12345678", "{typed:?}");
        }
        for bad in ["", "  - ", "1234_5678", "12345678x", "１２３４"] {
            let e = normalize_code(bad).unwrap_err();
            assert!(
                matches!(e, crate::NotAllowed::InvalidCode { .. }),
                "{bad:?}"
            );
            assert!(!e.to_string().contains(bad.trim()) || bad.trim().is_empty());
        }
    }
}
