//! The SMTP side of a callout: one connection, one recipient.
//!
//! The dialogue is greeting, `EHLO` (then `HELO` when `EHLO` is not accepted), `MAIL
//! FROM:<sender>`, `RCPT TO:<recipient>`, `QUIT`. It stops at the first reply that is not
//! 2xx, sends `QUIT` and reports where it stopped. Nothing is queued on the server: no
//! `DATA` is ever sent.
//!
//! Replies are read line by line (LF-terminated, a CR before it dropped); a reply is
//! `CODE-text` lines followed by one `CODE text` line, every line with the same code.
//! Anything else (no three-digit code, a code outside 2xx–5xx, codes changing inside a
//! reply, a line over [`MAX_LINE`] bytes, more than [`MAX_LINES`] lines) is
//! [`SmtpError::Garbage`]. `timeout` bounds the whole dialogue, connection included.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::address::{Recipient, printable};

/// Longest reply line accepted (RFC 5321 allows 512 with CR LF; servers exceed it).
pub const MAX_LINE: usize = 2048;
/// Most lines in one reply (an EHLO reply lists one extension a line).
pub const MAX_LINES: usize = 100;

/// A step of the dialogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Greeting,
    Ehlo,
    Helo,
    MailFrom,
    RcptTo,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::Helo => "HELO",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
        }
    }
}

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// The enhanced status code of the first line (`2.1.5`), when it has one whose class
    /// matches the reply code.
    pub dsn: Option<String>,
    /// The text of every line (the DSN dropped where it led a line), joined by blanks,
    /// made printable.
    pub text: String,
}

/// What the server finally said: the reply that ended the dialogue and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub stage: Stage,
    pub reply: Reply,
}

/// Why the dialogue gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot connect to {server}: {reason}")]
    Connect { server: String, reason: String },
    #[error("{server} did not answer in time ({stage})", stage = .stage.name())]
    Timeout { server: String, stage: Stage },
    #[error("{server} closed the connection ({stage})", stage = .stage.name())]
    Closed { server: String, stage: Stage },
    #[error("{server} sent a malformed reply ({stage}): {line:?}", stage = .stage.name())]
    Garbage {
        server: String,
        stage: Stage,
        line: String,
    },
    #[error("{server}: {reason} ({stage})", stage = .stage.name())]
    Io {
        server: String,
        stage: Stage,
        reason: String,
    },
}

/// What the client says about itself.
#[derive(Debug, Clone)]
pub struct Client {
    /// The name given in EHLO/HELO.
    pub helo: String,
    /// The MAIL FROM address, without brackets (empty: the null sender `<>`).
    pub sender: String,
    /// Bound on the whole dialogue.
    pub timeout: Duration,
}

/// Parses an enhanced status code at the start of `text` (`5.1.1 rest`), requiring its
/// class to be the reply code's first digit.
fn split_dsn(code: u16, text: &str) -> (Option<String>, &str) {
    let (head, rest) = match text.find(' ') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    let parts: Vec<&str> = head.split('.').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 1
        && parts[0].as_bytes()[0] == b'0' + (code / 100) as u8
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        (Some(head.to_string()), rest)
    } else {
        (None, text)
    }
}

struct Conn<'a> {
    server: &'a str,
    reader: BufReader<TcpStream>,
    deadline: Instant,
}

impl Conn<'_> {
    fn remaining(&self, stage: Stage) -> Result<Duration, SmtpError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SmtpError::Timeout {
                server: self.server.to_string(),
                stage,
            });
        }
        Ok(left)
    }

    fn io(&self, stage: Stage, e: io::Error) -> SmtpError {
        let server = self.server.to_string();
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                SmtpError::Timeout { server, stage }
            }
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => SmtpError::Closed { server, stage },
            _ => SmtpError::Io {
                server,
                stage,
                reason: super::io_reason(&e),
            },
        }
    }

    fn send(&mut self, stage: Stage, line: &[u8]) -> Result<(), SmtpError> {
        let left = self.remaining(stage)?;
        let stream = self.reader.get_mut();
        stream
            .set_write_timeout(Some(left))
            .map_err(|e| self.io(stage, e))?;
        let mut msg = Vec::with_capacity(line.len() + 2);
        msg.extend_from_slice(line);
        msg.extend_from_slice(b"\r\n");
        let r = self.reader.get_mut().write_all(&msg);
        r.map_err(|e| self.io(stage, e))
    }

    fn line(&mut self, stage: Stage) -> Result<Vec<u8>, SmtpError> {
        let mut line = Vec::new();
        loop {
            let left = self.remaining(stage)?;
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .map_err(|e| self.io(stage, e))?;
            let want = (MAX_LINE + 1 - line.len()) as u64;
            match (&mut self.reader).take(want).read_until(b'\n', &mut line) {
                Ok(0) => {
                    return Err(SmtpError::Closed {
                        server: self.server.to_string(),
                        stage,
                    });
                }
                Ok(_) if line.ends_with(b"\n") => {
                    line.pop();
                    if line.ends_with(b"\r") {
                        line.pop();
                    }
                    return Ok(line);
                }
                Ok(_) if line.len() > MAX_LINE => {
                    return Err(self.garbage(stage, &line[..80]));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(stage, e)),
            }
        }
    }

    fn garbage(&self, stage: Stage, line: &[u8]) -> SmtpError {
        SmtpError::Garbage {
            server: self.server.to_string(),
            stage,
            line: printable(line),
        }
    }

    fn reply(&mut self, stage: Stage) -> Result<Reply, SmtpError> {
        let mut code = None;
        let mut dsn = None;
        let mut texts: Vec<String> = Vec::new();
        for n in 0..MAX_LINES {
            let line = self.line(stage)?;
            let digits = line.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit));
            let sep = line.get(3).copied();
            let (Some(d), Some(b' ' | b'-') | None) = (digits, sep) else {
                return Err(self.garbage(stage, &line));
            };
            let c =
                u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0');
            if !(200..600).contains(&c) || code.is_some_and(|k| k != c) {
                return Err(self.garbage(stage, &line));
            }
            code = Some(c);
            let text = printable(line.get(4..).unwrap_or_default());
            let (d, rest) = split_dsn(c, &text);
            if n == 0 {
                dsn = d;
            }
            if !rest.is_empty() {
                texts.push(rest.to_string());
            }
            if sep != Some(b'-') {
                return Ok(Reply {
                    code: c,
                    dsn,
                    text: texts.join(" "),
                });
            }
        }
        Err(self.garbage(stage, format!("more than {MAX_LINES} lines").as_bytes()))
    }

    /// Sends QUIT and reads its reply, briefly, ignoring what happens.
    fn quit(&mut self) {
        self.deadline = self.deadline.min(Instant::now() + Duration::from_secs(2));
        if self.send(Stage::RcptTo, b"QUIT").is_ok() {
            let _ = self.reply(Stage::RcptTo);
        }
    }
}

fn connect(server: &str, addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, SmtpError> {
    let mut last = String::from("no address");
    for a in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SmtpError::Timeout {
                server: server.to_string(),
                stage: Stage::Connect,
            });
        }
        match TcpStream::connect_timeout(a, left) {
            Ok(s) => return Ok(s),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                return Err(SmtpError::Timeout {
                    server: server.to_string(),
                    stage: Stage::Connect,
                });
            }
            Err(e) => last = super::io_reason(&e),
        }
    }
    Err(SmtpError::Connect {
        server: server.to_string(),
        reason: last,
    })
}

/// Asks `host` (a name or an address literal) on `port` whether it would accept `rcpt`.
pub fn ask(host: &str, port: u16, client: &Client, rcpt: &Recipient) -> Result<Answer, SmtpError> {
    let server = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let deadline = Instant::now() + client.timeout;
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| SmtpError::Connect {
            server: server.clone(),
            reason: super::io_reason(&e),
        })?
        .collect();
    let stream = connect(&server, &addrs, deadline)?;
    let mut conn = Conn {
        server: &server,
        reader: BufReader::new(stream),
        deadline,
    };
    let answer = dialogue(&mut conn, client, rcpt)?;
    conn.quit();
    Ok(answer)
}

fn dialogue(conn: &mut Conn<'_>, client: &Client, rcpt: &Recipient) -> Result<Answer, SmtpError> {
    let stop = |stage, reply: Reply| Answer { stage, reply };
    let greeting = conn.reply(Stage::Greeting)?;
    if greeting.code / 100 != 2 {
        return Ok(stop(Stage::Greeting, greeting));
    }
    conn.send(Stage::Ehlo, format!("EHLO {}", client.helo).as_bytes())?;
    let ehlo = conn.reply(Stage::Ehlo)?;
    if ehlo.code / 100 != 2 {
        conn.send(Stage::Helo, format!("HELO {}", client.helo).as_bytes())?;
        let helo = conn.reply(Stage::Helo)?;
        if helo.code / 100 != 2 {
            return Ok(stop(Stage::Helo, helo));
        }
    }
    conn.send(
        Stage::MailFrom,
        format!("MAIL FROM:<{}>", client.sender).as_bytes(),
    )?;
    let mail = conn.reply(Stage::MailFrom)?;
    if mail.code / 100 != 2 {
        return Ok(stop(Stage::MailFrom, mail));
    }
    let mut cmd = b"RCPT TO:<".to_vec();
    cmd.extend_from_slice(rcpt.as_bytes());
    cmd.push(b'>');
    conn.send(Stage::RcptTo, &cmd)?;
    let reply = conn.reply(Stage::RcptTo)?;
    Ok(stop(Stage::RcptTo, reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_only_when_its_class_matches() {
        assert_eq!(
            split_dsn(550, "5.1.1 <c@x>: no"),
            (Some("5.1.1".into()), "<c@x>: no")
        );
        assert_eq!(split_dsn(250, "2.1.5"), (Some("2.1.5".into()), ""));
        assert_eq!(split_dsn(450, "5.1.1 odd"), (None, "5.1.1 odd"));
        assert_eq!(split_dsn(250, "2.1 Ok"), (None, "2.1 Ok"));
        assert_eq!(split_dsn(250, "Ok"), (None, "Ok"));
        assert_eq!(split_dsn(250, "2.1111.5 x"), (None, "2.1111.5 x"));
    }
}
