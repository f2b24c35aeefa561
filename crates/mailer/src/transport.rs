//! Where mail goes: a real SMTP server when `SMTP_URL` is set, otherwise
//! nowhere at all. Captured mail stays in the outbox, shown in the admin
//! console and the logs, so a demo shows real emails without a mail server.

use lettre::Address;

use crate::compose::OutgoingEmail;
use crate::smtp::{SendError, SmtpConfig, SmtpSender, SmtpSetupError, SmtpUrlError};

/// Why the transport could not be configured at start-up.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Url(#[from] SmtpUrlError),
    #[error(transparent)]
    Setup(#[from] SmtpSetupError),
}

/// What happened to an email that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// An SMTP server accepted it.
    Sent,
    /// Kept, not sent, because no SMTP server is configured; the outbox
    /// marks it `captured`.
    Captured,
}

/// The configured way out.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Send over SMTP (boxed: the transport is large and `Capture` empty).
    Smtp(Box<SmtpSender>),
    /// Keep everything (no `SMTP_URL`).
    Capture,
}

impl Transport {
    /// `Capture` without a URL (or with an empty one, as an unset variable
    /// often arrives), SMTP otherwise; a bad URL stops start-up rather than
    /// silently capturing mail that should be sent.
    pub fn from_smtp_url(url: Option<&str>, sender: Address) -> Result<Self, TransportError> {
        match url.map(str::trim).filter(|url| !url.is_empty()) {
            None => Ok(Self::Capture),
            Some(url) => {
                let config = SmtpConfig::parse(url)?;
                Ok(Self::Smtp(Box::new(SmtpSender::new(&config, sender)?)))
            }
        }
    }

    /// Sends or captures one email.
    pub async fn deliver(&self, email: &OutgoingEmail) -> Result<Delivery, SendError> {
        match self {
            Self::Smtp(sender) => sender.send(email).await.map(|()| Delivery::Sent),
            Self::Capture => {
                tracing::info!(
                    to = %email.to.address,
                    from = %email.from_name,
                    dedupe_key = email.dedupe_key.as_deref().unwrap_or(""),
                    subject = %email.content.subject,
                    text = %email.content.text,
                    "email captured (no SMTP_URL configured)"
                );
                Ok(Delivery::Captured)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Address {
        "billing@platform.example".parse().unwrap()
    }

    #[test]
    fn no_url_means_capture() {
        for url in [None, Some(""), Some("  ")] {
            assert!(matches!(
                Transport::from_smtp_url(url, sender()),
                Ok(Transport::Capture)
            ));
        }
    }

    #[test]
    fn a_bad_url_is_an_error_not_a_silent_capture() {
        let error = Transport::from_smtp_url(Some("http://mail.example"), sender()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "SMTP_URL scheme `http` is not supported; use `smtp` or `smtps`"
        );
    }
}
