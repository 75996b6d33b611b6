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

    /// Every online CPU of this machine.
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
mod tests {
    use super::*;

    /// A machine with CPUs 0..n online.
    fn online(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    fn mask(m: &str) -> Result<Vec<usize>, CoreSetError> {
        CoreSet::from_mask(m, &online(256)).map(|s| s.cores().to_vec())
    }

    fn list(l: &str) -> Result<Vec<usize>, CoreSetError> {
        CoreSet::from_list(l, &online(256)).map(|s| s.cores().to_vec())
    }

    /// The (position, message) of an error, for golden checks.
    fn failure(result: Result<Vec<usize>, CoreSetError>) -> (Option<usize>, String) {
        let e = result.expect_err("expected an error");
        let position = match &e {
            CoreSetError::Unparsable { position, .. } => Some(*position),
            _ => None,
        };
        (position, e.to_string())
    }

    // ---- masks ----

    #[test]
    fn mask_single_bits() {
        assert_eq!(mask("0x1").unwrap(), [0]);
        assert_eq!(mask("0x2").unwrap(), [1]);
        assert_eq!(mask("0x8").unwrap(), [3]);
        assert_eq!(mask("0x10").unwrap(), [4]);
    }

    #[test]
    fn mask_multiple_bits() {
        assert_eq!(mask("0x3").unwrap(), [0, 1]);
        assert_eq!(mask("0x3c").unwrap(), [2, 3, 4, 5]);
        assert_eq!(mask("0xff").unwrap(), online(8));
        assert_eq!(mask("0x101").unwrap(), [0, 8]);
    }

    #[test]
    fn mask_prefix_case_and_digit_case() {
        assert_eq!(mask("3c").unwrap(), [2, 3, 4, 5]);
        assert_eq!(mask("0X3").unwrap(), [0, 1]);
        assert_eq!(mask("0x3C").unwrap(), [2, 3, 4, 5]);
        assert_eq!(mask("0XaB").unwrap(), mask("0xab").unwrap());
    }

    #[test]
    fn mask_leading_zeros_and_whitespace() {
        assert_eq!(mask("0x0003").unwrap(), [0, 1]);
        assert_eq!(mask("  0x3\n").unwrap(), [0, 1]);
        assert_eq!(mask("\t3c ").unwrap(), [2, 3, 4, 5]);
    }

    #[test]
    fn mask_beyond_64_bits() {
        // Bit 64 alone: "1" followed by 16 zero nibbles.
        let m = format!("0x1{}", "0".repeat(16));
        assert_eq!(mask(&m).unwrap(), [64]);
        // All 128 bits.
        let m = format!("0x{}", "f".repeat(32));
        assert_eq!(mask(&m).unwrap(), online(128));
        // Bits 0 and 127.
        let m = format!("0x8{}1", "0".repeat(30));
        assert_eq!(mask(&m).unwrap(), [0, 127]);
        // 256 CPUs, every other one.
        let m = "5".repeat(64);
        let expected: Vec<usize> = (0..256).step_by(2).collect();
        assert_eq!(mask(&m).unwrap(), expected);
    }

    #[test]
    fn mask_very_long_with_leading_zeros() {
        let m = format!("0x{}1", "0".repeat(10_000));
        assert_eq!(mask(&m).unwrap(), [0]);
    }

    #[test]
    fn mask_kernel_comma_groups() {
        assert_eq!(mask("1,00000003").unwrap(), [0, 1, 32]);
        assert_eq!(mask("0x3,c").unwrap(), mask("0x3c").unwrap());
    }

    #[test]
    fn mask_bad_commas() {
        assert_eq!(
            failure(mask(",3")),
            (
                Some(0),
                "invalid core mask \",3\": ',' at position 0 must sit between groups of hex digits"
                    .to_string()
            )
        );
        assert_eq!(failure(mask("3,")).0, Some(1));
        assert_eq!(failure(mask("0x3,,c")).0, Some(4));
    }

    #[test]
    fn mask_empty_string() {
        assert_eq!(
            failure(mask("")),
            (
                Some(0),
                "invalid core mask \"\": expected hex digits, found nothing".to_string()
            )
        );
        assert_eq!(failure(mask("   ")).0, Some(3));
    }

    #[test]
    fn mask_prefix_only() {
        assert_eq!(
            failure(mask("0x")),
            (
                Some(2),
                "invalid core mask \"0x\": expected hex digits after \"0x\" at position 2"
                    .to_string()
            )
        );
        assert_eq!(failure(mask(" 0X ")).0, Some(3));
    }

    #[test]
    fn mask_zero_selects_nothing() {
        for m in ["0x0", "0", "0x0000", "0X00,00000000"] {
            let e = CoreSet::from_mask(m, &online(4)).unwrap_err();
            assert_eq!(e, CoreSetError::Empty { input: m.into() });
        }
        assert_eq!(
            CoreSet::from_mask("0x0", &online(4))
                .unwrap_err()
                .to_string(),
            "core mask 0x0 selects no cores"
        );
    }

    #[test]
    fn mask_bad_digits() {
        assert_eq!(
            failure(mask("0xzz")),
            (
                Some(2),
                "invalid core mask \"0xzz\": 'z' at position 2 is not a hex digit".to_string()
            )
        );
        assert_eq!(failure(mask("3g")).0, Some(1));
        assert_eq!(failure(mask("0x3 c")).0, Some(3));
        assert_eq!(failure(mask("-1")).0, Some(0));
        assert_eq!(failure(mask("0o7")).0, Some(1));
        assert_eq!(failure(mask("0xé")).0, Some(2));
        // A list is not a mask.
        assert_eq!(failure(mask("0-3")).0, Some(1));
    }

    #[test]
    fn mask_unparsable_is_structured() {
        let e = CoreSet::from_mask(" 0xq", &online(4)).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::Unparsable {
                input: " 0xq".into(),
                syntax: Syntax::Mask,
                position: 3,
                reason: "'q' at position 3 is not a hex digit".into(),
            }
        );
    }

    #[test]
    fn mask_not_online() {
        let e = CoreSet::from_mask("0x80", &online(2)).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotOnline {
                core: 7,
                online: vec![0, 1]
            }
        );
        assert_eq!(
            e.to_string(),
            "core 7 in the core set is not an online CPU of this machine (online: 0-1)"
        );
        // The smallest offending CPU is reported.
        let e = CoreSet::from_mask("0xf", &[0, 2]).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotOnline {
                core: 1,
                online: vec![0, 2]
            }
        );
        // A hole in the online set.
        assert!(CoreSet::from_mask("0x5", &[0, 2]).is_ok());
        // A bit far beyond the machine.
        let m = format!("0x1{}", "0".repeat(31));
        let e = CoreSet::from_mask(&m, &online(4)).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotOnline {
                core: 124,
                online: online(4)
            }
        );
    }

    // ---- lists ----

    #[test]
    fn list_single_and_ranges() {
        assert_eq!(list("0").unwrap(), [0]);
        assert_eq!(list("7").unwrap(), [7]);
        assert_eq!(list("0-1").unwrap(), [0, 1]);
        assert_eq!(list("0,2-5").unwrap(), [0, 2, 3, 4, 5]);
        assert_eq!(list("2-5,8").unwrap(), [2, 3, 4, 5, 8]);
        assert_eq!(list("3-3").unwrap(), [3]);
        assert_eq!(list("0-127").unwrap(), online(128));
    }

    #[test]
    fn list_is_sorted_and_deduplicated() {
        assert_eq!(list("5,1,3").unwrap(), [1, 3, 5]);
        assert_eq!(list("1,1,1").unwrap(), [1]);
        assert_eq!(list("0-3,2-5,4").unwrap(), online(6));
        assert_eq!(list("8,0-1").unwrap(), [0, 1, 8]);
    }

    #[test]
    fn list_whitespace_around_items() {
        assert_eq!(list(" 0 , 2-5 ").unwrap(), [0, 2, 3, 4, 5]);
        assert_eq!(list("1\n").unwrap(), [1]);
        assert_eq!(list("\t0,\t1").unwrap(), [0, 1]);
    }

    #[test]
    fn list_whitespace_inside_item() {
        assert_eq!(
            failure(list("0 -1")),
            (
                Some(1),
                "invalid core list \"0 -1\": ' ' at position 1 is unexpected; \
                 expected ',', '-', ':' or the end"
                    .to_string()
            )
        );
        assert_eq!(failure(list("0- 1")).0, Some(2));
    }

    #[test]
    fn list_stride() {
        assert_eq!(list("0-6:2").unwrap(), [0, 2, 4, 6]);
        assert_eq!(list("0-7:3").unwrap(), [0, 3, 6]);
        assert_eq!(list("1-1:5").unwrap(), [1]);
        assert_eq!(
            failure(list("0-6:0")),
            (
                Some(4),
                "invalid core list \"0-6:0\": stride at position 4 must be at least 1".to_string()
            )
        );
        assert_eq!(failure(list("0-6:")).0, Some(4));
        // A stride needs a range.
        assert_eq!(failure(list("0:2")).0, Some(1));
    }

    #[test]
    fn list_reversed_range() {
        let e = CoreSet::from_list("0,5-2", &online(8)).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::ReversedRange {
                input: "0,5-2".into(),
                start: 5,
                end: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "invalid core list \"0,5-2\": range 5-2 is reversed (write 2-5)"
        );
    }

    #[test]
    fn list_not_a_number() {
        assert_eq!(
            failure(list("a")),
            (
                Some(0),
                "invalid core list \"a\": 'a' at position 0 is not a digit; \
                 expected a CPU number"
                    .to_string()
            )
        );
        assert_eq!(failure(list("1a")).0, Some(1));
        assert_eq!(failure(list("0,x")).0, Some(2));
        assert_eq!(failure(list("-1")).0, Some(0));
        assert_eq!(failure(list("0x3")).0, Some(1));
        assert_eq!(failure(list("+1")).0, Some(0));
    }

    #[test]
    fn list_missing_range_end() {
        assert_eq!(
            failure(list("2-")),
            (
                Some(2),
                "invalid core list \"2-\": expected a CPU number after '-' at position 2"
                    .to_string()
            )
        );
        assert_eq!(failure(list("2-,3")).0, Some(2));
        assert_eq!(failure(list("1-2-3")).0, Some(3));
    }

    #[test]
    fn list_empty_items() {
        assert_eq!(
            failure(list("1,,2")),
            (
                Some(2),
                "invalid core list \"1,,2\": empty item before ',' at position 2 \
                 (two commas in a row)"
                    .to_string()
            )
        );
        assert_eq!(
            failure(list("0,1,")),
            (
                Some(3),
                "invalid core list \"0,1,\": trailing ',' at position 3".to_string()
            )
        );
        assert_eq!(failure(list("0, ")).0, Some(1));
        assert_eq!(
            failure(list(",1")),
            (
                Some(0),
                "invalid core list \",1\": list starts with ',' at position 0".to_string()
            )
        );
        assert_eq!(failure(list(",")).0, Some(0));
    }

    #[test]
    fn list_empty_string() {
        assert_eq!(
            failure(list("")),
            (
                Some(0),
                "invalid core list \"\": expected a CPU number or range, found nothing".to_string()
            )
        );
        assert_eq!(failure(list("  ")).0, Some(2));
    }

    #[test]
    fn list_number_too_large() {
        let big = "99999999999999999999999999";
        assert_eq!(
            failure(list(&format!("0,{big}"))).1,
            format!("invalid core list \"0,{big}\": number at position 2 is too large")
        );
    }

    #[test]
    fn list_not_online() {
        let e = CoreSet::from_list("0,7", &online(2)).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotOnline {
                core: 7,
                online: vec![0, 1]
            }
        );
        assert_eq!(
            e.to_string(),
            "core 7 in the core set is not an online CPU of this machine (online: 0-1)"
        );
        // Reported in the order written, and the online set is shown sorted.
        let e = CoreSet::from_list("9,0-5", &[3, 1, 0, 2]).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotOnline {
                core: 9,
                online: vec![0, 1, 2, 3]
            }
        );
        // A huge range stops at its first offline CPU.
        let e = CoreSet::from_list("0-4000000000", &online(2)).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotOnline {
                core: 2,
                online: online(2)
            }
        );
        // Holes in the online set.
        assert_eq!(CoreSet::from_list("0,4", &[0, 4]).unwrap().cores(), [0, 4]);
        assert!(CoreSet::from_list("0-4", &[0, 4]).is_err());
    }

    #[test]
    fn not_online_with_nothing_online() {
        let e = CoreSet::from_list("0", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "core 0 in the core set is not an online CPU of this machine (online: none)"
        );
    }

    #[test]
    fn mask_and_list_agree() {
        assert_eq!(mask("0x3c").unwrap(), list("2-5").unwrap());
        assert_eq!(mask("0x101").unwrap(), list("0,8").unwrap());
        let m = format!("0x{}", "f".repeat(32));
        assert_eq!(mask(&m).unwrap(), list("0-127").unwrap());
    }

    // ---- the set itself ----

    #[test]
    fn accessors_and_display() {
        let set = CoreSet::from_list("8,0-3", &online(16)).unwrap();
        assert_eq!(set.cores(), [0, 1, 2, 3, 8]);
        assert_eq!(set.len(), 5);
        assert!(!set.is_empty());
        assert_eq!(set.to_string(), "0-3,8");
        assert_eq!(set, CoreSet::from_mask("0x10f", &online(16)).unwrap());
    }

    #[test]
    fn format_list_compacts_runs() {
        assert_eq!(format_list(&[]), "");
        assert_eq!(format_list(&[0]), "0");
        assert_eq!(format_list(&[0, 1]), "0-1");
        assert_eq!(format_list(&[0, 1, 2, 3, 8]), "0-3,8");
        assert_eq!(format_list(&[0, 2, 4]), "0,2,4");
        assert_eq!(format_list(&[8, 3, 2, 2, 1, 0]), "0-3,8");
        assert_eq!(format_list(&[1, 2, 5, 6, 7, 10]), "1-2,5-7,10");
    }

    #[test]
    fn format_list_round_trips() {
        for cores in [vec![0], vec![0, 1, 2, 3, 8], vec![1, 3, 5, 6, 7, 100]] {
            let text = format_list(&cores);
            assert_eq!(
                CoreSet::from_list(&text, &online(128)).unwrap().cores(),
                cores
            );
        }
    }

    #[test]
    fn parse_cpu_list_for_sysfs() {
        assert_eq!(parse_cpu_list("0-1,4\n").unwrap(), [0, 1, 4]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<usize>::new());
        assert!(parse_cpu_list("0-").is_err());
    }

    #[test]
    fn online_cpus_on_this_machine() {
        let cpus = CoreSet::online_cpus().unwrap();
        assert!(!cpus.is_empty());
        assert!(cpus.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        let all = CoreSet::all_online().unwrap();
        assert_eq!(all.cores(), cpus);
        assert_eq!(CoreSet::from_list(&all.to_string(), &cpus).unwrap(), all);
    }

    #[test]
    fn errors_are_std_errors() {
        let e: Box<dyn std::error::Error> = Box::new(CoreSetError::Sys("boom".into()));
        assert_eq!(e.to_string(), "cannot determine the online CPUs: boom");
    }
}
