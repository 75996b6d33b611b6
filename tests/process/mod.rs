//! Helpers for the tests that run the `corestream` binary: running it and
//! reading what it left (exit code, stdout rows, the summary's accounting),
//! temp paths that clean up after themselves, and a watchdog against a hung
//! child process.
//!
//! Each test crate uses a subset of these helpers.
#![allow(dead_code)] // each test crate compiles this module and uses only part of it

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_corestream");

/// What a finished run left behind.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The exit code, stderr and the first stdout lines, for assertion messages.
    pub fn context(&self) -> String {
        format!(
            "exit {:?}\n--- stderr ---\n{}\n--- stdout (first 5 lines) ---\n{}",
            self.code,
            self.stderr,
            self.stdout.lines().take(5).collect::<Vec<_>>().join("\n")
        )
    }

    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "{}", self.context());
    }

    /// The stdout lines after the header, which must be `header`.
    pub fn rows(&self, header: &str) -> Vec<String> {
        let mut lines = self.stdout.lines();
        assert_eq!(lines.next(), Some(header), "{}", self.context());
        lines.map(str::to_owned).collect()
    }

    /// The total rows_out from the summary's `total` line.
    pub fn total_rows_out(&self) -> u64 {
        let line = self
            .stderr
            .lines()
            .find(|l| l.trim_start().starts_with("total "))
            .unwrap_or_else(|| panic!("no total line\n{}", self.context()));
        let words: Vec<&str> = line.split_whitespace().collect();
        // total records_in processed filtered late malformed rows_out ...
        words[6].parse().expect("rows_out is a number")
    }
}

/// Starts the binary with `args`, `stdin` as its standard input, stdout and
/// stderr piped, under a watchdog.
pub fn spawn(args: &[&str], stdin: Stdio) -> (Child, Watchdog) {
    let child = Command::new(BIN)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let watchdog = Watchdog::new(&child);
    (child, watchdog)
}

/// Runs the binary with `args` and `stdin` as its standard input, to completion.
pub fn corestream_with_stdin(args: &[&str], stdin: &str) -> Ran {
    let (mut child, watchdog) = spawn(args, Stdio::piped());
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_owned();
    // Written from a thread so that a child that fills its stdout first
    // cannot deadlock the test.
    let writer = thread::spawn(move || {
        // The child may exit without reading everything (a bad flag): not an error here.
        let _ = pipe.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("the binary runs");
    writer.join().expect("the stdin writer does not panic");
    let hung = watchdog.disarm();
    let ran = Ran::from(out);
    assert!(!hung, "the run hung and was killed: {}", ran.context());
    ran
}

/// Runs the binary with `args` and an empty standard input.
pub fn corestream(args: &[&str]) -> Ran {
    corestream_with_stdin(args, "")
}

/// The end-of-run accounting line:
/// `in N = processed P + filtered F + late L + malformed M (holds); elapsed ...`.
#[derive(Debug, PartialEq, Eq)]
pub struct Accounting {
    pub input: u64,
    pub processed: u64,
    pub filtered: u64,
    pub late: u64,
    pub malformed: u64,
    pub holds: bool,
}

impl Accounting {
    /// (in, processed, filtered, late, malformed, holds).
    pub fn counts(&self) -> (u64, u64, u64, u64, u64, bool) {
        (
            self.input,
            self.processed,
            self.filtered,
            self.late,
            self.malformed,
            self.holds,
        )
    }
}

pub fn accounting(ran: &Ran) -> Accounting {
    let line = ran
        .stderr
        .lines()
        .find(|l| l.starts_with("in ") && l.contains(" = processed "))
        .unwrap_or_else(|| panic!("no accounting line on stderr\n{}", ran.context()));
    let words: Vec<&str> = line.split_whitespace().collect();
    let num = |i: usize| -> u64 {
        words[i]
            .parse()
            .unwrap_or_else(|_| panic!("word {i} of {line:?} is not a number"))
    };
    // in N = processed P + filtered F + late L + malformed M (holds);
    // 0  1 2 3         4 5 6        7 8 9    10 11       12 13
    assert_eq!(
        [words[0], words[2], words[3], words[6], words[9], words[12]],
        ["in", "=", "processed", "filtered", "late", "malformed"],
        "{line}"
    );
    Accounting {
        input: num(1),
        processed: num(4),
        filtered: num(7),
        late: num(10),
        malformed: num(13),
        holds: words[14].starts_with("(holds)"),
    }
}

/// A path under the temp directory, unique to this test binary, process and
/// `tag`, removed (file or directory) when dropped.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> TempPath {
        let path = std::env::temp_dir().join(format!(
            "corestream-{}-{}-{tag}",
            env!("CARGO_CRATE_NAME"),
            std::process::id()
        ));
        remove(&path);
        TempPath(path)
    }

    pub fn str(&self) -> &str {
        self.0.to_str().expect("the temp path is UTF-8")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        remove(&self.0);
    }
}

/// Removes a file or a directory tree, if it is there.
pub fn remove(path: &Path) {
    if path.is_dir() {
        let _ = std::fs::remove_dir_all(path);
    } else {
        let _ = std::fs::remove_file(path);
    }
}

/// A file under the temp directory holding `contents`.
pub fn temp_file(tag: &str, contents: impl AsRef<[u8]>) -> TempPath {
    let p = TempPath::new(tag);
    std::fs::write(&p.0, contents).expect("the temp file is writable");
    p
}

/// Kills a child that is still running after 60 s: a guard against a hang,
/// not a timing assumption. Dropping it disarms it.
pub struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<bool>>,
}

impl Watchdog {
    pub fn new(child: &Child) -> Watchdog {
        let pid = child.id() as libc::pid_t;
        let (tx, rx) = mpsc::channel::<()>();
        let thread = thread::spawn(move || match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => false,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // SAFETY: kill(2) takes plain integers and touches no memory of
                // ours. The child is not reaped while the watchdog is armed
                // (the test disarms it right after waiting), so `pid` still
                // names it.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                true
            }
        });
        Watchdog {
            disarm: Some(tx),
            thread: Some(thread),
        }
    }

    /// Disarms the watchdog; returns whether it had killed the child.
    pub fn disarm(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        if let Some(tx) = self.disarm.take() {
            let _ = tx.send(());
        }
        self.thread
            .take()
            .is_some_and(|t| t.join().expect("the watchdog does not panic"))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A run started with `--metrics-addr 127.0.0.1:0`: the URL it printed on
/// stderr (its first line), read from `child`'s piped stderr, which is
/// handed back to keep reading.
pub fn metrics_url(child: &mut Child) -> (String, std::io::BufReader<std::process::ChildStderr>) {
    use std::io::BufRead;
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("stderr is readable");
    let url = line
        .trim()
        .strip_prefix("metrics: ")
        .unwrap_or_else(|| panic!("no metrics URL on stderr: {line:?}"));
    (url.to_owned(), stderr)
}

/// Waits for `child` to end (after a signal, or by itself) under its
/// `watchdog`; its exit code, and what is left of its `stderr`.
pub fn wait_with_stderr(
    mut child: Child,
    watchdog: Watchdog,
    mut stderr: impl std::io::Read,
) -> (Option<i32>, String) {
    let status = child.wait().expect("the run ends");
    assert!(!watchdog.disarm(), "the run hung and was killed");
    let mut rest = String::new();
    stderr
        .read_to_string(&mut rest)
        .expect("stderr is readable");
    (status.code(), rest)
}

/// Sends `signal` to `child`, which has not been waited for.
pub fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the
    // child has not been waited for, so its pid still names it.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({}, {signal}) failed", child.id());
}

/// `GET url` (`http://HOST:PORT/PATH`): the response body.
pub fn scrape(url: &str) -> String {
    use std::io::Read;
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host).expect("the metrics endpoint answers");
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("the request is sent");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("the response is read");
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    body.to_owned()
}

/// The sum of every series of metric `name` (its exact name as exposed,
/// e.g. `corestream_records_in_total`) in a scrape, and how many there are.
pub fn metric_sum(text: &str, name: &str) -> (f64, usize) {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (values.iter().sum(), values.len())
}
