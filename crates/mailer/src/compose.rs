//! Addressing a rendered email and turning it into a MIME message.

use lettre::Address;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use sha2::{Digest, Sha256};

use crate::branding::{Branding, Recipient};
use crate::message::Mail;
use crate::render::{RenderError, RenderedEmail, render};

/// The header naming the cause of an email (`"{cause}:{kind}"`), so a
/// message found in a mailbox or a bounce can be traced to its outbox row.
pub const DEDUPE_KEY_HEADER: &str = "X-Billforge-Dedupe-Key";

/// RFC 3834: marks the email as machine-sent, so vacation responders and
/// ticket systems do not answer it and start a mail loop with the merchant.
const AUTO_SUBMITTED: (&str, &str) = ("Auto-Submitted", "auto-generated");

/// Everything needed to send one email, in the shape the outbox stores:
/// plain values, no templates, so a retry sends exactly what was rendered
/// the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// The From display name (the merchant's name); the address is the
    /// platform's, because only the platform's domain is authorised to send.
    pub from_name: String,
    /// Where replies go: the merchant's support address.
    pub reply_to: Address,
    /// The one recipient.
    pub to: Recipient,
    /// What caused this email, `"{cause}:{kind}"`; also makes the
    /// `Message-ID` stable, so a duplicate that slipped through anyway is
    /// recognised as one by mail clients.
    pub dedupe_key: Option<String>,
    /// The subject and both bodies.
    pub content: RenderedEmail,
}

impl OutgoingEmail {
    /// Renders `mail` and addresses it: From `branding.name`, Reply-To
    /// `branding.support_email`.
    pub fn prepare(
        mail: &Mail,
        branding: &Branding,
        to: Recipient,
        dedupe_key: Option<String>,
    ) -> Result<Self, RenderError> {
        let content = render(mail, branding, &to)?;
        Ok(Self {
            from_name: branding.name.clone(),
            reply_to: branding.support_email.clone(),
            to,
            dedupe_key,
            content,
        })
    }

    /// Builds the MIME message sent from `sender` (the platform's address):
    /// multipart/alternative, plain text first so clients prefer the HTML.
    pub fn to_message(&self, sender: &Address) -> Result<lettre::Message, lettre::error::Error> {
        let from = Mailbox::new(Some(self.from_name.clone()), sender.clone());
        let to = Mailbox::new(self.to.name.clone(), self.to.address.clone());
        let mut builder = lettre::Message::builder()
            .from(from)
            .reply_to(Mailbox::new(None, self.reply_to.clone()))
            .to(to)
            .subject(self.content.subject.clone())
            .message_id(Some(self.message_id(sender)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(AUTO_SUBMITTED.0),
                AUTO_SUBMITTED.1.to_owned(),
            ));
        if let Some(key) = &self.dedupe_key {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(DEDUPE_KEY_HEADER),
                key.clone(),
            ));
        }
        builder.multipart(MultiPart::alternative_plain_html(
            self.content.text.clone(),
            self.content.html.clone(),
        ))
    }

    /// `<id@sender-domain>`: derived from the dedupe key when there is one
    /// (hashed, so the header reveals nothing and stays short), random
    /// otherwise.
    pub fn message_id(&self, sender: &Address) -> String {
        let local = match &self.dedupe_key {
            Some(key) => hex::encode(&Sha256::digest(key.as_bytes())[..16]),
            None => ulid::Ulid::new().to_string().to_ascii_lowercase(),
        };
        format!("<{local}@{}>", sender.domain())
    }
}
