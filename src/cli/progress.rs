//! A progress line for long builds, drawn on standard error with `\r`.
//!
//! It is drawn only when standard error is a terminal (never when piped or redirected, so
//! scripts and golden tests see exactly makemap's output), not before the build has run
//! for [`START_DELAY`] (small maps never show it), and at most every [`INTERVAL`] (about
//! 10 Hz), so calling [`Progress::tick`] for every record costs one clock read.
//!
//! ```no_run
//! use cfmap::cli::progress::Progress;
//! let total = std::fs::metadata("aliases").ok().map(|m| m.len()); // None for a pipe
//! let mut p = Progress::new(total);
//! # let records: Vec<(u64, Vec<u8>)> = Vec::new();
//! let (mut bytes, mut pairs) = (0, 0);
//! for (line_len, _pair) in records {
//!     bytes += line_len;
//!     pairs += 1;
//!     p.tick(bytes, pairs);
//! }
//! p.finish(); // erases the line; also done on drop
//! ```
//!
//! With a known total the line reads
//! `[=========>          ]  45%  123456 pairs  12.0/26.6 MiB  8.1 MiB/s  ETA 0:02`;
//! without one (standard input is a pipe) `123456 pairs  12.0 MiB  8.1 MiB/s`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Nothing is drawn before the build has run this long.
pub const START_DELAY: Duration = Duration::from_millis(500);
/// The least time between two redraws.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// Width of the bar between the brackets.
const BAR: usize = 24;

/// A progress line on standard error; see the module documentation.
pub struct Progress {
    out: Option<Box<dyn Write + Send>>,
    total: Option<u64>,
    start: Instant,
    next_draw: Instant,
    /// Width of the last line drawn, 0 when nothing is on the screen.
    drawn: usize,
    bytes: u64,
    pairs: u64,
}

impl Progress {
    /// A progress line for a build reading `total_bytes` of input (`None` when the size
    /// is not known, as for a pipe). It draws only when standard error is a terminal and
    /// `TERM` is not `dumb`; otherwise every call is a no-op.
    pub fn new(total_bytes: Option<u64>) -> Progress {
        let stderr = std::io::stderr();
        let tty = stderr.is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let out: Option<Box<dyn Write + Send>> = if tty { Some(Box::new(stderr)) } else { None };
        Progress::with_output(total_bytes, out)
    }

    /// A progress line drawn on `out` whatever it is (`None`: draw nothing). For tests
    /// and for callers that decide themselves.
    pub fn with_output(total_bytes: Option<u64>, out: Option<Box<dyn Write + Send>>) -> Progress {
        let start = Instant::now();
        Progress {
            out,
            total: total_bytes,
            start,
            next_draw: start + START_DELAY,
            drawn: 0,
            bytes: 0,
            pairs: 0,
        }
    }

    /// Whether anything will ever be drawn.
    pub fn is_enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Report the input bytes read and the records inserted so far (running totals, not
    /// increments). Redraws the line when it is due.
    pub fn tick(&mut self, bytes_read: u64, pairs: u64) {
        self.bytes = bytes_read;
        self.pairs = pairs;
        if self.out.is_none() {
            return;
        }
        self.tick_at(Instant::now());
    }

    fn tick_at(&mut self, now: Instant) {
        if now < self.next_draw {
            return;
        }
        self.next_draw = now + INTERVAL;
        let line = render(
            self.bytes,
            self.pairs,
            self.total,
            now.saturating_duration_since(self.start),
        );
        self.draw(&line);
    }

    fn draw(&mut self, line: &str) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let width = line.chars().count();
        let pad = self.drawn.saturating_sub(width);
        // A failed write to standard error is not worth failing the build for.
        let _ = write!(out, "\r{line}{:pad$}", "").and_then(|_| out.flush());
        self.drawn = width;
    }

    /// Erase the line (if one was drawn) so that whatever comes next starts on a clean
    /// line. Further ticks draw nothing. Called by `drop` too.
    pub fn finish(&mut self) {
        if let Some(mut out) = self.out.take()
            && self.drawn > 0
        {
            let _ = write!(out, "\r{:w$}\r", "", w = self.drawn).and_then(|_| out.flush());
        }
        self.drawn = 0;
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn clock(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// The progress line for `bytes` read and `pairs` inserted after `elapsed`, out of
/// `total` bytes when known.
pub fn render(bytes: u64, pairs: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
    let rate_s = format!("{:.1} MiB/s", rate / (1024.0 * 1024.0));
    match total {
        Some(total) if total > 0 => {
            let done = bytes.min(total);
            let frac = done as f64 / total as f64;
            let filled = ((frac * BAR as f64) as usize).min(BAR);
            let mut bar = "=".repeat(filled);
            if filled < BAR {
                bar.push('>');
                bar.push_str(&" ".repeat(BAR - filled - 1));
            }
            let eta = if rate > 0.0 {
                clock(((total - done) as f64 / rate).ceil() as u64)
            } else {
                "?".to_string()
            };
            format!(
                "[{bar}] {:>3}%  {pairs} pairs  {:.1}/{:.1} MiB  {rate_s}  ETA {eta}",
                (frac * 100.0) as u32,
                mib(done),
                mib(total),
            )
        }
        _ => format!("{pairs} pairs  {:.1} MiB  {rate_s}", mib(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn line_with_total_has_bar_rate_and_eta() {
        let mib = 1024 * 1024;
        let s = render(5 * mib, 1000, Some(10 * mib), Duration::from_secs(5));
        assert_eq!(
            s,
            "[============>           ]  50%  1000 pairs  5.0/10.0 MiB  1.0 MiB/s  ETA 0:05"
        );
        let s = render(10 * mib, 7, Some(10 * mib), Duration::from_secs(1));
        assert!(s.starts_with("[========================] 100%"), "{s}");
        assert!(s.ends_with("ETA 0:00"), "{s}");
        let s = render(0, 0, Some(mib), Duration::ZERO);
        assert!(s.ends_with("0.0 MiB/s  ETA ?"), "{s}");
        assert_eq!(clock(3725), "1:02:05");
    }

    #[test]
    fn line_without_total() {
        let s = render(3 * 1024 * 1024, 42, None, Duration::from_secs(3));
        assert_eq!(s, "42 pairs  3.0 MiB  1.0 MiB/s");
    }

    #[test]
    fn disabled_draws_nothing() {
        let mut p = Progress::with_output(Some(10), None);
        assert!(!p.is_enabled());
        p.tick(5, 1);
        p.finish();
    }

    #[test]
    fn throttled_and_erased() {
        let sink = Sink::default();
        let mut p = Progress::with_output(Some(100), Some(Box::new(sink.clone())));
        let t0 = p.start;
        p.bytes = 10;
        p.tick_at(t0 + Duration::from_millis(100));
        assert_eq!(sink.text(), "", "nothing before the start delay");
        p.tick_at(t0 + START_DELAY);
        let first = sink.text();
        assert!(
            first.starts_with("\r[") && first.contains(" 10%"),
            "{first:?}"
        );
        p.bytes = 20;
        p.tick_at(t0 + START_DELAY + Duration::from_millis(50));
        assert_eq!(sink.text(), first, "throttled to one draw per interval");
        p.tick_at(t0 + START_DELAY + INTERVAL);
        assert!(sink.text().len() > first.len());
        assert!(sink.text().ends_with("ETA 0:03") || sink.text().contains(" 20%"));
        let before = sink.text().len();
        p.finish();
        let t = sink.text();
        let tail = &t[before..];
        assert!(tail.starts_with('\r') && tail.ends_with('\r'), "{tail:?}");
        assert!(tail[1..tail.len() - 1].chars().all(|c| c == ' '));
        p.tick(99, 9);
        assert_eq!(sink.text(), t, "nothing after finish");
    }
}
