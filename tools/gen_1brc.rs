//! One Billion Row Challenge input, and the bare parse loop it is measured against.
//!
//! ```text
//! gen-1brc ROWS [--csv] [--seed N] [-o FILE]   write ROWS measurements (default: stdout)
//! gen-1brc --baseline FILE [-o ANSWER]         time a bare single-threaded parse + aggregate
//! ```
//!
//! The output is deterministic for a seed: 400 station names (4 to 19 bytes,
//! about 9 on average, as the challenge's real names), each with its
//! own mean temperature, and readings with one decimal in -99.9..=99.9. The
//! default form is the challenge's `station;temperature` lines with no
//! header; `--csv` writes a `station,temperature` header and comma-separated
//! lines, the form corestream's CSV source reads today.
//!
//! `--baseline` reads the whole file (either form), splits lines, parses each
//! temperature with `str::parse::<f64>` and keeps min/sum/count/max per station
//! in a hashbrown table: what the 1BRC query does, in one plain loop on one
//! thread. It prints one `key=value` line for `tools/bench`, and with `-o`
//! writes its answer (`station,min,avg,max` lines, unordered) for checking
//! the engine's.

use hashbrown::HashMap;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::io::Write;
use std::time::Instant;

const STATIONS: usize = 400;
const SYLLABLES: [&str; 20] = [
    "ka", "lo", "mi", "ra", "to", "na", "be", "su", "vi", "do", "ge", "ha", "ju", "pe", "ri", "so",
    "ta", "ul", "we", "zo",
];

/// 400 distinct names, a capital first, of lengths like the challenge's
/// real station names (4 to 19 bytes, about 9 on average, one in twenty
/// longer than 15): 2 to 6 syllables, a second word for one in twenty, and a
/// non-ASCII first letter (two UTF-8 bytes) for one in nine.
fn station_names() -> Vec<String> {
    (0..STATIONS)
        .map(|i| {
            // Distinct whatever follows: (a, b) is unique per i < 400.
            let (a, b) = (i % 20, (i / 20) % 20);
            let mut name = format!("{}{}", SYLLABLES[a], SYLLABLES[b]);
            for k in 0..(i * 7 + 3) % 5 {
                name.push_str(SYLLABLES[(i * 3 + k * 5 + 1) % 20]);
            }
            if i % 20 == 0 {
                name.push(' ');
                for k in [11, 13, 17] {
                    name.push_str(SYLLABLES[(i * k + 5) % 20]);
                }
            }
            let mut chars = name.chars();
            let first = chars
                .next()
                .map_or(String::new(), |f| f.to_uppercase().collect());
            let prefix = if i % 9 == 0 { "Ü" } else { "" };
            format!("{prefix}{first}{}", chars.as_str())
        })
        .collect()
}

fn generate(rows: u64, csv: bool, seed: u64, out: &mut dyn Write) -> std::io::Result<()> {
    let names = station_names();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // Mean temperature per station in tenths, -300..=300.
    let means: Vec<i64> = (0..STATIONS)
        .map(|_| (rng.next_u64() % 601) as i64 - 300)
        .collect();
    let sep = if csv { b',' } else { b';' };
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    if csv {
        buf.extend_from_slice(b"station,temperature\n");
    }
    for _ in 0..rows {
        let r = rng.next_u64();
        let s = (r % STATIONS as u64) as usize;
        // Spread of +-25.0 around the mean (a sum of two uniforms), clamped.
        let noise = ((r >> 16) % 251) as i64 + ((r >> 32) % 251) as i64 - 250;
        let t = (means[s] + noise).clamp(-999, 999);
        buf.extend_from_slice(names[s].as_bytes());
        buf.push(sep);
        if t < 0 {
            buf.push(b'-');
        }
        let a = t.unsigned_abs();
        let mut int = itoa::Buffer::new();
        buf.extend_from_slice(int.format(a / 10).as_bytes());
        buf.push(b'.');
        buf.push(b'0' + (a % 10) as u8);
        buf.push(b'\n');
        if buf.len() >= (1 << 20) - 64 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

#[derive(Clone, Copy)]
struct Stat {
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
}

fn baseline(path: &str, answer: Option<&str>) -> std::io::Result<()> {
    let start = Instant::now();
    let data = std::fs::read(path)?;
    let mut lines = data.split(|&c| c == b'\n').filter(|l| !l.is_empty());
    let first = lines.clone().next().unwrap_or_default();
    let sep = if first.contains(&b';') {
        b';'
    } else {
        lines.next(); // the CSV header
        b','
    };
    let mut table: HashMap<&[u8], Stat, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(1024, foldhash::fast::FixedState::with_seed(1));
    let mut rows = 0u64;
    for line in lines {
        let at = line.iter().rposition(|&c| c == sep).unwrap_or(0);
        let (station, temp) = (&line[..at], &line[at + 1..]);
        let t: f64 = std::str::from_utf8(temp)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        let s = table.entry(station).or_insert(Stat {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            count: 0,
        });
        s.min = s.min.min(t);
        s.max = s.max.max(t);
        s.sum += t;
        s.count += 1;
        rows += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Some(answer) = answer {
        let mut out = std::io::BufWriter::new(std::fs::File::create(answer)?);
        for (station, s) in &table {
            let station = String::from_utf8_lossy(station);
            let avg = s.sum / s.count as f64;
            writeln!(out, "{station},{},{avg},{}", s.min, s.max)?;
        }
        out.flush()?;
    }
    let checksum: f64 = table
        .values()
        .map(|s| s.min + s.max + s.sum / s.count as f64)
        .sum();
    println!(
        "rows={rows} bytes={} seconds={seconds:.6} rows_per_s={:.0} mb_per_s={:.1} stations={} checksum={checksum:.3}",
        data.len(),
        rows as f64 / seconds,
        data.len() as f64 / seconds / 1e6,
        table.len()
    );
    Ok(())
}

fn usage() -> ! {
    eprintln!(
        "usage: gen-1brc ROWS [--csv] [--seed N] [-o FILE] | gen-1brc --baseline FILE [-o ANSWER]"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut rows, mut csv, mut seed, mut output, mut base) = (None, false, 1u64, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--csv" => csv = true,
            "--seed" => {
                seed = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "-o" | "--output" => output = Some(it.next().unwrap_or_else(|| usage()).clone()),
            "--baseline" => base = Some(it.next().unwrap_or_else(|| usage()).clone()),
            n => {
                rows = Some(
                    n.replace('_', "")
                        .parse::<u64>()
                        .unwrap_or_else(|_| usage()),
                )
            }
        }
    }
    let result = match (base, rows) {
        (Some(path), None) => baseline(&path, output.as_deref()),
        (None, Some(rows)) => match output {
            Some(path) => std::fs::File::create(&path)
                .and_then(|f| generate(rows, csv, seed, &mut std::io::BufWriter::new(f))),
            None => generate(rows, csv, seed, &mut std::io::stdout().lock()),
        },
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("gen-1brc: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn four_hundred_distinct_stations() {
        let mut names = super::station_names();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), super::STATIONS);
    }
}
