//! The named inputs of a run: each `--input NAME=SPEC` (or named source
//! given to the builder) matched with its `CREATE STREAM` / `CREATE TABLE`
//! declaration, opened, and described for the planner.
//!
//! A declaration gives an input its columns, its kind (stream or table),
//! its event time and watermark, its idle timeout and its text options
//! (`format`, `header`, `delimiter`). The flags `--event-time`,
//! `--max-out-of-orderness` and `--allowed-lateness` apply to every input
//! that does not declare its own (`--event-time` only where the input has
//! that column), as does `--idle-timeout`; the other text flags are every
//! input's defaults.

use crate::data::Schema;
use crate::error::Error;
use crate::io::nexmark;
use crate::io::source::{self, Source};
use crate::io::text::{parse_delimiter, InputFormat, TextOptions};
use crate::sql::{CatalogInput, InputKind, ParsedQuery, PlanOptions, StreamDecl};

/// Event-time settings from the flags, and which of them were given.
#[derive(Debug, Clone, Default)]
pub struct TimeFlags {
    pub options: PlanOptions,
    pub out_of_orderness_set: bool,
    pub lateness_set: bool,
    /// `--idle-timeout` (ms): every input's that does not declare its own.
    pub idle_timeout: Option<i64>,
}

/// One input of a run, ready to plan and route.
pub struct NamedInput {
    pub catalog: CatalogInput,
    pub source: Box<dyn Source>,
}

/// The declaration named `name`, if any.
fn declaration<'a>(parsed: &'a ParsedQuery, name: &str) -> Option<&'a StreamDecl> {
    parsed
        .streams
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Same column names (ignoring case) and types, in the same order.
pub fn same_columns(a: &Schema, b: &Schema) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|(x, y)| x.name.eq_ignore_ascii_case(&y.name) && x.data_type == y.data_type)
}

/// The text options of input `name`: the run's, with its declaration's
/// columns and options.
fn text_options(decl: Option<&StreamDecl>, text: &TextOptions) -> Result<TextOptions, Error> {
    let mut text = text.clone();
    if let Some(decl) = decl {
        text.schema = Some(decl.schema.clone());
        if let Some(format) = &decl.format {
            text.format = InputFormat::parse(format)?;
        }
        if let Some(header) = decl.header {
            text.header = header;
        }
        if let Some(delimiter) = &decl.delimiter {
            text.delimiter = parse_delimiter(delimiter)?;
        }
    }
    Ok(text)
}

/// Whether a spec's input ends by itself: a file, or a generator with a count.
fn bounded(spec: &str) -> bool {
    match spec.strip_prefix("gen:") {
        Some(rest) => rest.contains("records="),
        None => source::file_path(spec).is_some(),
    }
}

/// Opens every named input `(name, spec)`; every declaration must name one.
pub fn open_named(
    parsed: &ParsedQuery,
    named: &[(String, String)],
    text: &TextOptions,
    flags: &TimeFlags,
) -> Result<Vec<NamedInput>, Error> {
    if text.schema.is_some() {
        return Err(Error::Config(
            "--schema describes a single input; with named inputs declare each one's \
             columns with CREATE STREAM or CREATE TABLE"
                .into(),
        ));
    }
    let mut inputs = Vec::new();
    for (name, spec) in named {
        if named
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
            > 1
        {
            return Err(Error::Config(format!("--input {name}=... is given twice")));
        }
        let decl = declaration(parsed, name);
        let spec = nexmark::named_spec(name, spec)?;
        let source = source::open(&spec, &text_options(decl, text)?)?;
        inputs.push(describe(name, source, decl, flags, bounded(&spec))?);
    }
    check_declared(parsed, &inputs)?;
    check_event_time_flag(&inputs, flags)?;
    Ok(inputs)
}

/// The text options input `name` is read with: the flags', as its
/// declaration changes them.
pub fn input_text_options(
    parsed: &ParsedQuery,
    name: &str,
    text: &TextOptions,
) -> Result<TextOptions, Error> {
    text_options(declaration(parsed, name), text)
}

/// Refuses an `--event-time` column that no input has: each input takes
/// it where it has the column, so a misspelt one would be dropped silently.
fn check_event_time_flag(inputs: &[NamedInput], flags: &TimeFlags) -> Result<(), Error> {
    let Some(column) = &flags.options.event_time else {
        return Ok(());
    };
    if inputs
        .iter()
        .any(|i| i.catalog.schema.index_of(column).is_some())
    {
        return Ok(());
    }
    let columns: Vec<String> = inputs
        .iter()
        .map(|i| {
            let names: Vec<&str> = i
                .catalog
                .schema
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            format!(
                "{}: {}",
                i.catalog.name.as_deref().unwrap_or("input"),
                names.join(", ")
            )
        })
        .collect();
    Err(Error::Config(format!(
        "--event-time: no column \"{column}\" in any input; columns are: {}",
        columns.join("; ")
    )))
}

/// Opens the input `name` of `named` again, for a second stage that reads it.
pub fn reopen(
    parsed: &ParsedQuery,
    named: &[(String, String)],
    text: &TextOptions,
    name: &str,
) -> Result<Box<dyn Source>, Error> {
    let (_, spec) = named
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .ok_or_else(|| Error::Config(format!("no input named {name}")))?;
    if source::file_path(spec).is_none() && !spec.starts_with("gen:") {
        return Err(Error::Config(format!(
            "the query reads input {name} twice (in two subqueries, or joined to a subquery \
             over it), and {spec} can be read once: only a file or a generator can be read twice"
        )));
    }
    let spec = nexmark::named_spec(name, spec)?;
    source::open(&spec, &text_options(declaration(parsed, name), text)?)
}

/// Describes sources the application opened itself, each with its name.
pub fn from_sources(
    parsed: &ParsedQuery,
    sources: Vec<(String, Box<dyn Source>)>,
    flags: &TimeFlags,
) -> Result<Vec<NamedInput>, Error> {
    let inputs = sources
        .into_iter()
        .map(|(name, source)| {
            let decl = declaration(parsed, &name);
            describe(&name, source, decl, flags, false)
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_declared(parsed, &inputs)?;
    check_event_time_flag(&inputs, flags)?;
    Ok(inputs)
}

fn check_declared(parsed: &ParsedQuery, inputs: &[NamedInput]) -> Result<(), Error> {
    for decl in &parsed.streams {
        let given = inputs.iter().any(|i| {
            i.catalog
                .name
                .as_ref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&decl.name))
        });
        if !given {
            return Err(Error::Config(format!(
                "{} is declared but no input gives it: add --input {}=SPEC",
                decl.name, decl.name
            )));
        }
    }
    Ok(())
}

fn describe(
    name: &str,
    source: Box<dyn Source>,
    decl: Option<&StreamDecl>,
    flags: &TimeFlags,
    bounded: bool,
) -> Result<NamedInput, Error> {
    let schema = source.schema().clone();
    let bounded = bounded || source.bounded();
    if let Some(decl) = decl {
        if !same_columns(&schema, &decl.schema) {
            return Err(Error::Config(format!(
                "{} declares ({}) but the input {} has ({})",
                decl.name,
                decl.schema.describe(),
                source.describe(),
                schema.describe()
            )));
        }
    }
    let flag = &flags.options;
    let event_time = decl.and_then(|d| d.event_time.clone()).or_else(|| {
        flag.event_time
            .clone()
            .filter(|c| schema.index_of(c).is_some())
    });
    let time = PlanOptions {
        event_time,
        max_out_of_orderness: match decl.and_then(|d| d.max_out_of_orderness) {
            Some(d) if !flags.out_of_orderness_set => d,
            _ => flag.max_out_of_orderness,
        },
        allowed_lateness: match decl.and_then(|d| d.allowed_lateness) {
            Some(d) if !flags.lateness_set => d,
            _ => flag.allowed_lateness,
        },
        state_ttl: flag.state_ttl,
    };
    Ok(NamedInput {
        catalog: CatalogInput {
            name: Some(name.to_owned()),
            schema,
            kind: decl.map_or(InputKind::Stream, |d| d.kind.clone()),
            time,
            idle_timeout: decl.and_then(|d| d.idle_timeout).or(flags.idle_timeout),
            bounded,
            closes_by_time: false,
        },
        source,
    })
}
