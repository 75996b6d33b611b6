//! Kafka in and out, against a real Kafka-protocol broker on 127.0.0.1.
//!
//! The broker is found or started by [`kafka_broker::broker`].
//!
//! Each test makes its own topics (names unique to the process and test) and
//! produces its own records, one record per batch: tansu 0.6 reports a
//! partition's end offset as the base offset of its last batch + 1, which is
//! exact only then. A watchdog kills a hung `corestream` after 60 s.

mod kafka_broker;
mod process;

use kafka_broker::{broker, consume, create_topic, produce, produce_to, topic};
use process::{accounting, corestream, spawn, temp_file, Ran};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SCHEMA: &str =
    "event_time BIGINT, trader_id VARCHAR, symbol VARCHAR, price DOUBLE, quantity BIGINT";
const HEADER: &str = "event_time,trader_id,symbol,price,quantity";
/// Integer aggregates and MIN/MAX: the same whatever order rows arrive in.
const QUERY: &str = "SELECT trader_id, symbol, COUNT(*) AS n, SUM(quantity) AS qty, \
    MIN(price) AS lo, MAX(price) AS hi FROM trades GROUP BY trader_id, symbol EMIT FINAL";
const OUT_HEADER: &str = "trader_id,symbol,n,qty,lo,hi";

/// `n` trade records (CSV, no header), keyed by trader.
fn trades(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let trader = format!("T{}", i % 7);
            let row = format!(
                "{},{trader},S{},{}.5,{}",
                1_700_000_000_000u64 + i as u64,
                i % 5,
                (i * 37) % 1000,
                i % 13 + 1
            );
            (trader, row)
        })
        .collect()
}

/// The query over the same records read from a CSV file: the reference.
fn file_run(records: &[(String, String)]) -> Vec<String> {
    let mut csv = format!("{HEADER}\n");
    for (_, v) in records {
        csv.push_str(v);
        csv.push('\n');
    }
    let file = temp_file(&format!("{}.csv", topic("ref")), csv);
    let ran = corestream(&[
        "run",
        "--input",
        file.str(),
        "--schema",
        SCHEMA,
        "--sql",
        QUERY,
        "--cores",
        "0",
    ]);
    ran.assert_success();
    sorted(ran.rows(OUT_HEADER))
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

fn kafka_run(url: &str, extra: &[&str]) -> Ran {
    let mut args = vec!["run", "--input", url, "--schema", SCHEMA, "--sql", QUERY];
    args.extend_from_slice(extra);
    corestream(&args)
}

#[test]
fn a_topic_read_to_its_end_gives_what_the_same_rows_from_a_file_give() {
    let t = topic("src");
    create_topic(&t, 3);
    let records = trades(1500);
    produce(&t, &records);
    let url = format!("kafka://{}/{t}?stop=end&format=csv", broker());
    let ran = kafka_run(&url, &[]);
    ran.assert_success();
    assert_eq!(
        sorted(ran.rows(OUT_HEADER)),
        file_run(&records),
        "{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("1500"),
        "the summary counts 1500 records: {}",
        ran.context()
    );
}

#[test]
fn a_consumer_group_commits_what_it_read_and_the_next_run_resumes_there() {
    let t = topic("grp");
    create_topic(&t, 2);
    let first = trades(400);
    produce(&t, &first);
    let url = format!(
        "kafka://{}/{t}?group=g-{t}&stop=end&session.timeout.ms=6000",
        broker()
    );
    let ran = kafka_run(&url, &[]);
    ran.assert_success();
    assert_eq!(sorted(ran.rows(OUT_HEADER)), file_run(&first));
    // New records only: the group's committed offsets are where they start.
    let second: Vec<_> = trades(600).into_iter().skip(400).collect();
    produce(&t, &second);
    let ran = kafka_run(&url, &[]);
    ran.assert_success();
    assert_eq!(
        sorted(ran.rows(OUT_HEADER)),
        file_run(&second),
        "{}",
        ran.context()
    );
}

#[test]
fn kafka_in_and_kafka_out_keyed_by_the_group_key() {
    let (input, output) = (topic("in"), topic("out"));
    create_topic(&input, 2);
    create_topic(&output, 2);
    let records = trades(700);
    produce(&input, &records);
    let expected = file_run(&records);
    let ran = kafka_run(
        &format!("kafka://{}/{input}?stop=end", broker()),
        &[
            "--output",
            &format!("kafka://{}/{output}?format=csv", broker()),
        ],
    );
    ran.assert_success();
    let messages = consume(&output, expected.len());
    for (key, value) in &messages {
        let mut fields = value.split(',');
        let want = format!("{},{}", fields.next().unwrap(), fields.next().unwrap());
        assert_eq!(key, &want, "keyed by trader_id,symbol");
    }
    let values = sorted(messages.into_iter().map(|(_, v)| v).collect());
    assert_eq!(values, expected);
}

#[test]
fn a_malformed_message_is_named_by_topic_partition_and_offset() {
    let t = topic("bad");
    create_topic(&t, 1);
    let mut records = trades(5);
    records[3].1 = "1700000000000,T1,S1,not-a-price,2".into();
    produce(&t, &records);
    let url = format!("kafka://{}/{t}?stop=end", broker());
    let ran = kafka_run(&url, &["--on-error", "fail"]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains(&format!("{t} partition 0 at offset 3")),
        "{}",
        ran.context()
    );
    // Skipped, it is counted.
    let ran = kafka_run(&url, &["--on-error", "skip"]);
    ran.assert_success();
    assert!(ran.stderr.contains("malformed"), "{}", ran.context());
}

#[test]
fn a_topic_that_does_not_exist_is_a_clear_error() {
    broker();
    let t = topic("missing");
    let ran = kafka_run(&format!("kafka://{}/{t}?stop=end", broker()), &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(ran.stderr.contains("does not exist"), "{}", ran.context());
    assert!(ran.stderr.contains(&t), "{}", ran.context());
}

#[test]
fn a_broker_that_is_not_there_is_a_clear_error_within_a_bounded_time() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let (child, watchdog) = spawn(
        &[
            "run",
            "--input",
            &format!("kafka://127.0.0.1:{port}/t?stop=end&timeout=2s"),
            "--schema",
            SCHEMA,
            "--sql",
            QUERY,
        ],
        Stdio::null(),
    );
    let ran = Ran::from(child.wait_with_output().unwrap());
    assert!(!watchdog.disarm(), "killed by the watchdog");
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains("cannot reach the broker"),
        "{}",
        ran.context()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
/// The union of two members' EMIT FINAL outputs is the reference: no record
/// lost or counted twice between them. How the partitions are split depends
/// on when each joins: against tansu 0.6 the first member often gets every
/// partition and finishes before the second is assigned any (the second then
/// resumes at the first's commits and reads nothing), so this does not yet
/// show a split of the work, only that membership changes lose nothing.
fn two_processes_in_one_group_share_a_keyed_topic_without_loss_or_double_counting() {
    let t = topic("split");
    create_topic(&t, 4);
    let records = trades(1200);
    produce(&t, &records);
    // Keyed by trader: every row of a group key is in one partition, so
    // one member sees all of a key's rows.
    let query = "SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS qty FROM trades \
        GROUP BY trader_id EMIT FINAL";
    let url = format!(
        "kafka://{}/{t}?group=g-{t}&stop=end&session.timeout.ms=6000",
        broker()
    );
    let args = [
        "run",
        "--input",
        url.as_str(),
        "--schema",
        SCHEMA,
        "--sql",
        query,
    ];
    let (a, wa) = spawn(&args, Stdio::null());
    let (b, wb) = spawn(&args, Stdio::null());
    let (ra, rb) = (
        Ran::from(a.wait_with_output().unwrap()),
        Ran::from(b.wait_with_output().unwrap()),
    );
    assert!(!wa.disarm() && !wb.disarm(), "killed by the watchdog");
    ra.assert_success();
    rb.assert_success();
    // Which member read what depends on the group's assignment: shown, not asserted.
    for r in [&ra, &rb] {
        let read = r
            .stderr
            .lines()
            .find(|l| l.trim_start().starts_with("total"))
            .unwrap_or("");
        eprintln!("member: {read}");
    }
    let mut union: Vec<String> = ra.rows("trader_id,n,qty");
    union.extend(rb.rows("trader_id,n,qty"));
    // The reference: every record once.
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (_, v) in &records {
        let f: Vec<&str> = v.split(',').collect();
        let e = expected.entry(f[1].to_string()).or_default();
        e.0 += 1;
        e.1 += f[4].parse::<u64>().unwrap();
    }
    let expected: Vec<String> = expected
        .into_iter()
        .map(|(k, (n, q))| format!("{k},{n},{q}"))
        .collect();
    assert_eq!(
        sorted(union),
        expected,
        "a:\n{}\nb:\n{}",
        ra.context(),
        rb.context()
    );
}

/// Per (symbol, 10 s window of `time`): the smallest `first` and the count,
/// as `symbol,first,n` rows, sorted: what the windowed queries below give.
fn window_counts(rows: impl IntoIterator<Item = (String, i64, i64)>) -> Vec<String> {
    let mut windows: BTreeMap<(String, i64), (i64, u64)> = BTreeMap::new();
    for (symbol, time, first) in rows {
        let w = windows
            .entry((symbol, time.div_euclid(10_000)))
            .or_insert((i64::MAX, 0));
        w.0 = w.0.min(first);
        w.1 += 1;
    }
    sorted(
        windows
            .into_iter()
            .map(|((symbol, _), (first, n))| format!("{symbol},{first},{n}"))
            .collect(),
    )
}

/// Waits (up to 30 s) until `group` has committed `offset` for `partition`
/// of `topic`: the records before it were read and routed.
fn wait_committed(topic: &str, group: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let committed = consumer
            .committed_offsets(tpl.clone(), Duration::from_secs(5))
            .ok()
            .and_then(|c| c.find_partition(topic, partition).map(|e| e.offset()));
        if committed == Some(Offset::Offset(offset)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{group} committed {committed:?} for {topic} partition {partition}, not {offset}"
        );
        // The broker is asked again: nothing here can wake this thread sooner.
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

#[test]
/// Two partitions read at different speeds: partition 0's records, an hour
/// ahead in event time, are all read before partition 1's are written. With
/// one watermark over both (the largest event time read, less the bound)
/// every record of partition 1 was late and dropped (checked: 200 late);
/// with the smallest of the partitions' watermarks, partition 1 holds the
/// watermark back until it sends, none is late, and every window counts
/// every record.
fn the_watermark_is_the_slowest_partitions_so_no_record_within_the_bound_is_late() {
    let t = topic("wm");
    create_topic(&t, 2);
    let base = 1_700_000_000_000i64;
    let record = |p: i32, i: i64| {
        let time = base + (1 - p as i64) * 3_600_000 + i * 250;
        (p, time, format!("{time},T{i},S{},1.5,1", i % 3))
    };
    let partition = |p: i32| (0..200).map(move |i| record(p, i)).collect::<Vec<_>>();
    let (fast, slow) = (partition(0), partition(1));
    let messages = |records: &[(i32, i64, String)]| {
        records
            .iter()
            .map(|(p, _, v)| (*p, None, v.clone()))
            .collect::<Vec<_>>()
    };
    let expected = window_counts(
        fast.iter()
            .chain(&slow)
            .map(|(_, time, v)| (v.split(',').nth(2).unwrap().to_string(), *time, *time)),
    );
    produce_to(&t, &messages(&fast));
    let group = format!("g-{t}");
    let url = format!(
        "kafka://{}/{t}?group={group}&format=csv&session.timeout.ms=6000&auto.commit.interval.ms=100",
        broker()
    );
    let query = "SELECT symbol, MIN(event_time) AS first, COUNT(*) AS n FROM trades \
        GROUP BY symbol, TUMBLE(event_time, INTERVAL '10' SECOND) EMIT FINAL";
    let (child, watchdog) = spawn(
        &[
            "run",
            "--input",
            &url,
            "--schema",
            SCHEMA,
            "--event-time",
            "event_time",
            "--max-out-of-orderness",
            "1s",
            "--sql",
            query,
        ],
        Stdio::null(),
    );
    // Partition 0 read and routed, then partition 1 written and read.
    wait_committed(&t, &group, 0, 200);
    produce_to(&t, &messages(&slow));
    wait_committed(&t, &group, 1, 200);
    // SAFETY: kill(2) takes plain integers; the child is not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let ran = Ran::from(child.wait_with_output().unwrap());
    assert!(!watchdog.disarm(), "killed by the watchdog");
    assert_eq!(ran.code, Some(143), "{}", ran.context());
    assert_eq!(
        accounting(&ran).counts(),
        (400, 400, 0, 0, 0, true),
        "{}",
        ran.context()
    );
    assert_eq!(
        sorted(ran.rows("symbol,first,n")),
        expected,
        "{}",
        ran.context()
    );
}

#[test]
/// `timestamp_column=ts`: the message timestamp is a TIMESTAMP column, the
/// event time of windows (the values carry it too, as `k`, to check by).
/// Appended to `--schema`'s columns, or declared last by `CREATE STREAM`.
fn the_message_timestamp_is_a_column_and_the_event_time() {
    let t = topic("ts");
    create_topic(&t, 2);
    let base = 1_600_000_000_000i64;
    // Out of order by up to 3 s within each partition; the bound is 5 s.
    let messages: Vec<(i32, Option<i64>, String)> = (0..240i64)
        .map(|i| {
            let time = base + i * 200 - (i % 4) * 1000;
            ((i % 2) as i32, Some(time), format!("S{},{time}", i % 3))
        })
        .collect();
    produce_to(&t, &messages);
    let expected = window_counts(messages.iter().map(|(_, time, v)| {
        let time = time.unwrap();
        (v.split(',').next().unwrap().to_string(), time, time)
    }));
    let query = "SELECT symbol, MIN(k) AS first, COUNT(*) AS n FROM trades \
        GROUP BY symbol, TUMBLE(ts, INTERVAL '10' SECOND) EMIT FINAL";
    let url = format!(
        "kafka://{}/{t}?stop=end&format=csv&timestamp_column=ts",
        broker()
    );
    let ran = corestream(&[
        "run",
        "--input",
        &url,
        "--schema",
        "symbol VARCHAR, k BIGINT",
        "--event-time",
        "ts",
        "--max-out-of-orderness",
        "5s",
        "--batch-size",
        "8",
        "--sql",
        query,
    ]);
    ran.assert_success();
    assert_eq!(accounting(&ran).late, 0, "{}", ran.context());
    assert_eq!(
        sorted(ran.rows("symbol,first,n")),
        expected,
        "{}",
        ran.context()
    );
    // Declared last by CREATE STREAM, and the event time there.
    let declared = format!(
        "CREATE STREAM trades (symbol VARCHAR, k BIGINT, ts TIMESTAMP) \
         WITH (event_time = 'ts', watermark = '5s'); {query}"
    );
    let named = format!("trades={url}");
    let ran = corestream(&["run", "--input", &named, "--sql", &declared]);
    ran.assert_success();
    assert_eq!(accounting(&ran).late, 0, "{}", ran.context());
    assert_eq!(
        sorted(ran.rows("symbol,first,n")),
        expected,
        "{}",
        ran.context()
    );
    // The column is also a plain column.
    let ran = corestream(&[
        "run",
        "--input",
        &url,
        "--schema",
        "symbol VARCHAR, k BIGINT",
        "--sql",
        &format!("SELECT k, ts FROM trades WHERE k = {base}"),
    ]);
    ran.assert_success();
    let at_base = messages
        .iter()
        .filter(|(_, time, _)| *time == Some(base))
        .count();
    assert!(at_base > 0);
    assert_eq!(
        ran.rows("k,ts"),
        vec![format!("{base},2020-09-13T12:26:40.000Z"); at_base],
        "{}",
        ran.context()
    );
}

#[test]
/// `--idle-timeout`: a partition that never sends stops holding the
/// watermark back once it has been quiet that long, so windows of the other
/// partition close (and are written) while the run goes on.
fn a_partition_that_sends_nothing_stops_holding_the_watermark_back_once_idle() {
    let t = topic("idle");
    create_topic(&t, 2);
    let base = 1_700_000_000_000i64;
    let records: Vec<(i32, i64, String)> = (0..200i64)
        .map(|i| {
            let time = base + i * 250;
            (0, time, format!("{time},T{i},S{},1.5,1", i % 3))
        })
        .collect();
    produce_to(
        &t,
        &records
            .iter()
            .map(|(p, _, v)| (*p, None, v.clone()))
            .collect::<Vec<_>>(),
    );
    let expected = window_counts(
        records
            .iter()
            .map(|(_, time, v)| (v.split(',').nth(2).unwrap().to_string(), *time, *time)),
    );
    let url = format!("kafka://{}/{t}?format=csv", broker());
    let query = "SELECT symbol, MIN(event_time) AS first, COUNT(*) AS n FROM trades \
        GROUP BY symbol, TUMBLE(event_time, INTERVAL '10' SECOND) EMIT FINAL";
    let (mut child, watchdog) = spawn(
        &[
            "run",
            "--input",
            &url,
            "--schema",
            SCHEMA,
            "--event-time",
            "event_time",
            "--max-out-of-orderness",
            "1s",
            "--idle-timeout",
            "1s",
            "--sql",
            query,
        ],
        Stdio::null(),
    );
    // A closed window is written while the run goes on: partition 1 stopped
    // holding the watermark back.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut rows = Vec::new();
    while rows.len() < 2 {
        line.clear();
        let read = std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(read > 0, "stdout ended before a window closed");
        rows.push(line.trim_end().to_owned());
    }
    assert_eq!(rows[0], "symbol,first,n");
    // SAFETY: kill(2) takes plain integers; the child is not reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!watchdog.disarm(), "killed by the watchdog");
    let ran = Ran::from(out);
    assert_eq!(ran.code, Some(143), "{}", ran.context());
    assert_eq!(accounting(&ran).late, 0, "{}", ran.context());
    rows.extend(rest.lines().map(str::to_owned));
    assert_eq!(sorted(rows[1..].to_vec()), expected, "{}", ran.context());
}

#[test]
fn the_message_key_is_a_column() {
    let t = topic("key");
    create_topic(&t, 2);
    // Keyed by trader; the value leaves the trader out.
    let records = trades(300);
    let messages: Vec<(String, String)> = records
        .iter()
        .map(|(k, v)| {
            let f: Vec<&str> = v.split(',').collect();
            (k.clone(), format!("{},{}", f[2], f[4]))
        })
        .collect();
    produce(&t, &messages);
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (_, v) in &records {
        let f: Vec<&str> = v.split(',').collect();
        let e = expected.entry(f[1].to_string()).or_default();
        e.0 += 1;
        e.1 += f[4].parse::<u64>().unwrap();
    }
    let expected: Vec<String> = (expected.into_iter())
        .map(|(k, (n, q))| format!("{k},{n},{q}"))
        .collect();
    let query = "SELECT trader, COUNT(*) AS n, SUM(quantity) AS qty FROM trades \
        GROUP BY trader EMIT FINAL";
    let url = format!(
        "kafka://{}/{t}?stop=end&format=csv&key_column=trader",
        broker()
    );
    let schema = "symbol VARCHAR, quantity BIGINT";
    let ran = corestream(&["run", "--input", &url, "--schema", schema, "--sql", query]);
    ran.assert_success();
    assert_eq!(
        sorted(ran.rows("trader,n,qty")),
        expected,
        "{}",
        ran.context()
    );
    // Declared last by CREATE STREAM.
    let declared =
        format!("CREATE STREAM trades (symbol VARCHAR, quantity BIGINT, trader VARCHAR); {query}");
    let named = format!("trades={url}");
    let ran = corestream(&["run", "--input", &named, "--sql", &declared]);
    ran.assert_success();
    assert_eq!(
        sorted(ran.rows("trader,n,qty")),
        expected,
        "{}",
        ran.context()
    );
}

#[test]
fn the_metrics_endpoint_shows_each_partitions_lag() {
    let t = topic("lag");
    create_topic(&t, 3);
    let records = trades(600);
    produce(&t, &records);
    // No stop=end: the run goes on until a signal, as a service does.
    let url = format!("kafka://{}/{t}?format=csv", broker());
    let (mut child, watchdog) = spawn(
        &[
            "run",
            "--input",
            &url,
            "--schema",
            SCHEMA,
            "--sql",
            QUERY,
            "--metrics-addr",
            "127.0.0.1:0",
            "-q",
        ],
        Stdio::null(),
    );
    let (metrics, stderr) = process::metrics_url(&mut child);
    // Until every record has been processed and every partition's lag is
    // known (bounded by the watchdog): then each lag is 0.
    let text = loop {
        let text = process::scrape(&metrics);
        let (records_in, _) = process::metric_sum(&text, "corestream_records_in_total");
        let (_, partitions) = process::metric_sum(&text, "corestream_kafka_lag_records");
        if records_in == 600.0 && partitions == 3 {
            break text;
        }
        std::thread::yield_now();
    };
    assert_eq!(
        process::metric_sum(&text, "corestream_kafka_lag_records"),
        (0.0, 3),
        "{text}"
    );
    for p in 0..3 {
        let series = format!(r#"topic="{t}",partition="{p}""#);
        assert!(text.contains(&series), "{series}:\n{text}");
    }
    process::signal(&child, libc::SIGTERM);
    let (code, rest) = process::wait_with_stderr(child, watchdog, stderr);
    assert_eq!(code, Some(143), "{rest}");
}

#[test]
fn a_broker_that_goes_away_mid_run_stops_the_run_after_the_broker_timeout() {
    let addr = kafka_broker::own_broker();
    let t = topic("gone");
    kafka_broker::create_topic_on(&addr, &t, 2);
    let records = trades(200);
    kafka_broker::produce_on(&addr, &t, &records);
    // No stop=end: without the timeout the run would wait for ever.
    let url = format!("kafka://{addr}/{t}?format=csv&broker_timeout=3s");
    let (mut child, watchdog) = spawn(
        &[
            "run",
            "--input",
            &url,
            "--schema",
            SCHEMA,
            "--sql",
            QUERY,
            "--metrics-addr",
            "127.0.0.1:0",
        ],
        Stdio::null(),
    );
    let (metrics, stderr) = process::metrics_url(&mut child);
    // Every record read while the broker is there (bounded by the watchdog).
    while process::metric_sum(&process::scrape(&metrics), "corestream_records_in_total").0 < 200.0 {
        std::thread::yield_now();
    }
    kafka_broker::stop_broker(&addr);
    let stopped = Instant::now();
    let (code, rest) = process::wait_with_stderr(child, watchdog, stderr);
    assert_eq!(code, Some(1), "{rest}");
    assert!(
        rest.contains(&format!("no broker at {addr} has answered")),
        "{rest}"
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopped.elapsed()
    );
}

/// A reader whose partitions have reached their `stop=end` ends commits and
/// leaves its group at once, while the run goes on (here a second input
/// that never ends keeps it running), so that the group can give its
/// partitions to other members. One that stayed in the group without
/// polling held up every rebalance until librdkafka's
/// `max.poll.interval.ms` (5 minutes).
#[test]
fn a_reader_that_has_read_to_the_end_leaves_its_group_while_the_run_goes_on() {
    let (t, endless) = (topic("leave"), topic("endless"));
    create_topic(&t, 2);
    create_topic(&endless, 1);
    let records: Vec<(i32, Option<i64>, String)> = (trades(50).into_iter().enumerate())
        .map(|(i, (_, v))| (i as i32 % 2, None, v))
        .collect();
    produce_to(&t, &records);
    let group = format!("g-{t}");
    let sql = format!(
        "CREATE STREAM a ({SCHEMA}); CREATE STREAM b ({SCHEMA}); \
         SELECT trader_id, symbol FROM a UNION ALL SELECT trader_id, symbol FROM b"
    );
    let a = format!(
        "a=kafka://{}/{t}?group={group}&stop=end&format=csv&session.timeout.ms=6000\
         &auto.commit.interval.ms=600000",
        broker()
    );
    let b = format!("b=kafka://{}/{endless}?format=csv", broker());
    let (mut child, watchdog) = spawn(
        &[
            "run",
            "--input",
            &a,
            "--input",
            &b,
            "--sql",
            &sql,
            "--metrics-addr",
            "127.0.0.1:0",
            "-q",
        ],
        Stdio::null(),
    );
    let (metrics, stderr) = process::metrics_url(&mut child);
    // Until the run has read every record (bounded by the watchdog).
    while process::metric_sum(&process::scrape(&metrics), "corestream_records_in_total").0 < 50.0 {
        std::thread::yield_now();
    }
    // The reader's offsets, committed when it leaves (its automatic commits
    // are minutes apart here): 25 records in each partition.
    wait_committed(&t, &group, 0, 25);
    wait_committed(&t, &group, 1, 25);
    // A new member gets both partitions: the rebalance did not wait for
    // the reader.
    let member: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker())
        .set("group.id", &group)
        .set("session.timeout.ms", "6000")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    member.subscribe(&[&t]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    let assigned = loop {
        let _ = member.poll(Duration::from_millis(100));
        let n = member.assignment().map_or(0, |a| a.count());
        if n == 2 || Instant::now() > deadline {
            break n;
        }
    };
    assert_eq!(assigned, 2, "the new member's partitions within 30 s");
    // Not closed: closing a client that joined a group hangs in librdkafka's
    // destroy against the test broker; it is left to the session timeout.
    std::mem::forget(member);
    process::signal(&child, libc::SIGTERM);
    let (code, rest) = process::wait_with_stderr(child, watchdog, stderr);
    assert_eq!(code, Some(143), "{rest}");
}

#[test]
fn several_readers_share_a_topics_partitions_with_or_without_a_group() {
    let t = topic("readers");
    create_topic(&t, 3);
    let records = trades(900);
    produce(&t, &records);
    let expected = file_run(&records);
    for options in ["", "&group=g-readers&session.timeout.ms=6000"] {
        let url = format!("kafka://{}/{t}?stop=end&format=csv{options}", broker());
        let ran = kafka_run(&url, &["--readers", "2", "--cores", "0-1"]);
        ran.assert_success();
        assert_eq!(
            sorted(ran.rows(OUT_HEADER)),
            expected,
            "{options}: {}",
            ran.context()
        );
        assert!(
            ran.stderr.contains("2 readers"),
            "{options}: {}",
            ran.context()
        );
    }
    // More readers than partitions: one per partition.
    let url = format!("kafka://{}/{t}?stop=end&format=csv", broker());
    let ran = kafka_run(&url, &["--readers", "8"]);
    ran.assert_success();
    assert_eq!(sorted(ran.rows(OUT_HEADER)), expected, "{}", ran.context());
    assert!(ran.stderr.contains("3 readers"), "{}", ran.context());
}
