//! Runs killed with SIGKILL at random moments after checkpoints, and run
//! again until one finishes; what their part files hold.
#![allow(dead_code)] // each test crate compiles this module and uses only part of it

use crate::process::BIN;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts the binary with `args`, stderr piped, with the checkpoint fault
/// hook `fault` (`STEP@N`) or none.
pub fn spawn(args: &[String], fault: Option<&str>) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    match fault {
        Some(f) => cmd.env("CORESTREAM_CHECKPOINT_FAULT", f),
        None => cmd.env_remove("CORESTREAM_CHECKPOINT_FAULT"),
    };
    cmd.spawn().expect("the binary starts")
}

/// The newest committed checkpoint in `ck` (0: none).
pub fn newest(ck: &Path) -> u64 {
    std::fs::read_dir(ck)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("manifest-")?
                        .strip_suffix(".json")?
                        .parse()
                        .ok()
                })
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Waits (yielding) until `cond` holds or `child` has exited, for at most
/// a minute; returns whether the child is still running.
pub fn wait_running(child: &mut Child, cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("the child can be polled").is_some() {
            return false;
        }
        if cond() {
            return true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no checkpoint in a minute"
        );
        std::thread::yield_now();
    }
}

/// Runs the command `args(cores)` gives to the end, killing it with SIGKILL
/// `kills` times, each time after a new checkpoint in `ck` plus up to a few
/// milliseconds (varied by `seed`), and running it again, on one core or
/// two in turn (`cores` is `0` or `0-1`). Returns the kills that landed (a
/// run may end before the next checkpoint).
pub fn run_with_kills(args: impl Fn(&str) -> Vec<String>, ck: &Path, kills: u32, seed: u64) -> u32 {
    let mut landed = 0;
    let mut x = seed | 1;
    for attempt in 0.. {
        let cores = if attempt % 3 == 2 { "0" } else { "0-1" };
        let mut child = spawn(&args(cores), None);
        if landed < kills {
            let seen = newest(ck);
            if wait_running(&mut child, || newest(ck) > seen) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let extra = Duration::from_micros(x % 4000);
                let at = Instant::now();
                while at.elapsed() < extra {
                    std::thread::yield_now();
                }
                if child.kill().is_ok() {
                    landed += 1;
                }
            }
        }
        let status = child.wait().expect("the child ends");
        if status.success() {
            return landed;
        }
        assert!(
            status.code().is_none(),
            "a run failed by itself: {status:?}: {}",
            stderr_of(&mut child)
        );
    }
    unreachable!()
}

pub fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(e) = child.stderr.as_mut() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// Every part file's rows (not their one header each), sorted.
pub fn rows(out: &Path) -> Vec<String> {
    let mut rows = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(out).expect("output").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let text = std::fs::read_to_string(e.path()).expect("a part file");
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().to_owned();
        for line in lines {
            assert_ne!(line, header, "a second header in {}", e.path().display());
            rows.push(line.to_owned());
        }
    }
    rows.sort();
    rows
}
