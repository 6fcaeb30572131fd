//! Sending invitations by e-mail through a configured SMTP server (lettre).

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::Invitation;

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// TLS from the first byte (port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server cannot.
    StartTls,
    /// No encryption. Only for a local relay on the same host or for tests.
    Plain,
}

/// SMTP settings.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// Login user, if the server needs one.
    pub username: Option<String>,
    /// Login password.
    pub password: Option<String>,
    /// Sender address, e.g. `Help Desk <help@example.com>`.
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

/// Why an invitation could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailError {
    /// An address does not parse.
    #[error("invalid address: {0}")]
    Address(String),
    /// Building the message failed.
    #[error("message: {0}")]
    Message(String),
    /// The SMTP exchange failed.
    #[error("smtp: {0}")]
    Smtp(String),
}

/// E-mails `invitation` to `to`.
pub async fn send_invitation(
    smtp: &SmtpConfig,
    to: &str,
    invitation: &Invitation,
    operator_name: &str,
    now_ms: u64,
) -> Result<(), EmailError> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|_| EmailError::Address("from".into()))?;
    let to: Mailbox = to.parse().map_err(|_| EmailError::Address("to".into()))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject("Your remote support session")
        .body(invitation.text(operator_name, now_ms))
        .map_err(|e| EmailError::Message(e.to_string()))?;
    let smtp_err = |e: lettre::transport::smtp::Error| EmailError::Smtp(e.to_string());
    let builder = match smtp.security {
        SmtpSecurity::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(smtp_err)?
        }
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(smtp_err)?
        }
        SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
    };
    let mut builder = builder.port(smtp.port);
    if let (Some(u), Some(p)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    builder.build().send(message).await.map_err(smtp_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A minimal SMTP sink: accepts one message and returns its DATA.
    async fn smtp_sink(listener: tokio::net::TcpListener) -> String {
        let (sock, _) = listener.accept().await.unwrap();
        let (rd, mut wr) = sock.into_split();
        let mut lines = BufReader::new(rd).lines();
        wr.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        let mut data = String::new();
        let mut in_data = false;
        while let Some(line) = lines.next_line().await.unwrap() {
            if in_data {
                if line == "." {
                    in_data = false;
                    wr.write_all(b"250 queued\r\n").await.unwrap();
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    wr.write_all(b"221 bye\r\n").await.unwrap();
                    break;
                }
                _ => b"250 ok\r\n",
            };
            wr.write_all(reply).await.unwrap();
        }
        data
    }

    #[tokio::test]
    async fn invitation_reaches_a_local_smtp_sink() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = tokio::spawn(smtp_sink(listener));
        let smtp = SmtpConfig {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::Plain,
            username: None,
            password: None,
            from: "Help Desk <help@example.com>".into(),
        };
        let inv = Invitation::new(
            "123456789012",
            "https://help.example/j/123456789012",
            600_000,
        );
        send_invitation(&smtp, "bob@example.org", &inv, "Aiko", 0)
            .await
            .unwrap();
        let data = sink.await.unwrap();
        assert!(data.contains("To: bob@example.org"), "{data}");
        assert!(data.contains("123 456 789 012"), "{data}");
        assert!(
            data.contains("https://help.example/j/123456789012"),
            "{data}"
        );
    }
}
