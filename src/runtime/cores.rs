//! The core set: which CPUs the shards run on, parsed from a `taskset`-style
//! hex mask (`0x3c`) or CPU list (`0,2-5`).
//!
//! Shard `i` runs pinned on `cores()[i]`, so the set is kept sorted and free of
//! duplicates: the same input always gives the same shard-to-CPU placement.
//!
//! # Threading
//! Everything here is control plane: parse once at start-up, on any thread.
//! [`CoreSet::online_cpus`] and [`CoreSet::all_online`] read sysfs.
//!
//! # Invariants
//! A [`CoreSet`] is non-empty, strictly increasing, and every CPU in it was in
//! the online set it was validated against.
//!
//! # Syntax
//! Both grammars follow util-linux `taskset` (`man 1 taskset`):
//! - mask: optional `0x`/`0X`, then hex digits, most significant first; bit
//!   `n` selects CPU `n`. Any length works (digits are read one by one, never
//!   into a fixed-width integer), and commas between digit groups are ignored,
//!   so the kernel's own format (`ff,ffffffff` in `/proc/self/status`) is
//!   accepted too.
//! - list: comma-separated items `N`, `N-M` or `N-M:S` (every `S`th CPU of the
//!   range), whitespace allowed around items; the format of
//!   `/sys/devices/system/cpu/online`.
//!
//! Error positions are byte offsets into the input as given, untrimmed.

use std::fmt;

/// Where the kernel lists the online CPUs, in list syntax (`0-1,4`).
const SYS_ONLINE: &str = "/sys/devices/system/cpu/online";

/// A validated, non-empty, sorted, de-duplicated set of CPU ids; shard `i`
/// runs on `cores()[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSet {
    /// Strictly increasing, never empty.
    cores: Vec<usize>,
}

/// Which grammar an unparsable core set was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// A hex mask such as `0x3c` ([`CoreSet::from_mask`]).
    Mask,
    /// A CPU list such as `0,2-5` ([`CoreSet::from_list`]).
    List,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Syntax::Mask => "mask",
            Syntax::List => "list",
        })
    }
}

/// Why a core set could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreSetError {
    /// The text does not follow the grammar; `position` is the byte offset of
    /// the offending character (or of the end of input when something is
    /// missing), and `reason` says what was found and what was expected.
    Unparsable {
        input: String,
        syntax: Syntax,
        position: usize,
        reason: String,
    },
    /// A well-formed mask with no bit set (`0x0`).
    Empty { input: String },
    /// `core` is not among the online CPUs; `online` is the set checked
    /// against, sorted.
    NotOnline { core: usize, online: Vec<usize> },
    /// `core` is online but not among the CPUs this process may run on (a
    /// container's or cgroup's cpuset, or `taskset`); `allowed` is that set,
    /// sorted (see [`super::allowed`]).
    NotAllowed { core: usize, allowed: Vec<usize> },
    /// A list range whose start is above its end (`5-2`).
    ReversedRange {
        input: String,
        start: usize,
        end: usize,
    },
    /// The online CPUs could not be determined.
    Sys(String),
}

impl fmt::Display for CoreSetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreSetError::Unparsable {
                input,
                syntax,
                reason,
                ..
            } => write!(f, "invalid core {syntax} {input:?}: {reason}"),
            CoreSetError::Empty { input } => {
                write!(f, "core mask {} selects no cores", input.trim())
            }
            CoreSetError::NotOnline { core, online } => {
                let online = if online.is_empty() {
                    "none".to_string()
                } else {
                    format_list(online)
                };
                write!(
                    f,
                    "core {core} in the core set is not an online CPU of this machine \
                     (online: {online})"
                )
            }
            CoreSetError::NotAllowed { core, allowed } => write!(
                f,
                "core {core} in the core set is not among the CPUs this process may run on \
                 (allowed: {}; a container's or cgroup's cpuset, or taskset, restricts them)",
                format_list(allowed)
            ),
            CoreSetError::ReversedRange { input, start, end } => write!(
                f,
                "invalid core list {input:?}: range {start}-{end} is reversed (write {end}-{start})"
            ),
            CoreSetError::Sys(msg) => write!(f, "cannot determine the online CPUs: {msg}"),
        }
    }
}

impl std::error::Error for CoreSetError {}

impl CoreSet {
    /// Parses a `taskset`-style hex mask (`0x3c`, `3c`, `0X3`) and checks
    /// every selected CPU against `online`.
    pub fn from_mask(mask: &str, online: &[usize]) -> Result<CoreSet, CoreSetError> {
        let cores = parse_mask(mask)?;
        if cores.is_empty() {
            return Err(CoreSetError::Empty {
                input: mask.to_string(),
            });
        }
        let online = sorted_unique(online);
        if let Some(&core) = cores.iter().find(|c| online.binary_search(c).is_err()) {
            return Err(CoreSetError::NotOnline { core, online });
        }
        Ok(CoreSet { cores })
    }

    /// Parses a `taskset -c`-style CPU list (`0`, `0-1`, `0,2-5`, `0-6:2`) and
    /// checks every CPU against `online`. Duplicates and overlapping ranges
    /// are merged. A CPU that is not online is reported in the order written.
    pub fn from_list(list: &str, online: &[usize]) -> Result<CoreSet, CoreSetError> {
        let ranges = parse_list(list)?;
        let online = sorted_unique(online);
        let mut cores = Vec::new();
        for range in &ranges {
            // Checking while expanding stops `0-4000000000` at its first
            // offline CPU instead of allocating it.
            for core in range.iter() {
                if online.binary_search(&core).is_err() {
                    return Err(CoreSetError::NotOnline { core, online });
                }
                cores.push(core);
            }
        }
        cores.sort_unstable();
        cores.dedup();
        debug_assert!(!cores.is_empty(), "the grammar requires at least one item");
        Ok(CoreSet { cores })
    }

    /// Every online CPU of this machine, including any this process may not
    /// run on (a container's cpuset); the engine's default is
    /// [`super::allowed::all_allowed`].
    pub fn all_online() -> Result<CoreSet, CoreSetError> {
        let cores = Self::online_cpus()?;
        if cores.is_empty() {
            return Err(CoreSetError::Sys("no online CPUs found".to_string()));
        }
        Ok(CoreSet { cores })
    }

    /// The online CPUs of this machine, sorted, read from
    /// `/sys/devices/system/cpu/online`. If that file is unreadable (no sysfs,
    /// a sandbox) this falls back to `core_affinity::get_core_ids()`, which
    /// reports the CPUs this process may run on rather than all online CPUs.
    pub fn online_cpus() -> Result<Vec<usize>, CoreSetError> {
        let sys_error = match read_sys_list(SYS_ONLINE) {
            Ok(cpus) if !cpus.is_empty() => return Ok(cpus),
            Ok(_) => format!("{SYS_ONLINE} lists no CPUs"),
            Err(e) => e,
        };
        match core_affinity::get_core_ids() {
            Some(ids) if !ids.is_empty() => {
                let mut cpus: Vec<usize> = ids.into_iter().map(|id| id.id).collect();
                cpus.sort_unstable();
                cpus.dedup();
                Ok(cpus)
            }
            _ => Err(CoreSetError::Sys(format!(
                "{sys_error}, and core_affinity::get_core_ids() found no CPUs"
            ))),
        }
    }

    /// The CPUs, strictly increasing; shard `i` runs on `cores()[i]`.
    pub fn cores(&self) -> &[usize] {
        &self.cores
    }

    /// The number of CPUs, which is the number of shards.
    pub fn len(&self) -> usize {
        self.cores.len()
    }

    /// Always `false`: a core set is never empty.
    pub fn is_empty(&self) -> bool {
        self.cores.is_empty()
    }
}

impl fmt::Display for CoreSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_list(&self.cores))
    }
}

/// Formats CPU ids in compact list syntax: runs of two or more consecutive
/// ids become `a-b` (`[0, 1, 2, 3, 8]` -> `"0-3,8"`). The input may be in any
/// order and hold duplicates; an empty slice gives `""`.
pub fn format_list(cores: &[usize]) -> String {
    let cores = sorted_unique(cores);
    let mut out = String::new();
    let mut i = 0;
    while i < cores.len() {
        let start = cores[i];
        let mut end = start;
        while i + 1 < cores.len() && cores[i + 1] == end + 1 {
            i += 1;
            end = cores[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

/// Parses a CPU list from a trusted source (sysfs) with no online check:
/// sorted, de-duplicated. Blank text is an empty list, as in the `cpulist` of
/// a memory-only NUMA node.
pub(crate) fn parse_cpu_list(text: &str) -> Result<Vec<usize>, CoreSetError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut cpus: Vec<usize> = parse_list(text)?.iter().flat_map(Range::iter).collect();
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Reads a sysfs file in list syntax.
pub(crate) fn read_sys_list(path: impl AsRef<std::path::Path>) -> Result<Vec<usize>, String> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_cpu_list(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn sorted_unique(cpus: &[usize]) -> Vec<usize> {
    let mut v = cpus.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

fn unparsable(input: &str, syntax: Syntax, position: usize, reason: String) -> CoreSetError {
    CoreSetError::Unparsable {
        input: input.to_string(),
        syntax,
        position,
        reason,
    }
}

/// The CPUs selected by a hex mask, increasing; empty when no bit is set.
fn parse_mask(input: &str) -> Result<Vec<usize>, CoreSetError> {
    let err = |position, reason| unparsable(input, Syntax::Mask, position, reason);
    let start = input.len() - input.trim_start().len();
    let end = input.trim_end().len();
    if start >= end {
        return Err(err(start, "expected hex digits, found nothing".to_string()));
    }
    let body = &input[start..end];
    let digits_start = if body.starts_with("0x") || body.starts_with("0X") {
        start + 2
    } else {
        start
    };
    if digits_start == end {
        return Err(err(
            digits_start,
            format!(
                "expected hex digits after {:?} at position {digits_start}",
                &body[..2]
            ),
        ));
    }
    // Nibbles, most significant first.
    let mut nibbles = Vec::with_capacity(end - digits_start);
    let mut after_comma = false;
    for (offset, ch) in input[digits_start..end].char_indices() {
        let position = digits_start + offset;
        if ch == ',' {
            if nibbles.is_empty() || after_comma || position + 1 == end {
                return Err(err(
                    position,
                    format!("',' at position {position} must sit between groups of hex digits"),
                ));
            }
            after_comma = true;
            continue;
        }
        after_comma = false;
        match ch.to_digit(16) {
            Some(v) => nibbles.push(v),
            None => {
                return Err(err(
                    position,
                    format!("{ch:?} at position {position} is not a hex digit"),
                ))
            }
        }
    }
    let mut cores = Vec::new();
    for (k, nibble) in nibbles.iter().rev().enumerate() {
        for bit in 0..4 {
            if (nibble >> bit) & 1 == 1 {
                cores.push(4 * k + bit);
            }
        }
    }
    Ok(cores)
}

/// One list item: `start..=end` in steps of `stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: usize,
    end: usize,
    /// At least 1.
    stride: usize,
}

impl Range {
    fn iter(&self) -> impl Iterator<Item = usize> {
        (self.start..=self.end).step_by(self.stride)
    }
}

/// Parses list syntax into its items, in the order written.
fn parse_list(input: &str) -> Result<Vec<Range>, CoreSetError> {
    if input.trim().is_empty() {
        let position = input.len() - input.trim_start().len();
        return Err(unparsable(
            input,
            Syntax::List,
            position,
            "expected a CPU number or range, found nothing".to_string(),
        ));
    }
    let items: Vec<(usize, &str)> = input
        .split(',')
        .scan(0, |offset, item| {
            let start = *offset;
            *offset += item.len() + 1;
            Some((start, item))
        })
        .collect();
    let mut ranges = Vec::with_capacity(items.len());
    for (index, &(offset, item)) in items.iter().enumerate() {
        if item.trim().is_empty() {
            let (position, reason) = if index + 1 == items.len() {
                let comma = offset - 1;
                (comma, format!("trailing ',' at position {comma}"))
            } else if index == 0 {
                let comma = offset + item.len();
                (comma, format!("list starts with ',' at position {comma}"))
            } else {
                let comma = offset + item.len();
                (
                    comma,
                    format!("empty item before ',' at position {comma} (two commas in a row)"),
                )
            };
            return Err(unparsable(input, Syntax::List, position, reason));
        }
        let lead = item.len() - item.trim_start().len();
        let mut cursor = Cursor {
            input,
            pos: offset + lead,
            end: offset + item.trim_end().len(),
        };
        ranges.push(cursor.item()?);
    }
    Ok(ranges)
}

/// Reads one trimmed list item, `input[pos..end]`.
struct Cursor<'a> {
    input: &'a str,
    pos: usize,
    end: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.input[self.pos..self.end].chars().next()
    }

    fn error(&self, reason: String) -> CoreSetError {
        unparsable(self.input, Syntax::List, self.pos, reason)
    }

    /// `N`, `N-M` or `N-M:S`, and nothing after it.
    fn item(&mut self) -> Result<Range, CoreSetError> {
        let start = self.number("a CPU number")?;
        let mut range = Range {
            start,
            end: start,
            stride: 1,
        };
        if self.peek() == Some('-') {
            self.pos += 1;
            range.end = self.number("a CPU number after '-'")?;
            if range.end < range.start {
                return Err(CoreSetError::ReversedRange {
                    input: self.input.to_string(),
                    start: range.start,
                    end: range.end,
                });
            }
            if self.peek() == Some(':') {
                self.pos += 1;
                let at = self.pos;
                range.stride = self.number("a stride after ':'")?;
                if range.stride == 0 {
                    return Err(unparsable(
                        self.input,
                        Syntax::List,
                        at,
                        format!("stride at position {at} must be at least 1"),
                    ));
                }
            }
        }
        match self.peek() {
            None => Ok(range),
            Some(ch) => Err(self.error(format!(
                "{ch:?} at position {} is unexpected; expected ',', '-', ':' or the end",
                self.pos
            ))),
        }
    }

    /// Decimal digits; `what` names the expected thing for the error.
    fn number(&mut self, what: &str) -> Result<usize, CoreSetError> {
        let start = self.pos;
        let digits = self.input[start..self.end]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if digits == 0 {
            return Err(match self.peek() {
                Some(ch) => self.error(format!(
                    "{ch:?} at position {start} is not a digit; expected {what}"
                )),
                None => self.error(format!("expected {what} at position {start}")),
            });
        }
        self.pos += digits;
        self.input[start..self.pos].parse().map_err(|_| {
            unparsable(
                self.input,
                Syntax::List,
                start,
                format!("number at position {start} is too large"),
            )
        })
    }
}

#[cfg(test)]
mod tests;
