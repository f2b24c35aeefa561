//! A small SMTP server for tests: it listens on 127.0.0.1 (port 0), speaks
//! enough ESMTP for lettre (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT), records what it accepts, and can be told to refuse the next
//! messages with a given reply, to exercise retry and failure handling.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One message the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
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
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let accept_loop = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&shared)));
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
        let login = login.map(|login| format!("{login}@")).unwrap_or_default();
        format!("smtp://{login}{}", self.address)
    }

    /// Answers the next `count` messages with `reply` (e.g. `"451 4.3.0
    /// try later"`) instead of accepting them.
    pub fn refuse_next(&self, count: usize, reply: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .scripted_replies
            .extend(std::iter::repeat_n(reply.to_owned(), count));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn logins(&self) -> Vec<String> {
        self.state.lock().unwrap().logins.clone()
    }
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader);
    let mut reply = async |text: &str| writer.write_all(format!("{text}\r\n").as_bytes()).await;
    if reply("220 receiver.test ESMTP ready").await.is_err() {
        return;
    }
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let outcome = match verb.as_str() {
            "EHLO" => {
                reply("250-receiver.test\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8").await
            }
            "HELO" | "NOOP" => reply("250 2.0.0 OK").await,
            "RSET" => {
                mail_from.clear();
                rcpt_to.clear();
                reply("250 2.0.0 OK").await
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
                state.lock().unwrap().logins.push(login);
                reply("235 2.7.0 Authentication successful").await
            }
            "MAIL" => {
                mail_from = between_angles(&command);
                reply("250 2.1.0 OK").await
            }
            "RCPT" => {
                rcpt_to.push(between_angles(&command));
                reply("250 2.1.5 OK").await
            }
            "DATA" => {
                if reply("354 End data with <CR><LF>.<CR><LF>").await.is_err() {
                    return;
                }
                let Some(data) = read_data(&mut lines).await else {
                    return;
                };
                let scripted = state.lock().unwrap().scripted_replies.pop_front();
                let answer = match scripted {
                    Some(refusal) => refusal,
                    None => {
                        state.lock().unwrap().received.push(Received {
                            mail_from: std::mem::take(&mut mail_from),
                            rcpt_to: std::mem::take(&mut rcpt_to),
                            data,
                        });
                        "250 2.0.0 queued".to_owned()
                    }
                };
                reply(&answer).await
            }
            "QUIT" => {
                let _ = reply("221 2.0.0 Bye").await;
                return;
            }
            _ => reply("502 5.5.2 Command not recognized").await,
        };
        if outcome.is_err() {
            return;
        }
    }
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
