//! Finding the fields of simple lines: each byte finder this CPU has, in one run.
//!
//! `cargo bench --bench scan`. Makes 1BRC-like text (`station;temperature\n`,
//! names of 2 to 14 letters, about 14 bytes a line) cut into 64 KiB blocks at
//! line ends, as the text source reads it. For each finder of
//! `Scanner::all()` (SWAR, the fallback; SSE2; AVX2 if the CPU has it) it
//! times `LineFields::scan` over every block (what the columnar decode runs
//! before parsing), and a walk of `Marks` over the same text (what the row
//! path runs). It first checks that every finder decodes the same rows as the
//! fallback and finds as many marks as a byte-by-byte count. The baseline,
//! timed in the same run, is the scan this replaced (commit e434b41: a word at
//! a time, a `Vec::push` per entry), kept below as it was.
//!
//! Trials of the finders are interleaved (SWAR, SSE2, AVX2, SWAR, ...) so
//! drift in the machine's speed hits all alike; the median of
//! `CORESTREAM_BENCH_TRIALS` (default 5) is reported, in ns per line and as a
//! ratio to SWAR; then the best finder's scan followed by the decode of both
//! columns into a reused batch. What it does not show: reading
//! the file, or anything but this one line shape (few fields, short lines:
//! the per-line cost, not the per-byte one, dominates).
//!
//! Without `--bench` (as under `cargo test --benches`) it only runs the check,
//! on less text.

mod support;

use corestream::data::{Batch, DataType, Field, Schema};
use corestream::io::columnar::LineFields;
use corestream::io::scan::{Finder, Marks, Scanner, WithFinder};
use std::hint::black_box;
use std::time::Instant;

/// Bytes per block, as the text source reads.
const BLOCK_BYTES: usize = 1 << 16;

/// `lines` lines of `station;temperature`, cut into blocks of whole lines.
fn text(lines: usize) -> Vec<Vec<u8>> {
    // xorshift64*: the same text on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let stations: Vec<String> = (0..400)
        .map(|_| {
            let len = 2 + next() % 13;
            (0..len)
                .map(|_| (b'a' + (next() % 26) as u8) as char)
                .collect()
        })
        .collect();
    let (mut blocks, mut block) = (Vec::new(), Vec::with_capacity(BLOCK_BYTES));
    for _ in 0..lines {
        let station = &stations[(next() % 400) as usize];
        let tenths = (next() % 1999) as i64 - 999;
        let line = format!("{station};{}.{}\n", tenths / 10, (tenths % 10).abs());
        if block.len() + line.len() > BLOCK_BYTES {
            blocks.push(std::mem::replace(
                &mut block,
                Vec::with_capacity(BLOCK_BYTES),
            ));
        }
        block.extend_from_slice(line.as_bytes());
    }
    blocks.push(block);
    blocks
}

/// The rows of every block, decoded after a scan with `scanner`.
fn decode_all(blocks: &[Vec<u8>], scanner: Scanner, schema: &Schema) -> Vec<Batch> {
    let mut fields = LineFields::with_scanner(scanner);
    blocks
        .iter()
        .map(|block| {
            let scanned = fields.scan(block, b';', 2, usize::MAX);
            assert!(!scanned.odd_line && scanned.consumed == block.len());
            let text = std::str::from_utf8(block).expect("the text is ASCII");
            let mut batch = Batch::with_capacity(schema, fields.rows());
            assert!(
                fields.decode(text, schema, &mut batch),
                "every field parses"
            );
            batch
        })
        .collect()
}

/// Scans and decodes every block into `batch`, emptied for each block (as
/// the text source refills its batches); the rows decoded.
fn scan_decode_all(
    blocks: &[Vec<u8>],
    fields: &mut LineFields,
    schema: &Schema,
    batch: &mut Batch,
) -> usize {
    blocks
        .iter()
        .map(|block| {
            fields.scan(black_box(block), b';', 2, usize::MAX);
            let text = std::str::from_utf8(block).expect("the text is ASCII");
            batch.clear();
            assert!(fields.decode(text, schema, batch));
            batch.len
        })
        .sum()
}

/// Scans every block; the rows kept.
fn scan_all(blocks: &[Vec<u8>], fields: &mut LineFields) -> usize {
    blocks
        .iter()
        .map(|block| {
            fields.scan(black_box(block), b';', 2, usize::MAX);
            fields.rows()
        })
        .sum()
}

/// The scan before the bitmask finders, as it was (its field ends rather
/// than starts, which costs the same).
mod before {
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);

    fn zero_bytes(word: u64) -> u64 {
        !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
    }

    /// The old `Marks`: a word at a time.
    struct Marks<'a> {
        bytes: &'a [u8],
        at: usize,
        pending: u64,
        delimiter: u64,
    }

    impl<'a> Marks<'a> {
        fn new(bytes: &'a [u8], delimiter: u8) -> Marks<'a> {
            let delimiter = u64::from_ne_bytes([delimiter; 8]);
            let mut marks = Marks {
                bytes,
                at: 0,
                pending: 0,
                delimiter,
            };
            marks.pending = marks.word_marks(0);
            marks
        }

        #[inline]
        fn word_marks(&self, at: usize) -> u64 {
            let word = match self.bytes.get(at..at + 8) {
                Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
                None => {
                    let mut tail = [0u8; 8];
                    let rest = self.bytes.get(at..).unwrap_or_default();
                    tail[..rest.len()].copy_from_slice(rest);
                    let pad = if self.delimiter as u8 == 0 { 1 } else { 0 };
                    for b in &mut tail[rest.len()..] {
                        *b = pad;
                    }
                    u64::from_le_bytes(tail)
                }
            };
            zero_bytes(word ^ u64::from_ne_bytes([b'\n'; 8])) | zero_bytes(word ^ self.delimiter)
        }
    }

    impl Iterator for Marks<'_> {
        type Item = usize;

        #[inline]
        fn next(&mut self) -> Option<usize> {
            while self.pending == 0 {
                self.at += 8;
                if self.at >= self.bytes.len() {
                    return None;
                }
                self.pending = self.word_marks(self.at);
            }
            let byte = self.pending.trailing_zeros() as usize / 8;
            self.pending &= self.pending - 1;
            Some(self.at + byte)
        }
    }

    /// The old `LineFields::scan`; the rows kept.
    pub fn scan(bounds: &mut Vec<u32>, bytes: &[u8], delimiter: u8, width: usize) -> usize {
        bounds.clear();
        let (mut rows, mut consumed, mut line) = (0, 0, 0);
        bounds.push(0);
        for at in Marks::new(bytes, delimiter) {
            bounds.push(at as u32);
            if bytes[at] != b'\n' {
                continue;
            }
            let fields = bounds.len() - line - 1;
            if at == consumed {
                bounds.truncate(line);
            } else if fields != width {
                bounds.truncate(line);
                return rows;
            } else {
                rows += 1;
                line = bounds.len();
            }
            consumed = at + 1;
            bounds.push(consumed as u32);
        }
        bounds.truncate(line);
        rows
    }
}

/// Counts the marks of a block with the finder `Scanner::run` gives.
struct CountMarks<'a>(&'a [u8]);

impl WithFinder for CountMarks<'_> {
    type Output = usize;

    #[inline(always)]
    fn with<F: Finder>(self, finder: F) -> usize {
        Marks::with(self.0, finder).count()
    }
}

/// Walks the marks of every block; how many.
fn marks_all(blocks: &[Vec<u8>], scanner: Scanner) -> usize {
    blocks
        .iter()
        .map(|block| scanner.run(b';', CountMarks(black_box(block))))
        .sum()
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    let lines = if timed { 4_000_000 } else { 100_000 };
    let blocks = text(lines);
    let bytes: usize = blocks.iter().map(Vec::len).sum();
    let scanners = Scanner::all();
    println!(
        "Line scan: {lines} lines, {:.1} MB in 64 KiB blocks, {:.1} bytes a line; finders {scanners:?}.",
        bytes as f64 / 1e6,
        bytes as f64 / lines as f64
    );

    // The answers first: the same rows by every finder, the same marks as
    // a byte count.
    let schema = Schema::new(vec![
        Field::new("station", DataType::Utf8),
        Field::new("temperature", DataType::Float64),
    ]);
    let fallback = decode_all(&blocks, Scanner::Swar, &schema);
    let expected = (
        support::checksum(&fallback),
        support::column_sum(&fallback, 1),
    );
    assert_eq!(fallback.iter().map(|b| b.len).sum::<usize>(), lines);
    let marks: usize = blocks
        .iter()
        .map(|b| b.iter().filter(|&&c| c == b';' || c == b'\n').count())
        .sum();
    for &scanner in &scanners {
        let batches = decode_all(&blocks, scanner, &schema);
        let got = (
            support::checksum(&batches),
            support::column_sum(&batches, 1),
        );
        assert_eq!(got, expected, "{scanner:?} decodes other rows");
        assert_eq!(
            marks_all(&blocks, scanner),
            marks,
            "{scanner:?} finds other marks"
        );
    }
    println!("Check: every finder decodes the same {lines} rows and finds all {marks} marks.");
    if !timed {
        println!("Check mode: nothing timed (run `cargo bench --bench scan`).");
        return;
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "Load average at start: {}",
            load.split_whitespace().next().unwrap_or("?")
        );
    }

    let trials = support::trials();
    let mut scan_ns = vec![Vec::new(); scanners.len()];
    let mut marks_ns = vec![Vec::new(); scanners.len()];
    let mut before_ns = Vec::new();
    let mut decode_ns = Vec::new();
    let mut bounds = Vec::new();
    let mut batch = Batch::with_capacity(&schema, 0);
    for _ in 0..trials {
        let start = Instant::now();
        let rows: usize = blocks
            .iter()
            .map(|block| before::scan(&mut bounds, black_box(block), b';', 2))
            .sum();
        assert_eq!(rows, lines);
        before_ns.push(start.elapsed().as_nanos() as f64 / lines as f64);
        for (i, &scanner) in scanners.iter().enumerate() {
            let mut fields = LineFields::with_scanner(scanner);
            let start = Instant::now();
            assert_eq!(scan_all(&blocks, &mut fields), lines);
            scan_ns[i].push(start.elapsed().as_nanos() as f64 / lines as f64);
            let start = Instant::now();
            assert_eq!(marks_all(&blocks, scanner), marks);
            marks_ns[i].push(start.elapsed().as_nanos() as f64 / lines as f64);
        }
        // The best finder's scan, then the columns decoded.
        let best = scanners[scanners.len() - 1];
        let mut fields = LineFields::with_scanner(best);
        let start = Instant::now();
        assert_eq!(
            scan_decode_all(&blocks, &mut fields, &schema, &mut batch),
            lines
        );
        decode_ns.push(start.elapsed().as_nanos() as f64 / lines as f64);
    }
    let scan_ns: Vec<f64> = scan_ns.into_iter().map(support::median).collect();
    let marks_ns: Vec<f64> = marks_ns.into_iter().map(support::median).collect();
    let before_ns = support::median(before_ns);
    println!("Median of {trials} trials, ns per line (ratio to SWAR):");
    println!(
        "  before (e434b41) LineFields::scan {before_ns:6.2} ({:4.2}x)",
        scan_ns[0] / before_ns
    );
    for (i, scanner) in scanners.iter().enumerate() {
        // `Avx2(Avx2Detected(()))` as `AVX2`.
        let name = format!("{scanner:?}");
        let name = name.split('(').next().unwrap_or_default().to_uppercase();
        println!(
            "  {name:<16} LineFields::scan {:6.2} ({:4.2}x; {:4.2}x faster than before)   \
             Marks {:6.2} ({:4.2}x)",
            scan_ns[i],
            scan_ns[0] / scan_ns[i],
            before_ns / scan_ns[i],
            marks_ns[i],
            marks_ns[0] / marks_ns[i],
        );
    }
    println!(
        "  {:<16} LineFields::scan, then decode {:6.2}",
        "best",
        support::median(decode_ns)
    );
}
