//! Reading lines with a bound on their length, and waiting for input with a
//! deadline: the pieces every line-oriented source shares.
//!
//! A line longer than the bound is consumed up to its newline but only its
//! first `max` bytes are kept, so one huge line cannot eat memory; the caller
//! reports it as malformed.

use super::split::Part;
use crate::error::Error;
use std::io::{self, BufRead, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

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
        Ok(Input::from_reader(spec, Box::new(file)))
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
/// (not counting the newline). Interrupted reads are retried.
pub fn read_line(reader: &mut impl BufRead, out: &mut Vec<u8>, max: usize) -> io::Result<LineRead> {
    let mut read_any = false;
    let mut kept = 0usize;
    let mut too_long = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        read_any = true;
        let (take, done) = match memchr_newline(buf) {
            Some(p) => (p + 1, true),
            None => (buf.len(), false),
        };
        let content = if done { take - 1 } else { take };
        if !too_long {
            if kept + content > max {
                let room = max - kept;
                out.extend_from_slice(&buf[..room]);
                kept = max;
                too_long = true;
            } else {
                out.extend_from_slice(&buf[..take]);
                kept += content;
            }
        }
        reader.consume(take);
        if done {
            break;
        }
    }
    Ok(if too_long {
        LineRead::TooLong
    } else if read_any {
        LineRead::Line
    } else {
        LineRead::Eof
    })
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
}
