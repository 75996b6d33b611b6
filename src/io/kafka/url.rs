//! `kafka://HOST:PORT[,HOST:PORT...]/TOPIC?opt=value&...`: the URL of a Kafka
//! input or output, split into corestream's options and librdkafka client
//! properties.
//!
//! corestream's own options (everything else passes through to librdkafka as
//! a client property, so `&session.timeout.ms=6000&fetch.min.bytes=1` tune the
//! client):
//!
//! | option | where | meaning |
//! |---|---|---|
//! | `group=G` | input | the consumer group: partitions are shared with the group's other members and offsets committed; without it every partition is read and nothing is committed |
//! | `offset=earliest\|latest` | input | where a partition without a committed offset starts (default `earliest`) |
//! | `format=csv\|json` | both | a message value is one CSV record (no header) or one JSON object; default: the `--input-format` / `--output-format` |
//! | `stop=end` | input | read up to the end offsets the partitions had at start, then end |
//! | `key=COL[,COL]` | output | the columns that make a message's key (default: the query's group key) |
//! | `timeout=DUR` | both | how long connecting may take at start (default `10s`) |
//! | `broker_timeout=DUR` | both | how long a running input or output goes on while no broker answers before the run fails (default `60s`); librdkafka reconnects within it |
//! | `timestamp_column=NAME` | input | the message timestamp (ms) as a TIMESTAMP column `NAME` after the value's columns (NULL when the message has none), usable as the event time |
//! | `key_column=NAME` | input | the message key (UTF-8 text) as a VARCHAR column `NAME` after the value's columns (NULL when the message has none) |
//!
//! Values are taken as written (no percent-decoding): Kafka property values
//! seldom need it.

use crate::error::Error;
use std::time::Duration;

/// How long opening a Kafka input or output may wait for the broker.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a running Kafka input or output may go without a broker.
pub const DEFAULT_BROKER_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a partition without a committed offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartOffset {
    #[default]
    Earliest,
    Latest,
}

/// When a Kafka input ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopAt {
    /// Never by itself: the run goes on until it is stopped.
    #[default]
    Never,
    /// At the end offsets the partitions had when the input opened.
    EndAtStart,
}

/// The record format of message values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    Csv,
    Json,
}

/// A parsed `kafka://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaUrl {
    /// `HOST:PORT[,HOST:PORT...]`, librdkafka's `bootstrap.servers`.
    pub brokers: String,
    pub topic: String,
    pub group: Option<String>,
    pub start: StartOffset,
    pub stop: StopAt,
    /// `None`: as the command line's format flag says.
    pub format: Option<ValueFormat>,
    /// Output only: the key columns, by name.
    pub key: Option<Vec<String>>,
    /// Input only: the column the message timestamp goes into.
    pub timestamp_column: Option<String>,
    /// Input only: the column the message key goes into.
    pub key_column: Option<String>,
    pub connect_timeout: Duration,
    /// How long a run goes on while no broker answers.
    pub broker_timeout: Duration,
    /// Every other query parameter, in order: librdkafka client properties.
    pub properties: Vec<(String, String)>,
}

impl KafkaUrl {
    /// Parses `kafka://HOST:PORT/TOPIC?...`; `spec` names the flag in errors
    /// (`--input`, `--output`).
    pub fn parse(url: &str, flag: &str) -> Result<KafkaUrl, Error> {
        let bad = |why: &str| Error::Config(format!("{flag} {url:?}: {why}"));
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| bad("expected kafka://HOST:PORT/TOPIC"))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (brokers, topic) = path
            .split_once('/')
            .ok_or_else(|| bad("no topic: expected kafka://HOST:PORT/TOPIC"))?;
        if brokers.is_empty() || brokers.split(',').any(|b| !b.contains(':')) {
            return Err(bad("expected the broker as HOST:PORT"));
        }
        if topic.is_empty() || topic.contains('/') || !topic.chars().all(legal_topic_char) {
            return Err(bad(
                "the topic must be letters, digits, '.', '_' and '-' (one path segment)",
            ));
        }
        let mut out = KafkaUrl {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            group: None,
            start: StartOffset::default(),
            stop: StopAt::default(),
            format: None,
            key: None,
            timestamp_column: None,
            key_column: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            broker_timeout: DEFAULT_BROKER_TIMEOUT,
            properties: Vec::new(),
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| bad(&format!("option {pair:?} has no value (NAME=VALUE)")))?;
            match name {
                "group" if !value.is_empty() => out.group = Some(value.to_string()),
                "group" => return Err(bad("group= needs a name")),
                "offset" => {
                    out.start = match value {
                        "earliest" => StartOffset::Earliest,
                        "latest" => StartOffset::Latest,
                        _ => return Err(bad("offset= takes earliest or latest")),
                    }
                }
                "stop" => {
                    out.stop = match value {
                        "end" => StopAt::EndAtStart,
                        "never" => StopAt::Never,
                        _ => return Err(bad("stop= takes end (or never)")),
                    }
                }
                "format" => {
                    out.format = Some(match value.to_ascii_lowercase().as_str() {
                        "csv" => ValueFormat::Csv,
                        "json" | "jsonl" | "ndjson" => ValueFormat::Json,
                        _ => return Err(bad("format= takes csv or json")),
                    })
                }
                "key" => {
                    let cols: Vec<String> = value
                        .split(',')
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty())
                        .collect();
                    if cols.is_empty() {
                        return Err(bad("key= needs one or more column names"));
                    }
                    out.key = Some(cols);
                }
                "timestamp_column" | "key_column" => {
                    let column = value.trim();
                    if column.is_empty() {
                        return Err(bad(&format!("{name}= needs a column name")));
                    }
                    match name {
                        "key_column" => out.key_column = Some(column.to_string()),
                        _ => out.timestamp_column = Some(column.to_string()),
                    }
                }
                "timeout" | "broker_timeout" => {
                    let ms = crate::sql::duration::parse_duration_ms(value)
                        .filter(|&ms| ms > 0)
                        .ok_or_else(|| bad(&format!("{name}= takes a duration such as 10s")))?;
                    let d = Duration::from_millis(ms as u64);
                    match name {
                        "timeout" => out.connect_timeout = d,
                        _ => out.broker_timeout = d,
                    }
                }
                // Set by corestream itself; a user value would break its guarantees.
                "group.id" | "bootstrap.servers" | "enable.auto.offset.store" => {
                    return Err(bad(&format!(
                        "{name} is set by corestream (use group= and the URL's host)"
                    )))
                }
                _ => out.properties.push((name.to_string(), value.to_string())),
            }
        }
        Ok(out)
    }

    /// `kafka://HOST:PORT/TOPIC`, for messages.
    pub fn describe(&self) -> String {
        format!("kafka://{}/{}", self.brokers, self.topic)
    }

    /// Rejects the options that only apply to the other direction.
    pub fn check_for_output(&self, flag: &str) -> Result<(), Error> {
        let wrong = [
            ("group=", self.group.is_some()),
            ("stop=", self.stop != StopAt::Never),
            ("offset=", self.start != StartOffset::Earliest),
            ("timestamp_column=", self.timestamp_column.is_some()),
            ("key_column=", self.key_column.is_some()),
        ];
        match wrong.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(Error::Config(format!(
                "{flag} {}: {name} applies to an input, not an output",
                self.describe()
            ))),
            None => Ok(()),
        }
    }

    /// Rejects `key=` on an input.
    pub fn check_for_input(&self, flag: &str) -> Result<(), Error> {
        match self.key {
            Some(_) => Err(Error::Config(format!(
                "{flag} {}: key= applies to an output, not an input",
                self.describe()
            ))),
            None => Ok(()),
        }
    }
}

/// Kafka's legal topic characters.
fn legal_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_taken_and_the_rest_passes_through() {
        let u = KafkaUrl::parse(
            "kafka://127.0.0.1:9092/trades?group=g1&offset=latest&format=json&stop=end&session.timeout.ms=6000&timeout=3s&timestamp_column=ts&key_column=k&broker_timeout=5s",
            "--input",
        )
        .unwrap();
        assert_eq!(u.brokers, "127.0.0.1:9092");
        assert_eq!(u.topic, "trades");
        assert_eq!(u.group.as_deref(), Some("g1"));
        assert_eq!(u.start, StartOffset::Latest);
        assert_eq!(u.stop, StopAt::EndAtStart);
        assert_eq!(u.format, Some(ValueFormat::Json));
        assert_eq!(u.connect_timeout, Duration::from_secs(3));
        assert_eq!(u.broker_timeout, Duration::from_secs(5));
        assert_eq!(u.timestamp_column.as_deref(), Some("ts"));
        assert_eq!(u.key_column.as_deref(), Some("k"));
        assert!(u.check_for_output("--output").is_err());
        assert_eq!(
            u.properties,
            vec![("session.timeout.ms".to_string(), "6000".to_string())]
        );
        let o = KafkaUrl::parse("kafka://a:1,b:2/out?key=x,%20y&format=csv", "--output").unwrap();
        assert_eq!(o.brokers, "a:1,b:2");
        assert_eq!(o.key, Some(vec!["x".to_string(), "%20y".to_string()]));
        assert!(o.check_for_output("--output").is_ok());
        assert!(o.check_for_input("--input").is_err());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, says) in [
            ("kafka://host/t", "HOST:PORT"),
            ("kafka://h:1", "no topic"),
            ("kafka://h:1/", "the topic"),
            ("kafka://h:1/a/b", "the topic"),
            ("kafka://h:1/t?offset=middle", "earliest or latest"),
            ("kafka://h:1/t?stop=soon", "stop="),
            ("kafka://h:1/t?format=xml", "csv or json"),
            ("kafka://h:1/t?group", "no value"),
            ("kafka://h:1/t?group.id=x", "set by corestream"),
            ("kafka://h:1/t?timeout=never", "duration"),
            ("kafka://h:1/t?timestamp_column=", "column name"),
            (
                "kafka://h:1/t?key_column= ",
                "key_column= needs a column name",
            ),
        ] {
            let e = KafkaUrl::parse(url, "--input").unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
        }
    }
}
