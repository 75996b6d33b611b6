//! Hostile environments (issue 28, hardening): signals that must stop a run
//! whatever its stdin is doing, and a process allowed fewer CPUs than the
//! machine has.
//!
//! Like `tests/ops.rs`, no test sleeps or waits for a time to pass: a test
//! waits for an observable event (a line of output), and a watchdog kills
//! the child after 60 s so that a hang fails the test instead of stalling
//! the suite.

mod process;

use process::{signal, spawn, Ran, TempPath, Watchdog, BIN};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// A run of the binary reading a pipe the test writes to.
struct Piped {
    child: Child,
    watchdog: Watchdog,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Every stdout line read so far.
    lines: Vec<String>,
}

impl Piped {
    fn start(args: &[&str]) -> Piped {
        let (mut child, watchdog) = spawn(args, Stdio::piped());
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        Piped {
            child,
            watchdog,
            stdin,
            stdout,
            lines: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).expect("the child reads stdin");
        stdin.flush().expect("flush");
    }

    /// Reads stdout until a line equal to `line` arrives (the observable
    /// event a test waits for); the watchdog bounds the wait.
    fn wait_for_line(&mut self, line: &str) {
        while !self.lines.iter().any(|l| l == line) {
            let mut next = String::new();
            let n = self.stdout.read_line(&mut next).expect("stdout reads");
            assert!(
                n > 0,
                "stdout ended before {line:?} (the child died, or the watchdog killed it \
                 after 60 s); lines so far: {:?}",
                self.lines
            );
            self.lines.push(next.trim_end_matches('\n').to_owned());
        }
    }

    /// Signals the child, waits for it to end (stdin still open unless
    /// closed before), and returns what it left: stdout whole.
    fn stop_with(mut self, sig: libc::c_int) -> Ran {
        signal(&self.child, sig);
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).expect("stdout reads");
        let out = self.child.wait_with_output().expect("the binary runs");
        assert!(
            !self.watchdog.disarm(),
            "the run did not stop within 60 s of the signal and was killed"
        );
        drop(self.stdin);
        let mut ran = Ran::from(out);
        let mut stdout: String = self.lines.iter().map(|l| format!("{l}\n")).collect();
        stdout.push_str(&rest);
        ran.stdout = stdout;
        ran
    }
}

/// Checks a run stopped by a signal: the exit code, the summary (its
/// accounting holding, `records` read and processed), and no panic.
fn assert_stopped(ran: &Ran, code: i32, name: &str, records: u64) {
    assert_eq!(ran.code, Some(code), "{}", ran.context());
    let accounting = format!("in {records} = processed {records} + filtered 0 + late 0");
    assert!(
        ran.stderr.contains(&accounting),
        "{accounting}\n{}",
        ran.context()
    );
    assert!(ran.stderr.contains("(holds)"), "{}", ran.context());
    assert!(
        ran.stderr.contains("stopped before the end of input"),
        "{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains(&format!("stopped by {name}")),
        "{}",
        ran.context()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
}

// ---------------------------------------------------------------------------
// A signal stops reading whatever stdin is doing

#[test]
fn sigterm_stops_a_stdin_sending_an_endless_line() {
    // As `cat /dev/zero`: bytes keep coming and no newline ever does. The
    // line read before is processed; the endless one is not a record.
    let mut run = Piped::start(&[
        "run",
        "--input",
        "-",
        "--no-header",
        "--schema",
        "a VARCHAR",
        "--linger",
        "1ms",
        "--sql",
        "SELECT a FROM t",
    ]);
    run.write(b"x\n");
    run.wait_for_line("x");
    let mut stdin = run.stdin.take().expect("stdin is open");
    let zeros = thread::spawn(move || {
        let block = vec![0u8; 1 << 16];
        // Until the child exits and the pipe breaks.
        while stdin.write_all(&block).is_ok() {}
    });
    let ran = run.stop_with(libc::SIGTERM);
    zeros.join().expect("the writer does not panic");
    assert_stopped(&ran, 143, "SIGTERM", 1);
    assert_eq!(ran.stdout, "a\nx\n", "{}", ran.context());
}

#[test]
fn sigint_stops_a_stdin_that_stopped_mid_line() {
    // A writer that wrote `1,2\n3,` and keeps the pipe open, as CSV and as
    // JSON lines: the whole line is processed, the half line is not a record.
    let cases: [(&[&str], &[u8]); 2] = [
        (&["--no-header"], b"1,2\n3,"),
        (&["--input-format", "json"], b"{\"a\":1,\"b\":2}\n{\"a\":3,"),
    ];
    for (format, input) in cases {
        let mut args = vec!["run", "--input", "-", "--schema", "a BIGINT, b BIGINT"];
        args.extend_from_slice(format);
        args.extend_from_slice(&["--linger", "1ms", "--sql", "SELECT a, b FROM t"]);
        let mut run = Piped::start(&args);
        run.write(input);
        run.wait_for_line("1,2");
        let ran = run.stop_with(libc::SIGINT);
        assert_stopped(&ran, 130, "SIGINT", 1);
        assert_eq!(ran.stdout, "a,b\n1,2\n", "{format:?}: {}", ran.context());
    }
}

#[test]
fn a_quoted_record_across_lines_waits_for_its_rest_and_a_signal_stops_it_half_way() {
    // Record 1's second line comes later: it is read whole once it arrives.
    // Record 2 is half there when the signal comes: it is not read.
    let mut run = Piped::start(&[
        "run",
        "--input",
        "-",
        "--no-header",
        "--schema",
        "a BIGINT, b VARCHAR",
        "--linger",
        "1ms",
        "--sql",
        "SELECT a, b FROM t",
    ]);
    run.write(b"0,y\n1,\"x\n");
    run.wait_for_line("0,y");
    run.write(b"z\"\n2,\"w\n");
    run.wait_for_line("z\"");
    let ran = run.stop_with(libc::SIGTERM);
    assert_stopped(&ran, 143, "SIGTERM", 2);
    assert_eq!(ran.stdout, "a,b\n0,y\n1,\"x\nz\"\n", "{}", ran.context());
}

/// The machine's online CPUs, as the engine reads them.
fn online_cpus() -> Vec<usize> {
    corestream::runtime::cores::CoreSet::online_cpus().expect("the online CPUs can be read")
}

/// Runs the binary under `taskset -c CPUS`, so the process may run on
/// fewer CPUs than the machine has online (as in a container's cpuset).
fn run_under_taskset(cpus: &str, args: &[&str]) -> Ran {
    let child = Command::new("taskset")
        .arg("-c")
        .arg(cpus)
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("taskset runs (util-linux; the test needs it)");
    let watchdog = Watchdog::new(&child);
    let out = child.wait_with_output().expect("the binary runs");
    assert!(!watchdog.disarm(), "the run hung and was killed");
    Ran::from(out)
}

/// The shard lines of a summary: (shard, core).
fn shard_cores(ran: &Ran) -> Vec<(usize, usize)> {
    ran.stderr
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match (w.first()?.parse().ok(), w.get(1)?.parse().ok()) {
                (Some(shard), Some(core)) if w.len() > 10 => Some((shard, core)),
                _ => None,
            }
        })
        .collect()
}

#[test]
fn a_process_allowed_fewer_cpus_runs_on_those_and_refuses_the_others() {
    let online = online_cpus();
    if online.len() < 2 || online[0] != 0 {
        eprintln!("skipped: needs CPUs 0 and another online (online: {online:?})");
        return;
    }
    let other = online[1].to_string();
    let sql = "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT FINAL";
    let input = "gen:trades?records=2000&symbols=3";

    // The default: only the allowed CPU, one shard, every record.
    let ran = run_under_taskset("0", &["run", "--input", input, "--sql", sql]);
    ran.assert_success();
    assert_eq!(shard_cores(&ran), vec![(0, 0)], "{}", ran.context());
    assert!(
        ran.stderr.contains("in 2000 = processed 2000"),
        "{}",
        ran.context()
    );
    let explained = run_under_taskset("0", &["explain", "--input", input, "--sql", sql]);
    explained.assert_success();
    assert!(
        explained.stdout.contains("shards: 1\n"),
        "{}",
        explained.context()
    );

    // A CPU outside the allowed set, as a list or a mask: a usage error naming
    // the core and the allowed set, before any shard starts.
    let mask = format!("{:#x}", 1u64 << online[1].min(63));
    for (flag, value) in [("--cores", other.as_str()), ("--core-mask", mask.as_str())] {
        let ran = run_under_taskset("0", &["run", flag, value, "--input", input, "--sql", sql]);
        assert_eq!(ran.code, Some(2), "{flag} {value}: {}", ran.context());
        let wanted = format!("core {other} in the core set is not among the CPUs");
        assert!(ran.stderr.contains(&wanted), "{}", ran.context());
        assert!(ran.stderr.contains("(allowed: 0;"), "{}", ran.context());
        assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
        assert!(!ran.stderr.contains("ulimit"), "{}", ran.context());
    }
    // An allowed core named explicitly still runs.
    let ran = run_under_taskset(
        "0",
        &["run", "--cores", "0", "--input", input, "--sql", sql],
    );
    ran.assert_success();
}

// ---------------------------------------------------------------------------
// A header and no schema: types from the first rows, and a signal while waiting

#[test]
fn a_slow_stdin_with_a_header_gets_its_types_from_the_first_rows_and_results_flow() {
    // `qty * 2` needs qty inferred as a number: from the one row there is.
    let mut run = Piped::start(&[
        "run",
        "--input",
        "-",
        "--linger",
        "1ms",
        "--sql",
        "SELECT sym, qty * 2 AS q FROM t",
    ]);
    run.write(b"sym,qty\nA,1\n");
    run.wait_for_line("A,2");
    run.write(b"B,2\n");
    run.wait_for_line("B,4");
    let ran = run.stop_with(libc::SIGTERM);
    assert_stopped(&ran, 143, "SIGTERM", 2);
    assert_eq!(ran.stdout, "sym,q\nA,2\nB,4\n", "{}", ran.context());
}

/// Makes a FIFO at `path` and opens it for reading on a thread of its own:
/// the open returns (and the file is sent) once the child opens it for
/// writing. The child's dead-letter file, it is created while the input is
/// opened, after the signal handlers are in and before the header is read:
/// the event the signal tests wait for.
fn fifo_opened_by_the_child(path: &TempPath) -> mpsc::Receiver<std::fs::File> {
    let c_path = std::ffi::CString::new(path.str()).expect("a path without NUL");
    // SAFETY: `c_path` is a valid NUL-terminated string for the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.str());
    let (tx, rx) = mpsc::channel();
    let path = path.0.clone();
    thread::spawn(move || {
        if let Ok(file) = std::fs::File::open(&path) {
            let _ = tx.send(file);
        }
    });
    rx
}

/// Waits for the child to open its dead-letter FIFO, failing the test after 60 s.
fn wait_until_opened(opened: &mpsc::Receiver<std::fs::File>) -> std::fs::File {
    opened
        .recv_timeout(Duration::from_secs(60))
        .expect("the child opens its dead-letter file (a FIFO) within 60 s of starting")
}

#[test]
fn a_signal_during_type_inference_drains_the_rows_read_and_prints_the_summary() {
    let fifo = TempPath::new("inference-dead-letter");
    let opened = fifo_opened_by_the_child(&fifo);
    let dead_letter = format!("dead-letter={}", fifo.str());
    let mut run = Piped::start(&[
        "run",
        "--input",
        "-",
        "--on-error",
        &dead_letter,
        "--linger",
        "1ms",
        "--sql",
        "SELECT sym, qty FROM t",
    ]);
    // The header and one row, then nothing: the signal comes while the
    // types are inferred (or just after); either way the row was read.
    run.write(b"sym,qty\nA,1\n");
    let _reader = wait_until_opened(&opened);
    let ran = run.stop_with(libc::SIGINT);
    assert_stopped(&ran, 130, "SIGINT", 1);
    assert_eq!(ran.stdout, "sym,qty\nA,1\n", "{}", ran.context());
}

#[test]
fn a_signal_before_the_header_arrives_exits_with_its_code_saying_nothing_was_read() {
    let fifo = TempPath::new("header-dead-letter");
    let opened = fifo_opened_by_the_child(&fifo);
    let dead_letter = format!("dead-letter={}", fifo.str());
    let run = Piped::start(&[
        "run",
        "--input",
        "-",
        "--on-error",
        &dead_letter,
        "--sql",
        "SELECT sym FROM t",
    ]);
    let _reader = wait_until_opened(&opened);
    let ran = run.stop_with(libc::SIGTERM);
    assert_eq!(ran.code, Some(143), "{}", ran.context());
    assert!(
        ran.stderr
            .contains("input stdin: stopped before the header row arrived; nothing was read"),
        "{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("stopped by SIGTERM"),
        "{}",
        ran.context()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
}

#[test]
fn sigterm_stops_cat_dev_zero_from_the_start() {
    // The example: stdin is `/dev/zero` from its first byte. The
    // dead-letter FIFO says when the input is being opened (signal handlers in).
    let fifo = TempPath::new("zero-dead-letter");
    let opened = fifo_opened_by_the_child(&fifo);
    let dead_letter = format!("dead-letter={}", fifo.str());
    let zero = std::fs::File::open("/dev/zero").expect("/dev/zero opens");
    let (child, watchdog) = spawn(
        &[
            "run",
            "--input",
            "-",
            "--no-header",
            "--schema",
            "a VARCHAR",
            "--on-error",
            &dead_letter,
            "--sql",
            "SELECT COUNT(*) FROM t",
        ],
        Stdio::from(zero),
    );
    let _reader = wait_until_opened(&opened);
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().expect("the binary runs");
    assert!(
        !watchdog.disarm(),
        "the run did not stop within 60 s of the signal and was killed"
    );
    let ran = Ran::from(out);
    assert_stopped(&ran, 143, "SIGTERM", 0);
}
