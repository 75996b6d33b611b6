//! [`OutputSpec::Collect`] over an input that never ends, refused at build.
//!
//! Collect keeps every result batch in memory until the run ends. Over an
//! input that never ends by itself, the results would grow until the run is
//! stopped, however long that is: memory would depend on when the
//! application gets round to stopping it (a test once grew to 24 GB on a
//! busy machine before its stop condition ran). The builder refuses that
//! combination with [`Error::Config`], pointing to the outputs that hand
//! results over as they come, with backpressure and bounded memory:
//! [`OutputSpec::Rings`] and [`OutputSpec::Callback`].
//!
//! An input never ends by itself when its spec says so: a generator without
//! a count (`gen:trades` without `records=`, `gen:nexmark` without
//! `events=`), a TCP listener, or a Kafka topic without `stop=end`. A file
//! or stdin ends at its end of file; a source the application opened
//! itself (a push channel, its own [`Source`](crate::io::source::Source))
//! ends when the application ends it, so Collect holds what the application
//! pushed before it ends the input.

use crate::error::Error;
use crate::io::sink::OutputSpec;

/// Why the input of `spec` never ends by itself, or `None` when it does (or
/// the spec does not say).
pub fn endless(spec: &str) -> Option<&'static str> {
    let has = |key: &str| {
        spec.split_once('?').is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|kv| kv.split_once('=').map_or(kv, |(k, _)| k) == key)
        })
    };
    if let Some(rest) = spec.strip_prefix("gen:") {
        return match rest.starts_with("nexmark") {
            true => (!has("events")).then_some("a generator without events=N never ends"),
            false => (!has("records")).then_some("a generator without records=N never ends"),
        };
    }
    if spec.starts_with("tcp://") {
        return Some("a TCP listener never ends by itself");
    }
    if spec.starts_with("kafka://") && !spec.contains("stop=end") {
        return Some("a Kafka topic without stop=end never ends");
    }
    None
}

/// Refuses [`OutputSpec::Collect`] when one of `inputs` (each an input
/// spec, with its name when it has one) never ends by itself.
pub fn check<'a>(
    output: &OutputSpec,
    inputs: impl IntoIterator<Item = (Option<&'a str>, &'a str)>,
) -> Result<(), Error> {
    if *output != OutputSpec::Collect {
        return Ok(());
    }
    for (name, spec) in inputs {
        if let Some(why) = endless(spec) {
            let input = match name {
                Some(name) => format!("input {name} ({spec})"),
                None => format!("input {spec}"),
            };
            return Err(Error::Config(format!(
                "OutputSpec::Collect keeps every result in memory until the run ends, and \
                 {input} does not end ({why}): take the results as they come with \
                 OutputSpec::Rings (Engine::take_result_rings) or OutputSpec::callback, \
                 which bound memory by backpressure, or give an input that ends"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::endless;

    #[test]
    fn only_inputs_that_never_end_are_endless() {
        for spec in [
            "gen:trades",
            "gen:trades?rate=10",
            "gen:nexmark?seed=1",
            "tcp://127.0.0.1:9000",
            "kafka://h:9092/t",
        ] {
            assert!(endless(spec).is_some(), "{spec}");
        }
        for spec in [
            "gen:trades?records=10",
            "gen:trades?rate=5&records=10",
            "gen:nexmark?events=100",
            "kafka://h:9092/t?stop=end",
            "trades.csv",
            "-",
        ] {
            assert!(endless(spec).is_none(), "{spec}");
        }
    }
}
