//! Helpers for the tests that run the `corestream` binary: temp paths that
//! clean up after themselves, and a watchdog against a hung child process.
//!
//! Each test crate uses a subset of these helpers.
#![allow(dead_code)] // each test crate compiles this module and uses only part of it

use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

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
