//! Test support (feature `test-support`): a real SMTP receiver.
//!
//! A small SMTP server for tests: it listens on 127.0.0.1 (port 0), speaks
//! enough ESMTP for lettre (EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT), plain or over TLS, records what it accepts, and can
//! be told to refuse the next messages with a given reply, to exercise
//! retry and failure handling.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// One message the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// Whether it arrived over TLS (implicit or after STARTTLS).
    pub encrypted: bool,
    /// The message as sent after `DATA`, dot-unstuffed.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct State {
    /// Accepted messages, in order.
    received: Vec<Received>,
    /// Replies to give at the end of the next DATA commands, instead of 250.
    scripted_replies: VecDeque<String>,
    /// `user:password` pairs seen in AUTH PLAIN.
    logins: Vec<String>,
    /// The reply to AUTH when logins are to be refused (e.g. 535).
    login_refusal: Option<String>,
}

/// How the receiver protects connections.
#[derive(Clone)]
pub enum Encryption {
    /// Plain SMTP.
    None,
    /// Offers STARTTLS (and requires nothing before it).
    StartTls(TlsAcceptor),
    /// TLS from the first byte, like `smtps`.
    Implicit(TlsAcceptor),
}

/// A certificate for 127.0.0.1, self-signed, so a client trusting it can
/// verify the receiver like a real server.
pub struct TestCertificate {
    /// The certificate as PEM, for the client's trust store.
    pub pem: String,
    /// The server side built from it.
    pub acceptor: TlsAcceptor,
}

impl TestCertificate {
    pub fn generate() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let chain = vec![certified.cert.der().clone()];
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Self {
            pem: certified.cert.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}

pub struct SmtpReceiver {
    /// Where the receiver listens.
    address: SocketAddr,
    /// Shared with the connection tasks.
    state: Arc<Mutex<State>>,
    /// The accept loop, aborted on drop.
    accept_loop: JoinHandle<()>,
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl SmtpReceiver {
    /// A plain-SMTP receiver.
    pub async fn start() -> Self {
        Self::start_with(Encryption::None).await
    }

    pub async fn start_with(tls: Encryption) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let accept_loop = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared), tls.clone()));
            }
        });
        Self {
            address,
            state,
            accept_loop,
        }
    }

    /// `smtp://127.0.0.1:PORT`, optionally with a login.
    pub fn url(&self, login: Option<&str>) -> String {
        self.url_with("smtp", login, "")
    }

    /// `SCHEME://[login@]127.0.0.1:PORT[QUERY]`.
    pub fn url_with(&self, scheme: &str, login: Option<&str>, query: &str) -> String {
        let login = login.map(|login| format!("{login}@")).unwrap_or_default();
        format!("{scheme}://{login}{}{query}", self.address)
    }

    /// Answers the next `count` messages with `reply` (e.g. `"451 4.3.0
    /// try later"`) instead of accepting them.
    pub fn refuse_next(&self, count: usize, reply: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .scripted_replies
            .extend(std::iter::repeat_n(reply.to_owned(), count));
    }

    /// Answers every AUTH with `reply` instead of accepting it.
    pub fn refuse_logins(&self, reply: &str) {
        self.state.lock().unwrap().login_refusal = Some(reply.to_owned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn logins(&self) -> Vec<String> {
        self.state.lock().unwrap().logins.clone()
    }
}

/// What a session ended with.
enum SessionEnd {
    /// The client quit or the connection closed.
    Closed,
    /// The client asked for STARTTLS and got the go-ahead: the caller
    /// continues the session over TLS on the same connection.
    StartTls,
}

/// Where in the connection a conversation starts.
#[derive(Clone, Copy)]
struct Phase {
    /// Whether to send the 220 greeting (not after STARTTLS, where the
    /// client speaks first).
    greet: bool,
    /// Whether the connection is already TLS.
    encrypted: bool,
    /// Whether to advertise and accept STARTTLS.
    offer_starttls: bool,
}

const PLAIN: Phase = Phase {
    greet: true,
    encrypted: false,
    offer_starttls: false,
};

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>, tls: Encryption) {
    let mut stream = BufStream::new(stream);
    match tls {
        Encryption::None => {
            converse(&mut stream, &state, PLAIN).await;
        }
        Encryption::Implicit(acceptor) => {
            if let Ok(encrypted) = acceptor.accept(stream.into_inner()).await {
                let phase = Phase {
                    encrypted: true,
                    ..PLAIN
                };
                converse(&mut BufStream::new(encrypted), &state, phase).await;
            }
        }
        Encryption::StartTls(acceptor) => {
            let phase = Phase {
                offer_starttls: true,
                ..PLAIN
            };
            if let SessionEnd::StartTls = converse(&mut stream, &state, phase).await
                && let Ok(encrypted) = acceptor.accept(stream.into_inner()).await
            {
                let phase = Phase {
                    greet: false,
                    encrypted: true,
                    offer_starttls: false,
                };
                converse(&mut BufStream::new(encrypted), &state, phase).await;
            }
        }
    }
}

/// One SMTP conversation, up to QUIT or STARTTLS.
async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufStream<S>,
    state: &Mutex<State>,
    phase: Phase,
) -> SessionEnd {
    let Phase {
        greet,
        encrypted,
        offer_starttls,
    } = phase;
    if greet
        && reply(stream, "220 receiver.test ESMTP ready")
            .await
            .is_err()
    {
        return SessionEnd::Closed;
    }
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
            return SessionEnd::Closed;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let answer = match verb.as_str() {
            "EHLO" if offer_starttls => {
                "250-receiver.test\r\n250-STARTTLS\r\n250 8BITMIME".to_owned()
            }
            "EHLO" => {
                "250-receiver.test\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8".to_owned()
            }
            "STARTTLS" if offer_starttls => {
                let _ = reply(stream, "220 2.0.0 Ready to start TLS").await;
                return SessionEnd::StartTls;
            }
            "HELO" | "NOOP" => "250 2.0.0 OK".to_owned(),
            "RSET" => {
                mail_from.clear();
                rcpt_to.clear();
                "250 2.0.0 OK".to_owned()
            }
            "AUTH" => {
                let encoded = command.split_whitespace().nth(2).unwrap_or("");
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                let parts: Vec<_> = decoded
                    .split(|byte| *byte == 0)
                    .map(String::from_utf8_lossy)
                    .collect();
                let login = parts
                    .get(1..3)
                    .map(|pair| pair.join(":"))
                    .unwrap_or_default();
                let mut state = state.lock().unwrap();
                state.logins.push(login);
                state
                    .login_refusal
                    .clone()
                    .unwrap_or_else(|| "235 2.7.0 Authentication successful".to_owned())
            }
            "MAIL" => {
                mail_from = between_angles(&command);
                "250 2.1.0 OK".to_owned()
            }
            "RCPT" => {
                rcpt_to.push(between_angles(&command));
                "250 2.1.5 OK".to_owned()
            }
            "DATA" => {
                if reply(stream, "354 End data with <CR><LF>.<CR><LF>")
                    .await
                    .is_err()
                {
                    return SessionEnd::Closed;
                }
                let Some(data) = read_data(stream).await else {
                    return SessionEnd::Closed;
                };
                let mut state = state.lock().unwrap();
                match state.scripted_replies.pop_front() {
                    Some(refusal) => refusal,
                    None => {
                        state.received.push(Received {
                            mail_from: std::mem::take(&mut mail_from),
                            rcpt_to: std::mem::take(&mut rcpt_to),
                            encrypted,
                            data,
                        });
                        "250 2.0.0 queued".to_owned()
                    }
                }
            }
            "QUIT" => {
                let _ = reply(stream, "221 2.0.0 Bye").await;
                return SessionEnd::Closed;
            }
            _ => "502 5.5.2 Command not recognized".to_owned(),
        };
        if reply(stream, &answer).await.is_err() {
            return SessionEnd::Closed;
        }
    }
}

async fn reply<S: AsyncWrite + Unpin>(stream: &mut S, text: &str) -> std::io::Result<()> {
    stream.write_all(format!("{text}\r\n").as_bytes()).await?;
    stream.flush().await
}

/// Reads DATA lines up to the lone `.`, undoing dot-stuffing.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" {
            return Some(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

fn between_angles(command: &str) -> String {
    let start = command.find('<').map_or(0, |index| index + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command.get(start..end).unwrap_or("").to_owned()
}
