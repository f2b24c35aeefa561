//! Turns a [`Mail`] into its subject, HTML and plain-text parts, using the
//! askama templates under `templates/email/` (three files per kind).
//!
//! Templates are compiled in, so a missing template or a field a template
//! uses but the context lacks is a build error, not a surprise at send time.

use askama::Template;
use serde::{Deserialize, Serialize};

use crate::branding::{Branding, Recipient};
use crate::message::Mail;

/// An email's content, ready to send or to show in the admin console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedEmail {
    /// The subject line, a single line.
    pub subject: String,
    /// The HTML part, escaped and with inline styles.
    pub html: String,
    /// The plain-text part, for clients that do not show HTML and for
    /// readers that prefer it.
    pub text: String,
}

/// Why rendering failed: a template raised an error (e.g. a `Display` impl
/// failed). Compile-time checks make this rare.
#[derive(Debug, thiserror::Error)]
#[error("could not render the `{kind}` email: {source}")]
pub struct RenderError {
    /// Which kind's template failed, to find the file.
    pub kind: &'static str,
    /// What askama reported.
    #[source]
    pub source: askama::Error,
}

/// Renders `mail` as sent by `branding` to `recipient`.
pub fn render(
    mail: &Mail,
    branding: &Branding,
    recipient: &Recipient,
) -> Result<RenderedEmail, RenderError> {
    let (subject, html, text) =
        render_parts(mail, branding, recipient).map_err(|source| RenderError {
            kind: mail.kind().as_str(),
            source,
        })?;
    Ok(RenderedEmail {
        subject: one_line(&subject),
        html,
        text: tidy_text(&text),
    })
}

/// Subjects are headers: a line break from a template's trailing newline or
/// from data must not reach them.
fn one_line(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Template control tags leave blank lines and trailing spaces behind;
/// plain text shows them, so they are squeezed out: no trailing spaces, at
/// most one blank line in a row, exactly one final newline.
fn tidy_text(raw: &str) -> String {
    let mut tidy = String::with_capacity(raw.len());
    let mut blank_run = 0;
    for line in raw.trim().lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        tidy.push_str(line);
        tidy.push('\n');
    }
    tidy
}

/// Declares, per kind, the three template structs over the kind's context,
/// and the `match` that renders a [`Mail`] with them. Paths are spelled out
/// because askama needs literal paths.
macro_rules! email_templates {
    ($( $variant:ident in $module:ident: $subject:tt, $html:tt, $text:tt; )*) => {
        $(
            mod $module {
                use askama::Template;

                use crate::branding::{Branding, Recipient};
                use crate::message::$variant as Context;

                macro_rules! part {
                    ($name:ident, $path:tt) => {
                        #[derive(Template)]
                        #[template(path = $path)]
                        // Each template uses only some of the fields (a
                        // subject rarely needs the branding).
                        #[allow(dead_code)]
                        pub(super) struct $name<'a> {
                            /// The sender's look (name, logo, colours, footer).
                            pub(super) branding: &'a Branding,
                            /// Who is greeted.
                            pub(super) recipient: &'a Recipient,
                            /// What this kind of email shows.
                            pub(super) mail: &'a Context,
                        }
                    };
                }

                part!(Subject, $subject);
                part!(Html, $html);
                part!(Text, $text);
            }
        )*

        fn render_parts(
            mail: &Mail,
            branding: &Branding,
            recipient: &Recipient,
        ) -> askama::Result<(String, String, String)> {
            match mail {
                $(
                    Mail::$variant(mail) => Ok((
                        $module::Subject { branding, recipient, mail }.render()?,
                        $module::Html { branding, recipient, mail }.render()?,
                        $module::Text { branding, recipient, mail }.render()?,
                    )),
                )*
            }
        }
    };
}

email_templates! {
    Receipt in receipt:
        "email/receipt.subject.txt", "email/receipt.html", "email/receipt.txt";
    SubscriptionStarted in subscription_started:
        "email/subscription_started.subject.txt", "email/subscription_started.html", "email/subscription_started.txt";
    TrialStarted in trial_started:
        "email/trial_started.subject.txt", "email/trial_started.html", "email/trial_started.txt";
    TrialEnding in trial_ending:
        "email/trial_ending.subject.txt", "email/trial_ending.html", "email/trial_ending.txt";
    CancellationScheduled in cancellation_scheduled:
        "email/cancellation_scheduled.subject.txt", "email/cancellation_scheduled.html", "email/cancellation_scheduled.txt";
    SubscriptionCanceled in subscription_canceled:
        "email/subscription_canceled.subject.txt", "email/subscription_canceled.html", "email/subscription_canceled.txt";
    SubscriptionEndedUnpaid in subscription_ended_unpaid:
        "email/subscription_ended_unpaid.subject.txt", "email/subscription_ended_unpaid.html", "email/subscription_ended_unpaid.txt";
    PaymentFailed in payment_failed:
        "email/payment_failed.subject.txt", "email/payment_failed.html", "email/payment_failed.txt";
    AuthenticationRequired in authentication_required:
        "email/authentication_required.subject.txt", "email/authentication_required.html", "email/authentication_required.txt";
    FinalNotice in final_notice:
        "email/final_notice.subject.txt", "email/final_notice.html", "email/final_notice.txt";
    RefundIssued in refund_issued:
        "email/refund_issued.subject.txt", "email/refund_issued.html", "email/refund_issued.txt";
    NewSubscriber in merchant_new_subscriber:
        "email/merchant_new_subscriber.subject.txt", "email/merchant_new_subscriber.html", "email/merchant_new_subscriber.txt";
    MerchantCancellation in merchant_cancellation:
        "email/merchant_cancellation.subject.txt", "email/merchant_cancellation.html", "email/merchant_cancellation.txt";
    DisputeOpened in merchant_dispute_opened:
        "email/merchant_dispute_opened.subject.txt", "email/merchant_dispute_opened.html", "email/merchant_dispute_opened.txt";
    WebhookEndpointDisabled in merchant_webhook_endpoint_disabled:
        "email/merchant_webhook_endpoint_disabled.subject.txt", "email/merchant_webhook_endpoint_disabled.html", "email/merchant_webhook_endpoint_disabled.txt";
    SignInLink in customer_sign_in_link:
        "email/customer_sign_in_link.subject.txt", "email/customer_sign_in_link.html", "email/customer_sign_in_link.txt";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_one_line() {
        assert_eq!(
            one_line("  Your receipt\n from\r\nAcme \n"),
            "Your receipt from Acme"
        );
    }

    #[test]
    fn text_loses_template_debris() {
        assert_eq!(
            tidy_text("\n\nHi,  \n\n\n\nBody\n  \n\nEnd\n\n"),
            "Hi,\n\nBody\n\nEnd\n"
        );
    }
}
