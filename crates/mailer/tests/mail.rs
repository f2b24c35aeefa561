//! Rendering and delivery, end to end over real SMTP: every message is sent
//! by `SmtpSender` to an in-process SMTP receiver, and what arrived is parsed
//! back as a mail client would.

mod support;

use std::collections::BTreeSet;

use mail_parser::{MessageParser, MimeHeaders};
use mailer::{
    DEDUPE_KEY_HEADER, Delivery, FailureClass, MailKind, OutgoingEmail, SmtpConfig, SmtpSender,
    Transport, render,
};
use support::samples::{branding, branding_named, every_mail, recipient};
use support::smtp_receiver::{Encryption, Received, SmtpReceiver, TestCertificate};

const SENDER: &str = "billing@billforge.example";

fn sender_for(receiver: &SmtpReceiver) -> SmtpSender {
    let config = SmtpConfig::parse(&receiver.url(None)).unwrap();
    SmtpSender::new(&config, SENDER.parse().unwrap()).unwrap()
}

fn prepare(mail: &mailer::Mail, dedupe_cause: &str) -> OutgoingEmail {
    let key = mail.kind().dedupe_key(dedupe_cause);
    OutgoingEmail::prepare(mail, &branding(), recipient(), Some(key)).unwrap()
}

fn parse(received: &Received) -> mail_parser::Message<'_> {
    MessageParser::default().parse(&received.data).unwrap()
}

#[test]
fn samples_cover_every_kind() {
    let sampled: BTreeSet<_> = every_mail().iter().map(|mail| mail.kind()).collect();
    let all: BTreeSet<_> = MailKind::ALL.iter().copied().collect();
    assert_eq!(sampled, all);
}

#[tokio::test]
async fn every_kind_arrives_as_multipart_with_branding_and_addresses() {
    let receiver = SmtpReceiver::start().await;
    let sender = sender_for(&receiver);
    let mails = every_mail();
    for mail in &mails {
        sender.send(&prepare(mail, "evt_1")).await.unwrap();
    }

    let received = receiver.received();
    assert_eq!(received.len(), mails.len());
    for (mail, delivery) in mails.iter().zip(&received) {
        let kind = mail.kind().as_str();
        let expected = render(mail, &branding(), &recipient()).unwrap();
        assert_eq!(delivery.mail_from, SENDER, "{kind}");
        assert_eq!(delivery.rcpt_to, ["jane@customer.example"], "{kind}");

        let message = parse(delivery);
        assert_eq!(message.subject(), Some(expected.subject.as_str()), "{kind}");
        let from = message.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Acme Widgets"), "{kind}");
        assert_eq!(from.address(), Some(SENDER), "{kind}");
        let reply_to = message.reply_to().unwrap().first().unwrap();
        assert_eq!(reply_to.address(), Some("support@shop.example"), "{kind}");
        let to = message.to().unwrap().first().unwrap();
        assert_eq!(to.address(), Some("jane@customer.example"), "{kind}");
        assert_eq!(to.name(), Some("Jane Doe"), "{kind}");
        assert!(
            message
                .message_id()
                .unwrap()
                .ends_with("@billforge.example"),
            "{kind}"
        );
        assert_eq!(
            message
                .header(DEDUPE_KEY_HEADER)
                .and_then(|value| value.as_text()),
            Some(format!("evt_1:{kind}").as_str())
        );

        let content_type = message.content_type().unwrap();
        assert_eq!(
            (content_type.ctype(), content_type.subtype()),
            ("multipart", Some("alternative")),
            "{kind}"
        );
        assert_eq!(message.text_body_count(), 1, "{kind}");
        assert_eq!(message.html_body_count(), 1, "{kind}");
        // Bodies travel with CRLF line ends.
        let text = message.body_text(0).unwrap().replace("\r\n", "\n");
        let html = message.body_html(0).unwrap().replace("\r\n", "\n");
        assert_eq!(text.trim_end(), expected.text.trim_end(), "{kind}");
        assert_eq!(html.trim_end(), expected.html.trim_end(), "{kind}");
        assert!(
            html.contains("background-color:#635bff"),
            "{kind}: accent colour"
        );
        assert!(
            html.contains("https://cdn.shop.example/logo.png"),
            "{kind}: logo"
        );
        assert!(text.contains("1 Market Street"), "{kind}: footer address");
        assert!(text.starts_with("Hi Jane Doe,"), "{kind}: greeting");
    }
}

#[tokio::test]
async fn hostile_merchant_names_are_escaped_and_cannot_inject_headers() {
    let receiver = SmtpReceiver::start().await;
    let hostile =
        branding_named("<script>alert(1)</script> & \"Sons\"\r\nBcc: victim@evil.example");
    let mail = &every_mail()[0];
    let email = OutgoingEmail::prepare(mail, &hostile, recipient(), None).unwrap();
    sender_for(&receiver).send(&email).await.unwrap();

    let received = receiver.received();
    assert_eq!(received[0].rcpt_to, ["jane@customer.example"]);
    let message = parse(&received[0]);
    assert!(message.header("Bcc").is_none());
    let from = message.from().unwrap().first().unwrap();
    assert_eq!(
        from.name(),
        Some("<script>alert(1)</script> & \"Sons\" Bcc: victim@evil.example")
    );
    assert_eq!(from.address(), Some(SENDER));
    let html = message.body_html(0).unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Sons&#34;"),
        "{html}"
    );
    assert!(
        message.subject().unwrap().contains("<script>"),
        "subjects are text, not HTML"
    );
}

#[tokio::test]
async fn a_4xx_is_transient_and_the_retry_is_delivered() {
    let receiver = SmtpReceiver::start().await;
    let sender = sender_for(&receiver);
    let email = prepare(&every_mail()[0], "evt_retry");
    receiver.refuse_next(1, "451 4.3.0 Mailbox temporarily unavailable");

    let error = sender.send(&email).await.unwrap_err();
    assert_eq!(error.class, FailureClass::Transient);
    assert_eq!(error.code, Some(451));
    assert!(
        error.reason.contains("Mailbox temporarily unavailable"),
        "{error}"
    );
    assert!(receiver.received().is_empty());

    sender.send(&email).await.unwrap();
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_5xx_is_permanent_with_the_servers_reason() {
    let receiver = SmtpReceiver::start().await;
    receiver.refuse_next(1, "550 5.1.1 No such user here");
    let error = sender_for(&receiver)
        .send(&prepare(&every_mail()[0], "evt_bounce"))
        .await
        .unwrap_err();
    assert_eq!(error.class, FailureClass::Permanent);
    assert_eq!(error.code, Some(550));
    assert!(error.reason.contains("No such user here"), "{error}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let receiver = SmtpReceiver::start().await;
    let url = receiver.url(None);
    drop(receiver);
    tokio::task::yield_now().await;
    let config = SmtpConfig::parse(&format!("{url}?timeout=2")).unwrap();
    let sender = SmtpSender::new(&config, SENDER.parse().unwrap()).unwrap();
    let error = sender
        .send(&prepare(&every_mail()[0], "evt_down"))
        .await
        .unwrap_err();
    assert_eq!(error.class, FailureClass::Transient, "{error}");
    assert_eq!(error.code, None);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let config = SmtpConfig::parse(&format!("smtp://{address}?timeout=1")).unwrap();
    let sender = SmtpSender::new(&config, SENDER.parse().unwrap()).unwrap();
    let started = std::time::Instant::now();
    let error = sender
        .send(&prepare(&every_mail()[0], "evt_silent"))
        .await
        .unwrap_err();
    assert_eq!(error.class, FailureClass::Transient, "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    holder.abort();
}

async fn send_over(url: &str, trusted: Option<&str>) -> Result<(), mailer::SendError> {
    let mut config = SmtpConfig::parse(url).unwrap();
    if let Some(pem) = trusted {
        config = config.trusting(pem);
    }
    let sender = SmtpSender::new(&config, SENDER.parse().unwrap()).unwrap();
    sender.send(&prepare(&every_mail()[0], "evt_tls")).await
}

#[tokio::test]
async fn starttls_and_implicit_tls_deliver_encrypted() {
    let certificate = TestCertificate::generate();
    let starttls =
        SmtpReceiver::start_with(Encryption::StartTls(certificate.acceptor.clone())).await;
    let url = starttls.url_with("smtp", Some("mailer:secret"), "?tls=required");
    send_over(&url, Some(&certificate.pem)).await.unwrap();
    let received = starttls.received();
    assert!(received[0].encrypted, "sent after STARTTLS");
    assert_eq!(starttls.logins(), ["mailer:secret"], "logged in over TLS");

    let implicit =
        SmtpReceiver::start_with(Encryption::Implicit(certificate.acceptor.clone())).await;
    send_over(
        &implicit.url_with("smtps", None, ""),
        Some(&certificate.pem),
    )
    .await
    .unwrap();
    assert!(implicit.received()[0].encrypted);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_nothing_is_sent() {
    let certificate = TestCertificate::generate();
    let receiver = SmtpReceiver::start_with(Encryption::Implicit(certificate.acceptor)).await;
    let error = send_over(&receiver.url_with("smtps", None, ""), None)
        .await
        .unwrap_err();
    assert_eq!(error.class, FailureClass::Transient, "{error}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn required_starttls_never_falls_back_to_plain_text() {
    let receiver = SmtpReceiver::start().await;
    let error = send_over(
        &receiver.url_with("smtp", Some("mailer:secret"), "?tls=required"),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(error.class, FailureClass::Transient, "{error}");
    assert!(receiver.received().is_empty());
    assert!(
        receiver.logins().is_empty(),
        "the password never went out in clear"
    );
}

#[tokio::test]
async fn a_refused_login_is_retried_because_it_is_not_the_messages_fault() {
    let receiver = SmtpReceiver::start().await;
    receiver.refuse_logins("535 5.7.8 Authentication credentials invalid");
    let error = send_over(&receiver.url(Some("mailer:wrong")), None)
        .await
        .unwrap_err();
    assert_eq!(error.class, FailureClass::Transient, "{error}");
    assert_eq!(error.code, Some(535));
    assert!(error.reason.contains("credentials invalid"), "{error}");
    assert!(
        !error.to_string().contains("wrong"),
        "no password in errors"
    );
}

#[tokio::test]
async fn credentials_from_the_url_are_used_to_log_in() {
    let receiver = SmtpReceiver::start().await;
    let config = SmtpConfig::parse(&receiver.url(Some("mailer:p%40ss"))).unwrap();
    let sender = SmtpSender::new(&config, SENDER.parse().unwrap()).unwrap();
    sender
        .send(&prepare(&every_mail()[0], "evt_auth"))
        .await
        .unwrap();
    assert_eq!(receiver.logins(), ["mailer:p@ss"]);
}

#[tokio::test]
async fn the_transport_sends_with_a_url_and_captures_without() {
    let receiver = SmtpReceiver::start().await;
    let email = prepare(&every_mail()[0], "evt_transport");
    let smtp =
        Transport::from_smtp_url(Some(&receiver.url(None)), SENDER.parse().unwrap()).unwrap();
    assert_eq!(smtp.deliver(&email).await, Ok(Delivery::Sent));
    let capture = Transport::from_smtp_url(None, SENDER.parse().unwrap()).unwrap();
    assert_eq!(capture.deliver(&email).await, Ok(Delivery::Captured));
    assert_eq!(receiver.received().len(), 1, "captured mail is not sent");
}

#[test]
fn the_message_id_is_stable_per_dedupe_key() {
    let sender = SENDER.parse().unwrap();
    let mail = &every_mail()[0];
    let first = prepare(mail, "evt_same").to_message(&sender).unwrap();
    let second = prepare(mail, "evt_same").to_message(&sender).unwrap();
    let other = prepare(mail, "evt_other").to_message(&sender).unwrap();
    let id =
        |message: &lettre::Message| message.headers().get_raw("Message-ID").unwrap().to_owned();
    assert_eq!(id(&first), id(&second));
    assert_ne!(id(&first), id(&other));
}

/// The subject and text part of every kind, and the HTML of one, reviewed
/// as snapshots. Rendering is deterministic (fixed dates, no ids), so
/// nothing needs redacting here; the wire form below redacts what changes
/// per send.
#[test]
fn rendered_emails_match_their_snapshots() {
    for mail in every_mail() {
        let kind = mail.kind();
        let rendered = render(&mail, &branding(), &recipient()).unwrap();
        insta::assert_snapshot!(
            format!("{kind}_text"),
            format!("Subject: {}\n\n{}", rendered.subject, rendered.text)
        );
        if kind == MailKind::Receipt {
            insta::assert_snapshot!(format!("{kind}_html"), rendered.html);
        }
    }
}

#[test]
fn the_wire_form_matches_its_snapshot_with_volatile_parts_redacted() {
    let sender = SENDER.parse().unwrap();
    let email = prepare(&every_mail()[0], "evt_wire");
    let wire = String::from_utf8(email.to_message(&sender).unwrap().formatted()).unwrap();
    let headers = wire.split("\r\n\r\n").next().unwrap().replace("\r\n", "\n");
    insta::assert_snapshot!("receipt_headers", redact_volatile_headers(&headers));
}

/// The Date header and the MIME boundary change on every build.
fn redact_volatile_headers(headers: &str) -> String {
    headers
        .lines()
        .map(|line| {
            if line.starts_with("Date: ") {
                "Date: [date]".to_owned()
            } else if let Some(start) = line.find("boundary=\"") {
                format!("{}boundary=\"[boundary]\"", &line[..start])
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_merchant_without_logo_or_customer_name_still_reads_well() {
    let plain_branding = mailer::Branding {
        logo_url: None,
        ..branding()
    };
    let anonymous = mailer::Recipient::new("x@customer.example".parse().unwrap(), None);
    let rendered = render(&every_mail()[0], &plain_branding, &anonymous).unwrap();
    assert!(rendered.text.starts_with("Hello,\n"));
    assert!(rendered.html.contains(">Acme Widgets</span>"));
    assert!(!rendered.html.contains("<img"));
}
