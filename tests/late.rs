//! Late records: counted and dropped by default; with the side output also
//! written, unchanged, to a per-shard file. Never folded into a closed window.

mod process;

use corestream::io::late::LatePolicy;
use corestream::io::sink::OutputSpec;
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::Engine;
use process::TempPath;
use std::process::Command;
use std::time::Duration;

/// Event times in ms. A record is late when it is behind the watermark the
/// records before it produced (max seen, no out-of-orderness allowed): the
/// watermark is 5000 when `2000,a,3` comes, so it is late, whatever the
/// batch size (the router cuts a batch before such a row). `12000,b,5`
/// closes the first window.
const CSV: &str = "ts,k,v\n1000,a,1\n5000,a,2\n2000,a,3\n12000,b,5\n3000,b,6\n";
const SQL: &str = "SELECT k, window_start, COUNT(*) AS n, SUM(v) AS total FROM s \
                   GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)";

/// An empty directory under the temp directory, removed when dropped.
fn temp_dir(tag: &str) -> TempPath {
    let dir = TempPath::new(tag);
    std::fs::create_dir_all(&dir.0).unwrap();
    dir
}

/// Every data line of the late files in `dir`, sorted; each file starts with the input header.
fn late_lines(dir: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("late-") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut it = text.lines();
        assert_eq!(
            it.next(),
            Some("ts,k,v"),
            "{name} starts with the input header"
        );
        lines.extend(it.map(str::to_owned));
    }
    lines.sort();
    lines
}

#[test]
fn late_rows_go_to_the_side_output_unchanged_and_never_into_a_window() {
    let tmp = temp_dir("api");
    let input = tmp.0.join("in.csv");
    std::fs::write(&input, CSV).unwrap();
    let late_dir = tmp.0.join("late");
    for (cores, batch_size) in [("0", 1), ("0-1", 1), ("0", 4096), ("0-1", 2)] {
        let _ = std::fs::remove_dir_all(&late_dir);
        let out = Engine::builder()
            .sql(SQL)
            .input(input.to_str().unwrap())
            .cores(CoreSet::from_list(cores, &CoreSet::online_cpus().unwrap()).unwrap())
            .event_time("ts")
            .batching(Batching {
                batch_size,
                linger: Duration::from_millis(1),
            })
            .late(LatePolicy::SideOutput(late_dir.clone()))
            .output(OutputSpec::Collect)
            .build()
            .unwrap()
            .run()
            .unwrap();
        let total = out.summary.total();
        assert_eq!(
            total.late, 2,
            "2000 and 3000 arrive behind the watermark (batch size {batch_size})"
        );
        assert_eq!(total.processed, 3);
        let mut rows: Vec<String> = out
            .collected
            .iter()
            .flatten()
            .flat_map(|b| {
                (0..b.len).map(move |i| {
                    let cells: Vec<String> =
                        b.columns.iter().map(|c| c.value(i).to_string()).collect();
                    cells.join(",")
                })
            })
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                "a,1970-01-01T00:00:00.000Z,2,3",
                "b,1970-01-01T00:00:10.000Z,1,5"
            ],
            "cores {cores}, batch size {batch_size}"
        );
        assert_eq!(
            late_lines(&late_dir),
            ["2000,a,3", "3000,b,6"],
            "cores {cores}, batch size {batch_size}"
        );
    }
}

#[test]
fn the_cli_drops_late_rows_by_default_and_writes_them_with_side_output() {
    let tmp = temp_dir("cli");
    let input = tmp.0.join("in.csv");
    std::fs::write(&input, CSV).unwrap();
    let run = |extra: &[&str]| {
        let out_dir = tmp.0.join("out");
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut args = vec![
            "run",
            "--sql",
            SQL,
            "--input",
            input.to_str().unwrap(),
            "--event-time",
            "ts",
            "--batch-size",
            "1",
            "--cores",
            "0-1",
            "--output",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = Command::new(process::BIN).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (out_dir, stderr)
    };
    let (out_dir, stderr) = run(&[]);
    assert!(late_lines(&out_dir).is_empty(), "no late files by default");
    assert!(stderr.contains("late"), "{stderr}");

    let (out_dir, _) = run(&["--late", "side-output"]);
    assert_eq!(late_lines(&out_dir), ["2000,a,3", "3000,b,6"]);

    let elsewhere = tmp.0.join("elsewhere");
    let (_, _) = run(&[
        "--late",
        "side-output",
        "--late-dir",
        elsewhere.to_str().unwrap(),
    ]);
    assert_eq!(late_lines(&elsewhere), ["2000,a,3", "3000,b,6"]);
}
