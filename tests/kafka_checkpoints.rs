//! Checkpoints over a Kafka input, against a real Kafka-protocol broker:
//! runs killed with SIGKILL and run again give exactly the output of a run
//! over the same records read from a file, and the group's offsets are
//! committed with the checkpoints (see `kafka_broker` for the broker).

mod kafka_broker;
mod kills;
mod process;

use kafka_broker::{broker, create_topic, produce, topic};
use kills::{newest, rows, spawn, stderr_of, wait_running};
use process::{corestream, temp_file, TempPath};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::path::Path;
use std::time::Duration;

const SCHEMA: &str = "k VARCHAR, v BIGINT, ts BIGINT";
const WINDOWS: &str = "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s, \
     MAX(v) AS m FROM t GROUP BY k, HOP(ts, INTERVAL '10' SECOND, INTERVAL '30' SECOND) \
     EMIT FINAL";

/// `n` keyed records `k,v,ts` (keyed by `k`), event times running up with
/// up to 2 s of jitter: within the 3 s bound in any partition.
fn records(n: u64) -> Vec<(String, String)> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ts = 1_700_000_000_000 + i as i64 * 10 - (x % 2000) as i64;
            let k = format!("k{}", x % 97);
            let row = format!("{k},{},{ts}", (x >> 20) % 100);
            (k, row)
        })
        .collect()
}

/// The arguments of a run over `input` into `out`, checkpointing into `ck`.
fn args(input: &str, out: &Path, ck: Option<&Path>, cores: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "run",
        "--sql",
        WINDOWS,
        "--input",
        input,
        "--schema",
        SCHEMA,
        "--event-time",
        "ts",
        "--max-out-of-orderness",
        "3s",
        "--batch-size",
        "64",
        "--cores",
        cores,
        "-q",
        "--output",
    ]
    .map(String::from)
    .to_vec();
    a.push(out.display().to_string());
    if let Some(ck) = ck {
        a.extend(["--checkpoint-dir".into(), ck.display().to_string()]);
        a.extend(["--checkpoint-interval".into(), "5ms".into()]);
    }
    a
}

/// The query's rows over the same records read from a file.
fn reference(records: &[(String, String)], tag: &str) -> Vec<String> {
    let mut csv = String::from("k,v,ts\n");
    for (_, row) in records {
        csv.push_str(row);
        csv.push('\n');
    }
    let file = temp_file(&format!("{tag}.csv"), csv);
    let out = TempPath::new(&format!("{tag}-ref"));
    let a = args(file.str(), &out.0, None, "0-1");
    corestream(&a.iter().map(String::as_str).collect::<Vec<_>>()).assert_success();
    rows(&out.0)
}

/// The offsets group `group` has committed on `topic`'s `partitions`.
fn committed(topic: &str, group: &str, partitions: i32) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1,
        })
        .collect()
}

/// Produces `n` records to a new topic of `partitions`; the topic's name.
fn topic_with(tag: &str, partitions: i32, records: &[(String, String)]) -> String {
    let t = topic(tag);
    create_topic(&t, partitions);
    produce(&t, records);
    t
}

/// How many records the newest checkpoint in `ck` has read (the sum of
/// its Kafka partitions' offsets); 0 before the first.
fn checkpointed_records(ck: &Path) -> i64 {
    let n = newest(ck);
    let Ok(text) = std::fs::read_to_string(ck.join(format!("manifest-{n:010}.json"))) else {
        return 0;
    };
    let json = text.rsplit_once("\ncrc32").map_or(&text[..], |(j, _)| j);
    let manifest: serde_json::Value = serde_json::from_str(json).expect("a manifest");
    // Each partition's furthest offset over the readers (a resumed reader
    // holds every partition's); none in the manifest of a finished run.
    let readers = manifest["inputs"][0].as_array().into_iter().flatten();
    let offsets = readers.filter_map(|r| r["position"]["Kafka"]["offsets"].as_object());
    let mut furthest = std::collections::BTreeMap::<&str, i64>::new();
    for (partition, offset) in offsets.flatten() {
        let at = furthest.entry(partition).or_default();
        *at = (*at).max(offset.as_i64().unwrap_or(0));
    }
    furthest.values().sum()
}

/// Runs a query over a topic that grows while it runs, killing it with
/// SIGKILL `kills` times: each run reads the topic without end (so it
/// cannot finish before its kill, however fast it reads), a new slice of
/// `records` is produced once it is running, and it is killed once a
/// checkpoint has read half of that slice. Runs alternate two cores and
/// one; the last reads to the topic's end (`stop=end`) and must succeed.
fn run_with_kills(
    t: &str,
    records: &[(String, String)],
    args: impl Fn(&str, &str) -> Vec<String>,
    ck: &Path,
    kills: usize,
) {
    let slice = records.len() / (kills + 1);
    let endless = format!("kafka://{}/{t}?format=csv", broker());
    for (run, part) in records.chunks(slice).take(kills).enumerate() {
        let cores = ["0-1", "0"][run % 2];
        let mut child = spawn(&args(&endless, cores), None);
        produce(t, part);
        let point = (run * slice + slice / 2) as i64;
        let running = wait_running(&mut child, || checkpointed_records(ck) >= point);
        assert!(running, "run {run} ended: {}", stderr_of(&mut child));
        child.kill().expect("the run is killed");
        let status = child.wait().expect("the child ends");
        assert!(status.code().is_none(), "{}", stderr_of(&mut child));
    }
    produce(t, &records[kills * slice..]);
    let to_end = format!("{endless}&stop=end");
    let a = args(&to_end, ["0-1", "0"][kills % 2]);
    corestream(&a.iter().map(String::as_str).collect::<Vec<_>>()).assert_success();
}

#[test]
fn a_kafka_input_is_exact_across_kills_and_core_counts() {
    check_exact_after_kills("kck", 1);
}

#[test]
fn two_readers_of_a_topic_are_exact_across_kills_and_core_counts() {
    check_exact_after_kills("kck2", 2);
}

/// Kills and restarts a run over a topic of 3 partitions read by `readers`,
/// whose part files must then equal a run over the same records in a file.
fn check_exact_after_kills(tag: &str, readers: usize) {
    let records = records(20_000);
    let want = reference(&records, tag);
    assert!(want.len() > 97, "the reference has rows");
    let t = topic(tag);
    create_topic(&t, 3);
    let (out, ck) = (
        TempPath::new(&format!("{tag}-out")),
        TempPath::new(&format!("{tag}-ck")),
    );
    let args = |url: &str, cores: &str| {
        let mut a = args(url, &out.0, Some(&ck.0), cores);
        a.extend(["--readers".into(), readers.to_string()]);
        a
    };
    run_with_kills(&t, &records, args, &ck.0, 4);
    let got = rows(&out.0);
    assert_eq!(got.len(), want.len(), "rows after 4 kills");
    assert!(got == want, "the rows differ after 4 kills");
}

#[test]
fn a_group_commits_with_checkpoints_and_its_offsets_reach_the_end_when_finished() {
    let records = records(6_000);
    let want = reference(&records, "kgrp");
    let t = topic_with("kgrp", 2, &records);
    let group = format!("g-{t}");
    let url = format!(
        "kafka://{}/{t}?group={group}&stop=end&format=csv&session.timeout.ms=6000",
        broker()
    );
    let (out, ck) = (TempPath::new("kgrp-out"), TempPath::new("kgrp-ck"));
    // Killed after a checkpoint: the group's offsets are a checkpoint's,
    // never past what the checkpoints hold.
    let mut child = spawn(&args(&url, &out.0, Some(&ck.0), "0-1"), None);
    if wait_running(&mut child, || checkpointed_records(&ck.0) >= 2_000) {
        let _ = child.kill();
    }
    let status = child.wait().expect("the child ends");
    let stderr = stderr_of(&mut child);
    assert!(status.code().is_none() || status.success(), "{stderr}");
    let total: i64 = committed(&t, &group, 2).iter().map(|&o| o.max(0)).sum();
    assert!(total <= records.len() as i64, "committed {total}");
    // Run again to the end: exact, and the group's offsets at the end.
    let a = args(&url, &out.0, Some(&ck.0), "0");
    let ran = corestream(&a.iter().map(String::as_str).collect::<Vec<_>>());
    ran.assert_success();
    assert!(rows(&out.0) == want, "the rows differ: {}", ran.context());
    let total: i64 = committed(&t, &group, 2).iter().sum();
    assert_eq!(
        total,
        records.len() as i64,
        "the group's offsets are at the end"
    );
}
