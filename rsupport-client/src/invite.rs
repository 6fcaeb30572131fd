//! Invitations: what a product shows, reads out or e-mails to a customer.

use rsupport_proto::relay::CodeIssued;

/// A session-code invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The code (digits). A secret until used: do not log it.
    pub code: rsupport_proto::relay::Secret<String>,
    /// Join link built from the relay's URL template (may be empty).
    pub join_link: String,
    /// When the code stops working, ms since epoch.
    pub expires_at_ms: u64,
}

impl From<CodeIssued> for Invitation {
    fn from(c: CodeIssued) -> Self {
        Invitation {
            code: c.code,
            join_link: c.join_link,
            expires_at_ms: c.expires_at_ms,
        }
    }
}

impl Invitation {
    /// The code grouped for reading aloud: `1234 5678`.
    pub fn display_code(&self) -> String {
        let digits: Vec<char> = self.code.expose().chars().collect();
        digits
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
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

#[cfg(feature = "email")]
pub mod email;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_code_link_and_expiry() {
        let inv = Invitation {
            code: "12345678".into(),
            join_link: "https://help.example/j/12345678".into(),
            expires_at_ms: 600_000,
        };
        let t = inv.text("Aiko", 1);
        assert!(t.contains("1234 5678"));
        assert!(t.contains("https://help.example/j/12345678"));
        assert!(t.contains("10 minutes"));
    }
}
