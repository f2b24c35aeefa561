//! Sending over SMTP, configured by one `SMTP_URL`, with failures sorted
//! into "try again later" and "give up", which is all the outbox worker
//! needs to decide.
//!
//! URL forms (user and password optional, percent-encoded):
//! - `smtp://host[:port]`: plain SMTP, port 25 by default. For local relays
//!   and test receivers only: nothing is encrypted.
//! - `smtp://host[:port]?tls=required`: STARTTLS, refusing servers without
//!   it; port 587 by default.
//! - `smtp://host[:port]?tls=opportunistic`: STARTTLS when offered; 587.
//! - `smtps://host[:port]`: TLS from the first byte; port 465 by default.
//!
//! `timeout=SECONDS` (default 30) bounds connecting, and separately the
//! whole exchange for one message: lettre's async transport only applies
//! its timeout to connecting, so a server that accepts and then stays
//! silent would otherwise hold a worker forever.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::compose::OutgoingEmail;

/// How long connecting, and then sending one message, may take before the
/// attempt counts as a transient failure: long enough for a slow relay,
/// short enough not to tie up a worker.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Nothing: local relays and tests.
    Plain,
    /// STARTTLS, and fail if the server does not offer it.
    StartTlsRequired,
    /// STARTTLS when the server offers it, plain otherwise.
    StartTlsOpportunistic,
    /// TLS from the start (`smtps`).
    ImplicitTls,
}

/// Why an `SMTP_URL` was rejected. Messages never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpUrlError {
    #[error(
        "SMTP_URL is not a URL ({0}); expected e.g. `smtp://user:password@mail.example:587?tls=required`"
    )]
    Malformed(String),
    #[error("SMTP_URL scheme `{0}` is not supported; use `smtp` or `smtps`")]
    Scheme(String),
    #[error("SMTP_URL has no host")]
    MissingHost,
    #[error(
        "SMTP_URL parameter `tls={0}` is not supported; use `required` or `opportunistic`, or the `smtps` scheme"
    )]
    TlsMode(String),
    #[error("SMTP_URL parameter `tls` only applies to `smtp://`; `smtps://` is always encrypted")]
    TlsWithSmtps,
    #[error("SMTP_URL parameter `timeout={0}` is not a positive number of seconds")]
    Timeout(String),
    #[error("SMTP_URL parameter `{0}` is unknown; known ones are `tls` and `timeout`")]
    UnknownParameter(String),
    #[error("SMTP_URL user name or password is not valid UTF-8 once percent-decoded")]
    Credentials,
}

/// The SMTP user and password. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpCredentials {
    /// The login name, percent-decoded; safe to log.
    pub user: String,
    /// The secret, percent-decoded; never printed.
    password: String,
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A parsed `SMTP_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The server's host name or IP address; also the name its TLS
    /// certificate must carry.
    pub host: String,
    /// The port, defaulted from the security mode when the URL has none.
    pub port: u16,
    /// How the connection is protected.
    pub security: Security,
    /// Login, when the URL carries a user.
    pub credentials: Option<SmtpCredentials>,
    /// Limit for connecting, and for the whole exchange of one message.
    pub timeout: Duration,
    /// A PEM certificate to trust besides the public roots, for relays
    /// with a private CA (and for tests); `None` trusts the public roots only.
    pub extra_root_pem: Option<String>,
}

impl SmtpConfig {
    pub fn parse(raw: &str) -> Result<Self, SmtpUrlError> {
        let url = url::Url::parse(raw.trim())
            .map_err(|error| SmtpUrlError::Malformed(error.to_string()))?;
        let mut tls = None;
        let mut timeout = DEFAULT_TIMEOUT;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" => tls = Some(value.into_owned()),
                "timeout" => {
                    timeout = value
                        .parse::<u64>()
                        .ok()
                        .filter(|seconds| *seconds > 0)
                        .map(Duration::from_secs)
                        .ok_or_else(|| SmtpUrlError::Timeout(value.into_owned()))?;
                }
                other => return Err(SmtpUrlError::UnknownParameter(other.to_owned())),
            }
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => Security::Plain,
            ("smtp", Some("required")) => Security::StartTlsRequired,
            ("smtp", Some("opportunistic")) => Security::StartTlsOpportunistic,
            ("smtp", Some(other)) => return Err(SmtpUrlError::TlsMode(other.to_owned())),
            ("smtps", None) => Security::ImplicitTls,
            ("smtps", Some(_)) => return Err(SmtpUrlError::TlsWithSmtps),
            (other, _) => return Err(SmtpUrlError::Scheme(other.to_owned())),
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or(SmtpUrlError::MissingHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(match security {
            Security::Plain => 25,
            Security::StartTlsRequired | Security::StartTlsOpportunistic => 587,
            Security::ImplicitTls => 465,
        });
        let credentials = if url.username().is_empty() {
            None
        } else {
            let decode = |part: &str| percent_decode(part).ok_or(SmtpUrlError::Credentials);
            Some(SmtpCredentials {
                user: decode(url.username())?,
                password: decode(url.password().unwrap_or_default())?,
            })
        };
        Ok(Self {
            host,
            port,
            security,
            credentials,
            timeout,
            extra_root_pem: None,
        })
    }

    /// Also trusts `pem` when verifying the server's certificate.
    pub fn trusting(mut self, pem: &str) -> Self {
        self.extra_root_pem = Some(pem.to_owned());
        self
    }

    /// The URL with the password replaced, for logs and the admin console.
    pub fn redacted(&self) -> String {
        let scheme = match self.security {
            Security::ImplicitTls => "smtps",
            _ => "smtp",
        };
        let login = match &self.credentials {
            Some(credentials) => format!("{}:***@", credentials.user),
            None => String::new(),
        };
        let tls = match self.security {
            Security::StartTlsRequired => "?tls=required",
            Security::StartTlsOpportunistic => "?tls=opportunistic",
            Security::Plain | Security::ImplicitTls => "",
        };
        format!("{scheme}://{login}{}:{}{tls}", self.host, self.port)
    }

    fn transport(
        &self,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let tls = || {
            let mut parameters = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.extra_root_pem {
                parameters =
                    parameters.add_root_certificate(Certificate::from_pem(pem.as_bytes())?);
            }
            parameters.build_rustls()
        };
        let tls = match self.security {
            Security::Plain => Tls::None,
            Security::StartTlsRequired => Tls::Required(tls()?),
            Security::StartTlsOpportunistic => Tls::Opportunistic(tls()?),
            Security::ImplicitTls => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(self.timeout));
        if let Some(credentials) = &self.credentials {
            builder = builder.credentials(Credentials::new(
                credentials.user.clone(),
                credentials.password.clone(),
            ));
        }
        Ok(builder.build())
    }
}

/// The user and password sit percent-encoded in the URL (`@` as `%40`).
fn percent_decode(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

/// Whether a failed send may succeed later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Try again with backoff: a 4xx reply, a timeout, a refused or broken
    /// connection, a TLS handshake failure.
    Transient,
    /// Do not retry: the server refused this message for good (5xx).
    Permanent,
}

/// A failed delivery, as the outbox records it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class:?} SMTP failure{}: {reason}", code.map(|code| format!(" ({code})")).unwrap_or_default())]
pub struct SendError {
    /// Retry or give up.
    pub class: FailureClass,
    /// The server's three-digit reply code, when it replied.
    pub code: Option<u16>,
    /// The server's explanation or the local cause, shown to admins.
    pub reason: String,
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        self.class == FailureClass::Transient
    }

    fn from_smtp(error: &lettre::transport::smtp::Error) -> Self {
        let code = error.status().map(|code| {
            let text = code.to_string();
            text.parse::<u16>().unwrap_or_default()
        });
        // For replies, lettre keeps the server's text as the source; for
        // local failures the whole chain explains best.
        let reason = match (code, error.source()) {
            (Some(_), Some(source)) => source.to_string(),
            _ => error.to_string(),
        };
        let class = match code {
            Some(code) if error.is_permanent() && !is_authentication_refusal(code) => {
                FailureClass::Permanent
            }
            _ => FailureClass::Transient,
        };
        Self {
            class,
            code,
            reason,
        }
    }
}

/// 530/534/535/538 reject our login, not the message: every message would
/// fail the same way until an operator fixes the configuration, so these are
/// retried instead of losing the whole queue to "failed".
fn is_authentication_refusal(code: u16) -> bool {
    matches!(code, 530 | 534 | 535 | 538)
}

/// Sends [`OutgoingEmail`]s over SMTP, one connection per message.
#[derive(Clone)]
pub struct SmtpSender {
    /// The lettre transport built from the config.
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// The platform's sending address (From and envelope sender); merchants'
    /// own domains are not authorised to send through the platform.
    sender: Address,
    /// The redacted URL, for `Debug` and logs.
    redacted_url: String,
    /// The limit for one message's whole exchange (see the module docs).
    timeout: Duration,
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("url", &self.redacted_url)
            .field("sender", &self.sender)
            .finish()
    }
}

/// Why an [`SmtpSender`] could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up SMTP to {url}: {source}")]
pub struct SmtpSetupError {
    /// The redacted URL.
    pub url: String,
    /// What lettre reported (TLS setup).
    #[source]
    pub source: lettre::transport::smtp::Error,
}

impl SmtpSender {
    pub fn new(config: &SmtpConfig, sender: Address) -> Result<Self, SmtpSetupError> {
        let transport = config.transport().map_err(|source| SmtpSetupError {
            url: config.redacted(),
            source,
        })?;
        Ok(Self {
            transport,
            sender,
            redacted_url: config.redacted(),
            timeout: config.timeout,
        })
    }

    /// The platform address mail is sent from.
    pub fn sender(&self) -> &Address {
        &self.sender
    }

    /// Delivers one email. On error, [`SendError::class`] tells the caller
    /// whether to retry.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        let message = email.to_message(&self.sender).map_err(|error| SendError {
            class: FailureClass::Permanent,
            code: None,
            reason: format!("the message could not be built: {error}"),
        })?;
        let outcome = match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(SendError::from_smtp(&error)),
            Err(_elapsed) => Err(SendError {
                class: FailureClass::Transient,
                code: None,
                reason: format!(
                    "the SMTP server did not finish within {} seconds",
                    self.timeout.as_secs()
                ),
            }),
        };
        match outcome {
            Ok(response) => {
                tracing::info!(
                    to = %email.to.address,
                    dedupe_key = email.dedupe_key.as_deref().unwrap_or(""),
                    code = %response.code(),
                    "email delivered to the SMTP server"
                );
                Ok(())
            }
            Err(error) => {
                tracing::warn!(
                    to = %email.to.address,
                    dedupe_key = email.dedupe_key.as_deref().unwrap_or(""),
                    class = ?error.class,
                    code = ?error.code,
                    reason = %error.reason,
                    "email not delivered"
                );
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_default_from_the_security_mode() {
        let cases = [
            ("smtp://mail.example", Security::Plain, 25),
            (
                "smtp://mail.example?tls=required",
                Security::StartTlsRequired,
                587,
            ),
            (
                "smtp://mail.example?tls=opportunistic",
                Security::StartTlsOpportunistic,
                587,
            ),
            ("smtps://mail.example", Security::ImplicitTls, 465),
            ("smtp://127.0.0.1:2525", Security::Plain, 2525),
        ];
        for (raw, security, port) in cases {
            let config = SmtpConfig::parse(raw).unwrap();
            assert_eq!((config.security, config.port), (security, port), "{raw}");
            assert_eq!(config.timeout, DEFAULT_TIMEOUT);
            assert_eq!(config.credentials, None);
        }
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        let config =
            SmtpConfig::parse("smtps://apikey:s3cr%40t%2Bpass@smtp.example?timeout=5").unwrap();
        let credentials = config.credentials.clone().unwrap();
        assert_eq!(credentials.user, "apikey");
        assert_eq!(credentials.password, "s3cr@t+pass");
        assert_eq!(config.timeout, Duration::from_secs(5));
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert_eq!(config.redacted(), "smtps://apikey:***@smtp.example:465");
        let sender = SmtpSender::new(&config, "billing@platform.example".parse().unwrap()).unwrap();
        assert!(!format!("{sender:?}").contains("s3cr"));
    }

    #[test]
    fn bad_urls_are_explained_without_the_password() {
        let cases = [
            (
                "imap://u:hunter2@mail.example",
                SmtpUrlError::Scheme("imap".into()),
            ),
            (
                "smtp://u:hunter2@mail.example?tls=yes",
                SmtpUrlError::TlsMode("yes".into()),
            ),
            (
                "smtps://u:hunter2@mail.example?tls=required",
                SmtpUrlError::TlsWithSmtps,
            ),
            (
                "smtp://u:hunter2@mail.example?timeout=0",
                SmtpUrlError::Timeout("0".into()),
            ),
            (
                "smtp://u:hunter2@mail.example?pool=1",
                SmtpUrlError::UnknownParameter("pool".into()),
            ),
            ("smtp:///nohost", SmtpUrlError::MissingHost),
        ];
        for (raw, expected) in cases {
            let error = SmtpConfig::parse(raw).unwrap_err();
            assert_eq!(error, expected, "{raw}");
            assert!(!error.to_string().contains("hunter2"));
        }
        let error = SmtpConfig::parse("not a url with hunter2").unwrap_err();
        assert!(matches!(error, SmtpUrlError::Malformed(_)));
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn only_login_refusals_among_5xx_are_retried() {
        assert!(is_authentication_refusal(535));
        assert!(!is_authentication_refusal(550));
        assert!(!is_authentication_refusal(554));
    }
}
