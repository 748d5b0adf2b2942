//! The socket map server: sendmail's `socket` map class (which Postfix's `socketmap`
//! speaks too) answered from cfmap's map files and from recipient verification.
//!
//! # Protocol
//!
//! A client sends requests as netstrings ([`netstring`]) `NAME KEY` (map name, one blank,
//! the key as the client made it: sendmail lower-cases it unless the K line has `-f`) and
//! gets one netstring back for each, on the same connection, in order:
//!
//! | reply | when | what sendmail does with it |
//! |---|---|---|
//! | `OK VALUE` | a static map has KEY; a verified recipient (`OK OK`) | VALUE replaces the lookup |
//! | `NOTFOUND ` | a static map lacks KEY; an invalid recipient | the `$:` default |
//! | `TEMP REASON` | a map file cannot be read; verification failed temporarily (`TEMP 451 4.4.1 …`) | the `-T` text, status 75 |
//! | `PERM REASON` | no map NAME; a request that is not `NAME KEY`; a key that is not an address (verification) | the `$:` default |
//!
//! A malformed or oversized netstring gets one `PERM` reply and the connection is closed
//! (a stream that lost its framing cannot be trusted again); the other clients are not
//! affected.
//!
//! # Behaviour
//!
//! - One thread per client, up to `max_clients` at once (more are closed at once).
//! - A client idle for `idle_timeout` between requests is closed; a request must be
//!   complete within `request_timeout` of its first byte (slow or vanished clients).
//! - Map files are reopened when they change on disk (device, inode, size or mtime) and
//!   after every reload request ([`Control::reload`], SIGHUP in the CLI): each client
//!   thread checks before its next lookup.
//! - [`Control::shutdown`] (SIGTERM/SIGINT in the CLI) stops accepting; client threads
//!   finish the request in hand and close; a unix socket file is removed.
//! - Listens on loopback or a unix socket only, unless `allow_remote`.

pub mod netstring;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::maps::{self, Map, MapType};
use crate::verify::{self, Action, Settings, Verifier};
use netstring::NetstringError;

/// Where the server listens, in sendmail's socket-map syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    /// `unix:PATH` (or `local:PATH`).
    Unix(PathBuf),
    /// `inet:PORT@ADDR` (`inet:PORT` is 127.0.0.1), `inet6:PORT@ADDR` (`inet6:PORT`: ::1).
    Inet(SocketAddr),
}

impl Listen {
    pub fn parse(s: &str) -> Result<Listen, String> {
        let bad = |why: &str| format!("bad listen address {s:?}: {why}");
        if let Some(p) = s.strip_prefix("unix:").or_else(|| s.strip_prefix("local:")) {
            if p.is_empty() {
                return Err(bad("empty path"));
            }
            return Ok(Listen::Unix(PathBuf::from(p)));
        }
        let (v6, rest) = if let Some(r) = s.strip_prefix("inet6:") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("inet:") {
            (false, r)
        } else {
            return Err(bad("expected unix:PATH, inet:PORT@ADDR or inet6:PORT@ADDR"));
        };
        let (port, addr) = match rest.split_once('@') {
            Some((p, a)) => (p, Some(a)),
            None => (rest, None),
        };
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        let ip: IpAddr = match addr {
            Some(a) => a
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| bad("the address must be numeric"))?,
            None if v6 => IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            None => IpAddr::from([127u8, 0, 0, 1]),
        };
        Ok(Listen::Inet(SocketAddr::new(ip, port)))
    }
}

/// A map the server answers for.
#[derive(Debug, Clone)]
pub enum MapSpec {
    /// A map file, looked up with the key as sent.
    File { ty: MapType, path: PathBuf },
    /// Recipient verification.
    Verify(Box<Settings>),
}

/// What the server does.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Listen,
    pub maps: Vec<(String, MapSpec)>,
    /// Largest request payload accepted, in bytes.
    pub max_request: usize,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_clients: usize,
    /// Allow a non-loopback inet address.
    pub allow_remote: bool,
}

/// Requests from outside (signal handlers): stop, reload.
#[derive(Debug, Default)]
pub struct Control {
    pub shutdown: AtomicBool,
    /// Bumped for every reload request.
    pub reload: AtomicU64,
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("{what}: {}", verify::io_reason(.source))]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(d),
            Stream::Unix(s) => s.set_read_timeout(d),
        }
    }
    fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(d),
            Stream::Unix(s) => s.set_write_timeout(d),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How often blocked reads wake to look at the shutdown flag and the deadlines.
const TICK: Duration = Duration::from_millis(200);

/// A running server's listening socket; [`Server::run`] serves until shutdown.
pub struct Server {
    config: Arc<Config>,
    listener: Listener,
}

impl Server {
    /// Checks the configuration, opens every map once (so a wrong path fails now, not
    /// at the first lookup) and binds the socket.
    pub fn bind(config: Config) -> Result<Server, ServeError> {
        let mut names = std::collections::HashSet::new();
        for (name, spec) in &config.maps {
            if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(ServeError::Config(format!("bad map name {name:?}")));
            }
            if !names.insert(name) {
                return Err(ServeError::Config(format!("map {name} given twice")));
            }
            match spec {
                MapSpec::File { ty, path } => {
                    maps::open(*ty, path).map_err(|e| ServeError::Config(e.to_string()))?;
                }
                MapSpec::Verify(s) => {
                    Verifier::new((**s).clone()).map_err(|e| ServeError::Config(e.to_string()))?;
                }
            }
        }
        let listener = match &config.listen {
            Listen::Inet(addr) => {
                if !addr.ip().is_loopback() && !config.allow_remote {
                    return Err(ServeError::Config(format!(
                        "{addr} is not a loopback address (give --allow-remote to listen there)"
                    )));
                }
                Listener::Tcp(TcpListener::bind(addr).map_err(|source| ServeError::Io {
                    what: format!("listen on {addr}"),
                    source,
                })?)
            }
            Listen::Unix(path) => {
                remove_stale_socket(path)?;
                let l = UnixListener::bind(path).map_err(|source| ServeError::Io {
                    what: format!("listen on {}", path.display()),
                    source,
                })?;
                Listener::Unix(l, path.clone())
            }
        };
        Ok(Server {
            config: Arc::new(config),
            listener,
        })
    }

    /// The bound address (an `inet:PORT@ADDR` with port 0 gets its real port here).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// Serves until `control.shutdown` is set; then waits (a few seconds at most) for
    /// the clients' threads to finish the requests in hand.
    pub fn run(self, control: &'static Control) -> Result<(), ServeError> {
        let active = Arc::new(AtomicUsize::new(0));
        let fd = match &self.listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l, _) => l.as_raw_fd(),
        };
        while !control.shutdown.load(Ordering::SeqCst) {
            if !readable(fd, TICK) {
                continue;
            }
            let stream = match &self.listener {
                Listener::Tcp(l) => l.accept().map(|(s, _)| Stream::Tcp(s)),
                Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
            };
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cfmap serve: accept: {}", verify::io_reason(&e));
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if active.load(Ordering::SeqCst) >= self.config.max_clients {
                eprintln!(
                    "cfmap serve: {} clients already, closing a new one",
                    self.config.max_clients
                );
                drop(stream);
                continue;
            }
            active.fetch_add(1, Ordering::SeqCst);
            let config = self.config.clone();
            let done = active.clone();
            let spawned = std::thread::Builder::new()
                .name("cfmap-serve-client".into())
                .spawn(move || {
                    serve_client(stream, &config, control);
                    done.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(e) = spawned {
                active.fetch_sub(1, Ordering::SeqCst);
                eprintln!("cfmap serve: cannot start a client thread: {e}");
            }
        }
        let until = Instant::now() + Duration::from_secs(5);
        while active.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Listener::Unix(_, path) = &self.listener {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }
}

/// Whether `fd` becomes readable within `timeout` (poll(2)).
fn readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1; poll only writes `revents`.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}

/// A unix socket file left by a server that died is removed; a live one is an error,
/// and so is a path that is not a socket.
fn remove_stale_socket(path: &Path) -> Result<(), ServeError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(ServeError::Config(format!(
                    "{}: another server is listening there",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(|source| ServeError::Io {
                what: format!("remove stale socket {}", path.display()),
                source,
            })
        }
        Ok(_) => Err(ServeError::Config(format!(
            "{}: exists and is not a socket",
            path.display()
        ))),
        Err(_) => Ok(()),
    }
}

/// Reads from a client, waking every [`TICK`] to check shutdown and the deadlines.
struct Client<'a> {
    stream: Stream,
    control: &'a Control,
    /// When the current wait ends: idle deadline before a request, request deadline
    /// inside one.
    deadline: Instant,
}

impl Read for Client<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.control.shutdown.load(Ordering::SeqCst) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "shutting down"));
            }
            if Instant::now() >= self.deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
            }
            match self.stream.read(buf) {
                Ok(n) => return Ok(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A map file as one client thread has it open.
struct OpenFile {
    map: Box<dyn Map>,
    stamp: Option<FileStamp>,
}

/// What tells a changed file: device, inode, size, mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp(u64, u64, u64, i64, i64);

fn stamp_of(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path)
        .ok()
        .map(|m| FileStamp(m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}

/// The file whose change means the map changed: the last of its files (`.pag` for dbm).
fn watched(ty: MapType, path: &Path) -> PathBuf {
    ty.files(path).pop().expect("every type has a file")
}

/// One client thread's view of the maps: opened lazily, reopened when changed.
struct Lookups<'a> {
    config: &'a Config,
    control: &'a Control,
    generation: u64,
    files: HashMap<String, OpenFile>,
    verifiers: HashMap<String, (Verifier, Option<FileStamp>)>,
}

impl<'a> Lookups<'a> {
    fn new(config: &'a Config, control: &'a Control) -> Lookups<'a> {
        Lookups {
            config,
            control,
            generation: control.reload.load(Ordering::SeqCst),
            files: HashMap::new(),
            verifiers: HashMap::new(),
        }
    }

    /// Answers one request payload (`NAME KEY`) with a reply payload.
    fn answer(&mut self, request: &[u8]) -> Vec<u8> {
        let generation = self.control.reload.load(Ordering::SeqCst);
        if generation != self.generation {
            self.files.clear();
            self.verifiers.clear();
            self.generation = generation;
        }
        let Some(sp) = request.iter().position(|&b| b == b' ') else {
            return b"PERM request is not NAME KEY".to_vec();
        };
        let (name, key) = (&request[..sp], &request[sp + 1..]);
        let name = String::from_utf8_lossy(name).into_owned();
        let Some((_, spec)) = self.config.maps.iter().find(|(n, _)| *n == name) else {
            return format!(
                "PERM no map named {}",
                verify::address::printable(name.as_bytes())
            )
            .into_bytes();
        };
        match spec {
            MapSpec::File { ty, path } => self.file_lookup(&name, *ty, path, key),
            MapSpec::Verify(settings) => self.verify(&name, settings, key),
        }
    }

    fn file_lookup(&mut self, name: &str, ty: MapType, path: &Path, key: &[u8]) -> Vec<u8> {
        let now = stamp_of(&watched(ty, path));
        let fresh = self.files.get(name).is_some_and(|f| f.stamp == now);
        if !fresh {
            match maps::open(ty, path) {
                Ok(map) => {
                    self.files
                        .insert(name.to_string(), OpenFile { map, stamp: now });
                }
                Err(e) => {
                    self.files.remove(name);
                    return format!(
                        "TEMP {}",
                        verify::address::printable(e.to_string().as_bytes())
                    )
                    .into_bytes();
                }
            }
        }
        let file = &self.files[name];
        match file.map.get(key) {
            Ok(Some(v)) => {
                // sendmail reads the value as a C string.
                let v = v.split(|&b| b == 0).next().unwrap_or_default();
                [b"OK ".as_slice(), v].concat()
            }
            Ok(None) => b"NOTFOUND ".to_vec(),
            Err(e) => format!(
                "TEMP {}",
                verify::address::printable(e.to_string().as_bytes())
            )
            .into_bytes(),
        }
    }

    fn verify(&mut self, name: &str, settings: &Settings, key: &[u8]) -> Vec<u8> {
        let mt = match &settings.route {
            verify::route::RouteSpec::Mailertable { ty, path, .. } => {
                Some(stamp_of(&watched(*ty, path)))
            }
            verify::route::RouteSpec::Server { .. } => None,
        };
        let fresh = self
            .verifiers
            .get(name)
            .is_some_and(|(_, s)| mt.is_none_or(|m| *s == m));
        if !fresh {
            match Verifier::new(settings.clone()) {
                Ok(v) => {
                    self.verifiers.insert(name.to_string(), (v, mt.flatten()));
                }
                Err(e) => {
                    return format!("TEMP {}", verify::address::printable(e.0.as_bytes()))
                        .into_bytes();
                }
            }
        }
        let (verifier, _) = &self.verifiers[name];
        if let Err(e) = verify::address::Recipient::parse(key) {
            return format!("PERM 501 5.1.3 bad address: {e}").into_bytes();
        }
        let v = verifier.verify(key, verify::now());
        for w in &v.warnings {
            eprintln!("cfmap serve: {name}: {w}");
        }
        match v.action {
            Action::Continue => b"OK OK".to_vec(),
            Action::Reject => b"NOTFOUND ".to_vec(),
            Action::Tempfail => format!("TEMP {} {} {}", v.code, v.dsn, v.text).into_bytes(),
        }
    }
}

fn serve_client(stream: Stream, config: &Config, control: &Control) {
    if stream.set_read_timeout(Some(TICK)).is_err()
        || stream
            .set_write_timeout(Some(config.request_timeout))
            .is_err()
    {
        return;
    }
    let mut client = Client {
        stream,
        control,
        deadline: Instant::now() + config.idle_timeout,
    };
    let mut lookups = Lookups::new(config, control);
    loop {
        client.deadline = Instant::now() + config.idle_timeout;
        let request = match read_request(&mut client, config) {
            Ok(r) => r,
            Err(NetstringError::Closed) => return,
            Err(NetstringError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                return;
            }
            Err(e @ (NetstringError::Malformed(_) | NetstringError::TooLong { .. })) => {
                eprintln!("cfmap serve: closing a client: {e}");
                let reply = format!("PERM {e}");
                let _ = client
                    .stream
                    .write_all(&netstring::encode(reply.as_bytes()));
                return;
            }
            Err(e) => {
                eprintln!("cfmap serve: closing a client: {e}");
                return;
            }
        };
        let reply = lookups.answer(&request);
        if client.stream.write_all(&netstring::encode(&reply)).is_err() {
            return;
        }
    }
}

/// Reads one request: waits until the idle deadline for its first byte, then gives the
/// rest until the request deadline.
fn read_request(client: &mut Client<'_>, config: &Config) -> Result<Vec<u8>, NetstringError> {
    let mut first = [0u8; 1];
    let n = client.read(&mut first)?;
    if n == 0 {
        return Err(NetstringError::Closed);
    }
    client.deadline = Instant::now() + config.request_timeout;
    let mut chained = (&first[..]).chain(client);
    netstring::read(&mut chained, config.max_request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            Listen::parse("inet:7777@127.0.0.1").unwrap(),
            Listen::Inet("127.0.0.1:7777".parse().unwrap())
        );
        assert_eq!(
            Listen::parse("inet:7777").unwrap(),
            Listen::Inet("127.0.0.1:7777".parse().unwrap())
        );
        assert_eq!(
            Listen::parse("inet6:7777").unwrap(),
            Listen::Inet("[::1]:7777".parse().unwrap())
        );
        assert_eq!(
            Listen::parse("unix:/run/cfmap.sock").unwrap(),
            Listen::Unix("/run/cfmap.sock".into())
        );
        assert!(Listen::parse("inet:x@127.0.0.1").is_err());
        assert!(Listen::parse("inet:25@localhost").is_err());
        assert!(Listen::parse("tcp:25").is_err());
        assert!(Listen::parse("unix:").is_err());
    }
}
