//! Reading lines with a bound on their length, and waiting for input with a
//! deadline: the pieces every line-oriented source shares.
//!
//! A line longer than the bound is consumed up to its newline but only its
//! first `max` bytes are kept, so one huge line cannot eat memory; the caller
//! reports it as malformed.

use super::split::Part;
use crate::error::Error;
use crate::runtime::router::STOP_CHECK;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a line-oriented source reads from: a file, stdin or any reader.
pub struct Input {
    /// For messages: the path, `stdin`, or the name a caller gave.
    pub name: String,
    pub reader: Box<dyn Read + Send>,
    /// Polled for readiness when a deadline applies (stdin only: a file never waits).
    pub fd: Option<RawFd>,
    /// Set when this input is one byte range of a file read by several readers.
    pub part: Option<Part>,
}

impl Input {
    /// `-` is stdin; anything else is a file path.
    pub fn open(spec: &str) -> Result<Input, Error> {
        if spec == "-" {
            let stdin = io::stdin();
            let fd = stdin.as_raw_fd();
            return Ok(Input {
                name: "stdin".to_owned(),
                reader: Box::new(stdin),
                fd: Some(fd),
                part: None,
            });
        }
        let file = std::fs::File::open(spec).map_err(|source| Error::Io {
            what: format!("cannot open input {spec}"),
            source,
        })?;
        // The whole file as one part, so its source can say where it stands
        // (for checkpoints: see `Source::position`).
        let len = file.metadata().map_or(u64::MAX, |m| m.len());
        let mut input = Input::from_reader(spec, Box::new(file));
        input.part = Some(Part {
            path: spec.into(),
            start: 0,
            end: len,
            last: true,
        });
        Ok(input)
    }

    /// Any reader (tests, embedding); never waited on.
    pub fn from_reader(name: impl Into<String>, reader: Box<dyn Read + Send>) -> Input {
        Input {
            name: name.into(),
            reader,
            fd: None,
            part: None,
        }
    }
}

/// A request to stop, seen by a source while it is opened (a header or the
/// records that types are inferred from, read from a pipe that may be
/// slow): set by the CLI's first SIGINT/SIGTERM. Unset by default (never stops).
#[derive(Clone, Default)]
pub struct StopFlag(Option<Arc<AtomicBool>>);

impl StopFlag {
    /// A flag that is set when `flag` is.
    pub fn new(flag: Arc<AtomicBool>) -> StopFlag {
        StopFlag(Some(flag))
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        // ORDERING: Relaxed; the flag carries no data, it is only re-read.
        self.0.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

impl std::fmt::Debug for StopFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StopFlag({})",
            if self.0.is_some() { "set up" } else { "none" }
        )
    }
}

impl PartialEq for StopFlag {
    /// Two flags are equal when both are unset or both are the same flag.
    fn eq(&self, other: &StopFlag) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// The error of a source whose opening was stopped (see [`StopFlag`])
/// before it had what it waited for (`waiting_for`: "the header row").
pub fn stopped_opening(name: &str, waiting_for: &str) -> crate::error::Error {
    crate::error::Error::Stopped {
        input: name.to_owned(),
        waiting_for: waiting_for.to_owned(),
    }
}

/// How long sampling for type inference waits for more records after the
/// first one, from a pipe (a file is read without waiting).
pub const INFER_WAIT: Duration = Duration::from_millis(100);

/// The waits of a source sampling records to infer its columns: from a pipe
/// it waits for the first record (re-checking the stop flag every
/// [`STOP_CHECK`]), then takes what arrives within [`INFER_WAIT`] of it, so
/// a slow pipe's rows flow promptly; a file is never waited on.
pub struct Sampling {
    pollable: bool,
    stop: StopFlag,
    first: Option<Instant>,
}

impl Sampling {
    /// For a source whose reads can wait (`pollable`: stdin) or not.
    pub fn new(pollable: bool, stop: &StopFlag) -> Sampling {
        Sampling {
            pollable,
            stop: stop.clone(),
            first: None,
        }
    }

    /// The deadline of the next read (`None`: read without a bound).
    pub fn deadline(&self) -> Option<Instant> {
        self.pollable.then(|| {
            let check = Instant::now() + STOP_CHECK;
            self.first.map_or(check, |t| check.min(t + INFER_WAIT))
        })
    }

    /// A record was sampled.
    pub fn sampled(&mut self) {
        self.first.get_or_insert_with(Instant::now);
    }

    /// After a read found nothing before its deadline: whether sampling is
    /// over (a stop was asked for, or [`INFER_WAIT`] passed since the first record).
    pub fn done(&self) -> bool {
        self.stop.is_set() || self.first.is_some_and(|t| t.elapsed() >= INFER_WAIT)
    }

    /// Whether sampling ended because a stop was asked for.
    pub fn stopped(&self) -> bool {
        self.stop.is_set()
    }
}

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRead {
    /// A line (with its `\n`, unless it is the last line of the input and has none).
    Line,
    /// A line longer than the bound: its first bytes are kept, the rest was skipped.
    TooLong,
    /// The end of the input; nothing was read.
    Eof,
}

/// Appends one line of `reader` to `out`, keeping at most `max` bytes of it
/// (not counting the newline). Interrupted reads are retried. Blocks until
/// the line ends (see [`read_line_until`] for a bounded wait).
pub fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>, max: usize) -> io::Result<LineRead> {
    let mut progress = LineProgress::default();
    loop {
        if let Some(read) = read_line_step(reader, out, max, &mut progress)? {
            return Ok(read);
        }
    }
}

/// A [`BufRead`] that shows what it holds buffered without reading (so a
/// reader can tell whether the next read would wait).
pub trait Buffered: BufRead {
    /// The bytes buffered and not yet consumed.
    fn buffered(&self) -> &[u8];
}

impl<R: Read> Buffered for BufReader<R> {
    fn buffered(&self) -> &[u8] {
        self.buffer()
    }
}

/// How far a line read in pieces by [`read_line_until`] has got: kept
/// between calls, with the bytes kept so far, so that a line a slow pipe
/// has not finished yet is resumed where it stopped.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LineProgress {
    /// Bytes of the line kept in `out` so far (at most the bound).
    kept: usize,
    /// The line has passed the bound: the rest up to its newline is skipped.
    too_long: bool,
    /// Some byte of the line has been read.
    read_any: bool,
}

impl LineProgress {
    /// Whether a line is under way (some of its bytes were read).
    pub fn started(&self) -> bool {
        self.read_any
    }
}

/// [`read_line`] with a bound on the wait: with `wait = Some((fd, deadline))`
/// it reads from `reader`'s buffer and, when that is empty, only what `fd`
/// has ready by `deadline`; it returns `Ok(None)` when the line has not
/// ended by then, leaving what it kept in `out` and where it got to in
/// `progress`. Call again with the same `out` and `progress` to go on; a
/// finished line resets `progress`.
///
/// # Contract
/// Returns by `deadline` plus one read of ready bytes (at most the buffer's
/// capacity), also when `fd` never stops having bytes ready (an endless line,
/// `/dev/zero`): once the deadline has passed, at most one more refill is
/// read. With `wait = None` it blocks until the line ends, as [`read_line`].
pub fn read_line_until(
    reader: &mut impl Buffered,
    out: &mut Vec<u8>,
    max: usize,
    progress: &mut LineProgress,
    wait: Option<(RawFd, Instant)>,
) -> io::Result<Option<LineRead>> {
    let mut late_refill = false;
    loop {
        if let Some((fd, deadline)) = wait {
            if reader.buffered().is_empty() {
                if Instant::now() >= deadline {
                    if late_refill {
                        return Ok(None);
                    }
                    late_refill = true;
                }
                if !wait_readable(fd, deadline) {
                    return Ok(None);
                }
            }
        }
        if let Some(read) = read_line_step(reader, out, max, progress)? {
            return Ok(Some(read));
        }
    }
}

/// Takes one buffer's worth of the line: `Some` when the line (or the
/// input) ended, else `None` with `progress` updated. Resets `progress` when
/// it returns `Some`.
fn read_line_step(
    reader: &mut impl BufRead,
    out: &mut Vec<u8>,
    max: usize,
    progress: &mut LineProgress,
) -> io::Result<Option<LineRead>> {
    let buf = loop {
        match reader.fill_buf() {
            Ok(b) => break b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    let done = if buf.is_empty() {
        true
    } else {
        progress.read_any = true;
        let (take, done) = match memchr_newline(buf) {
            Some(p) => (p + 1, true),
            None => (buf.len(), false),
        };
        let content = if done { take - 1 } else { take };
        if !progress.too_long {
            if progress.kept + content > max {
                let room = max - progress.kept;
                out.extend_from_slice(&buf[..room]);
                progress.kept = max;
                progress.too_long = true;
            } else {
                out.extend_from_slice(&buf[..take]);
                progress.kept += content;
            }
        }
        reader.consume(take);
        done
    };
    if !done {
        return Ok(None);
    }
    let read = if progress.too_long {
        LineRead::TooLong
    } else if progress.read_any {
        LineRead::Line
    } else {
        LineRead::Eof
    };
    *progress = LineProgress::default();
    Ok(Some(read))
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// Waits until `fd` has a byte to read or `deadline` passes (or a signal
/// interrupts the wait). Returns false when nothing arrived in time. Another
/// poll error returns true, so the read that follows reports it.
pub fn wait_readable(fd: RawFd, deadline: Instant) -> bool {
    let timeout = deadline.saturating_duration_since(Instant::now());
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid pollfd for the duration of the call, and the
    // count passed is 1, matching the single struct.
    let ready = unsafe {
        libc::poll(
            &mut pfd,
            1,
            timeout.as_millis().min(i32::MAX as u128) as i32,
        )
    };
    match ready {
        0 => false,
        // Interrupted by a signal: report nothing yet, so the caller
        // returns to check whether it should stop, and polls again.
        r if r < 0 => std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_skipped() {
        let mut r = io::BufReader::with_capacity(4, io::Cursor::new("abcdefgh\nxy\nlast"));
        let mut out = Vec::new();
        assert_eq!(read_line(&mut r, &mut out, 5).unwrap(), LineRead::TooLong);
        assert_eq!(out, b"abcde");
        out.clear();
        assert_eq!(read_line(&mut r, &mut out, 5).unwrap(), LineRead::Line);
        assert_eq!(out, b"xy\n");
        out.clear();
        assert_eq!(read_line(&mut r, &mut out, 5).unwrap(), LineRead::Line);
        assert_eq!(out, b"last");
        out.clear();
        assert_eq!(read_line(&mut r, &mut out, 5).unwrap(), LineRead::Eof);
    }

    #[test]
    fn a_line_cut_by_the_deadline_is_resumed_where_it_stopped() {
        // A pipe that holds half a line: the read gives up at the deadline,
        // keeping the half, and finishes the line once the rest arrives.
        let (r, w) = pipe();
        let mut reader = BufReader::with_capacity(8, std::fs::File::from(r));
        let mut writer = std::fs::File::from(w);
        use std::io::Write;
        writer.write_all(b"1,2\n3,").unwrap();
        let fd = reader.get_ref().as_raw_fd();
        let (mut out, mut progress) = (Vec::new(), LineProgress::default());
        let now = Some((fd, Instant::now()));
        let first = read_line_until(&mut reader, &mut out, 100, &mut progress, now).unwrap();
        assert_eq!(first, Some(LineRead::Line));
        assert_eq!(out, b"1,2\n");
        out.clear();
        let soon = Some((fd, Instant::now() + std::time::Duration::from_millis(10)));
        assert_eq!(
            read_line_until(&mut reader, &mut out, 100, &mut progress, soon).unwrap(),
            None
        );
        assert!(progress.started());
        writer.write_all(b"4\n").unwrap();
        let now = Some((fd, Instant::now()));
        let rest = read_line_until(&mut reader, &mut out, 100, &mut progress, now).unwrap();
        assert_eq!(rest, Some(LineRead::Line));
        assert_eq!(out, b"3,4\n");
        assert!(!progress.started());
    }

    #[test]
    fn an_endless_line_gives_up_at_the_deadline_and_stays_too_long() {
        let zero = std::fs::File::open("/dev/zero").unwrap();
        let fd = zero.as_raw_fd();
        let mut reader = BufReader::with_capacity(1024, zero);
        let (mut out, mut progress) = (Vec::new(), LineProgress::default());
        for _ in 0..3 {
            let wait = Some((fd, Instant::now() + std::time::Duration::from_millis(5)));
            assert_eq!(
                read_line_until(&mut reader, &mut out, 10, &mut progress, wait).unwrap(),
                None
            );
        }
        assert_eq!(out, vec![0; 10], "only the bound is kept");
    }

    fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: pipe(2) succeeded, so both are open descriptors owned by nobody else.
        unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        }
    }
}
