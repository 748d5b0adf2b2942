//! A scripted SMTP responder on 127.0.0.1 for the verification tests: each accepted
//! connection runs a script of `say`/`expect` steps, and every line received is logged.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One step of a responder's script.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send these bytes as they are.
    Raw(&'static [u8]),
    /// Send a line (CR LF added).
    Say(String),
    /// Read one line (logged); its start must be this (case-insensitive), else the
    /// connection is dropped.
    Expect(&'static str),
    /// Wait this long without reading or sending.
    Sleep(Duration),
    /// Close the connection.
    Close,
}

pub fn say(s: &str) -> Step {
    Step::Say(s.to_string())
}

/// The usual dialogue up to RCPT TO, answering RCPT with `rcpt` lines, then QUIT.
pub fn accepting(rcpt: &[&str]) -> Vec<Step> {
    let mut v = vec![
        say("220 backend.test ESMTP"),
        Step::Expect("EHLO "),
        say("250-backend.test"),
        say("250-PIPELINING"),
        say("250 8BITMIME"),
        Step::Expect("MAIL FROM:"),
        say("250 2.1.0 Ok"),
        Step::Expect("RCPT TO:"),
    ];
    v.extend(rcpt.iter().map(|l| say(l)));
    v.push(Step::Expect("QUIT"));
    v.push(say("221 2.0.0 Bye"));
    v
}

/// A running responder.
pub struct Responder {
    pub port: u16,
    /// Every line received, per connection, in order.
    pub log: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Responder {
    /// Starts a responder that runs `script` for every connection.
    pub fn start(script: Vec<Step>) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let l2 = log.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let idx = {
                    let mut g = l2.lock().unwrap();
                    g.push(Vec::new());
                    g.len() - 1
                };
                let log = l2.clone();
                let script = script.clone();
                thread::spawn(move || run(conn, &script, &log, idx));
            }
        });
        Responder { port, log }
    }

    pub fn connections(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn lines(&self, conn: usize) -> Vec<String> {
        self.log.lock().unwrap()[conn].clone()
    }
}

fn run(mut conn: TcpStream, script: &[Step], log: &Mutex<Vec<Vec<String>>>, idx: usize) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for step in script {
        match step {
            Step::Raw(b) => {
                if conn.write_all(b).is_err() {
                    return;
                }
            }
            Step::Say(s) => {
                if conn.write_all(format!("{s}\r\n").as_bytes()).is_err() {
                    return;
                }
            }
            Step::Expect(prefix) => {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end_matches(['\r', '\n']).to_string();
                let ok = line
                    .to_ascii_uppercase()
                    .starts_with(&prefix.to_ascii_uppercase());
                log.lock().unwrap()[idx].push(line);
                if !ok {
                    return;
                }
            }
            Step::Sleep(d) => thread::sleep(*d),
            Step::Close => return,
        }
    }
    // Keep reading until the client goes, so its last lines are logged.
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        log.lock().unwrap()[idx].push(line.trim_end().to_string());
        line.clear();
    }
}

/// A port on 127.0.0.1 where nothing listens.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs the cfmap binary in `dir`; (stdout, stderr, exit status).
pub fn cfmap(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = Command::new(env!("CARGO_BIN_EXE_cfmap"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run cfmap");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}
