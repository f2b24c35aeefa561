//! Email from merchants to their customers, and from the platform to
//! merchants: what each message says ([`message`]), how it looks
//! ([`render`], templates in `templates/email/`), and how it leaves
//! ([`compose`], [`smtp`]).
//!
//! The flow the outbox worker follows: a domain event becomes a [`Mail`];
//! [`OutgoingEmail::prepare`] renders and addresses it once (that is what the
//! outbox stores, keyed by [`MailKind::dedupe_key`]); [`SmtpSender::send`]
//! delivers it and reports whether a failure is worth retrying; without an
//! `SMTP_URL`, [`Transport::Capture`] keeps it instead. [`MailPreferences`]
//! says which customer emails a merchant switched off.

pub mod branding;
pub mod compose;
pub mod message;
pub mod preferences;
pub mod render;
pub mod smtp;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod transport;

pub use lettre::Address;

pub use branding::{AccentColour, Branding, BrandingError, Link, Recipient, parse_address};
pub use compose::{DEDUPE_KEY_HEADER, OutgoingEmail};
pub use message::{Audience, Mail, MailKind, Price, UnknownMailKind};
pub use preferences::{MailPreferences, NotOptional};
pub use render::{RenderError, RenderedEmail, render};
pub use smtp::{FailureClass, Security, SendError, SmtpConfig, SmtpSender, SmtpUrlError};
pub use transport::{Delivery, Transport, TransportError};
