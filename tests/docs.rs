//! Every command and SQL example in README.md and docs/*.md, run, so the
//! docs cannot drift from the code.
//!
//! What a page may hold, and what this test does with it:
//!
//! - A ```sh block: each command in it (a line, with `\` continuations) that
//!   starts with `corestream ` or `cargo run --release --`, or pipes into
//!   `corestream `, runs through `sh` in the page's own temp directory, with
//!   the built binary first on `PATH` as `corestream`. It must exit 0. Other
//!   lines (`tools/test`, `cargo bench ...`) are not run.
//! - A ```sql block: each script in it (scripts are separated by blank
//!   lines: optional `CREATE STREAM` / `CREATE TABLE` declarations, then one
//!   query) is parsed and planned through the library against a catalog of
//!   the declared inputs plus `trades` (the generator's schema, with
//!   `event_time` as its event time), and its plan checked against the
//!   limits.
//! - A ```output block: each of its lines (but `...`) must be a line of what
//!   the command before it printed (stdout or stderr), in any order, since
//!   shards write their rows as they finish; a line ending in `...` must
//!   start one (for figures that change from run to run).
//!
//! A marker on the line before a block changes that:
//!
//! - `<!-- file: NAME -->`: the block is also written to NAME in the temp
//!   directory, for the commands after it (a ```sql one is still planned).
//! - `<!-- exit: N -->`: the block's commands must exit with N.
//! - `<!-- refused: TEXT -->`: the ```sql block must fail to plan, with an
//!   error containing TEXT.
//! - `<!-- not run: REASON -->`: the block is skipped. Used rarely.

use corestream::data::Schema;
use corestream::io::generator::trades_schema;
use corestream::sql::{parse, plan_inputs, CatalogInput, InputKind, ParsedQuery, PlanOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary the commands run.
const BIN: &str = env!("CARGO_BIN_EXE_corestream");

/// Longest a command may run (seconds) before `timeout` kills it.
const COMMAND_TIMEOUT_S: &str = "180";

/// A marker before a fenced block.
#[derive(Debug, Clone, PartialEq)]
enum Marker {
    File(String),
    Exit(i32),
    Refused(String),
    NotRun,
}

/// A fenced block of a page.
#[derive(Debug)]
struct Block {
    lang: String,
    text: String,
    /// The line of its opening fence (1-based), for messages.
    line: usize,
    marker: Option<Marker>,
}

fn marker(line: &str) -> Option<Marker> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    let (key, value) = inner.split_once(':')?;
    let value = value.trim().to_owned();
    match key.trim() {
        "file" => Some(Marker::File(value)),
        "exit" => Some(Marker::Exit(value.parse().expect("exit: a number"))),
        "refused" => Some(Marker::Refused(value)),
        "not run" => Some(Marker::NotRun),
        _ => None,
    }
}

/// The fenced blocks of a page, in order, each with the marker on the
/// non-blank line before its fence.
fn blocks(page: &str) -> Vec<Block> {
    let lines: Vec<&str> = page.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].strip_prefix("```") else {
            i += 1;
            continue;
        };
        let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        let start = i;
        let mut text = String::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "```" {
            text.push_str(lines[i]);
            text.push('\n');
            i += 1;
        }
        out.push(Block {
            lang: lang.trim().to_owned(),
            text,
            line: start + 1,
            marker: before.and_then(|l| marker(l)),
        });
        i += 1;
    }
    out
}

/// The commands of a ```sh block that this test runs, with `cargo run
/// --release --` spelled `corestream`. A command goes on past the end of a
/// line that ends in `\\` or inside a quoted string.
fn commands(block: &str) -> Vec<String> {
    let mut logical = Vec::new();
    let mut current = String::new();
    // The quote open at the end of the text so far, if any.
    let mut quote: Option<char> = None;
    for line in block.lines() {
        if quote.is_none() && current.is_empty() && line.trim_start().starts_with('#') {
            continue; // a comment
        }
        let mut escaped = false;
        for c in line.chars() {
            match (quote, c) {
                (_, _) if escaped => escaped = false,
                (Some('\''), '\'') => quote = None,
                (Some('\''), _) => {}
                (_, '\\') => escaped = true,
                (None, '\'' | '"') => quote = Some(c),
                (Some('"'), '"') => quote = None,
                _ => {}
            }
        }
        if quote.is_some() {
            current.push_str(line);
            current.push('\n');
        } else if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(line);
            logical.push(std::mem::take(&mut current));
        }
    }
    logical
        .into_iter()
        .map(|c| c.trim().to_owned())
        .filter_map(|c| {
            if let Some(rest) = c.strip_prefix("cargo run --release --") {
                return Some(format!("corestream{rest}"));
            }
            (c.starts_with("corestream ") || c.contains("| corestream ")).then_some(c)
        })
        .collect()
}

/// What a command left.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `command` through `sh` in `dir`, the binary first on `PATH`.
fn run(command: &str, dir: &Path, bin_dir: &Path) -> Ran {
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("timeout")
        .args(["-k", "10", COMMAND_TIMEOUT_S, "sh", "-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("timeout and sh start");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The inputs a SQL example may read: its declarations, then `trades`
/// (the generator's columns, event time `event_time`) unless declared.
fn catalog(parsed: &ParsedQuery) -> Vec<CatalogInput> {
    let mut inputs: Vec<CatalogInput> = parsed
        .streams
        .iter()
        .map(|d| CatalogInput {
            name: Some(d.name.clone()),
            schema: d.schema.clone(),
            kind: d.kind.clone(),
            time: PlanOptions {
                event_time: d.event_time.clone(),
                max_out_of_orderness: d.max_out_of_orderness.unwrap_or(0),
                allowed_lateness: d.allowed_lateness.unwrap_or(0),
                state_ttl: None,
            },
            idle_timeout: d.idle_timeout,
            bounded: true,
            closes_by_time: false,
        })
        .collect();
    let declared = |name: &str| {
        inputs.iter().any(|i| {
            i.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    };
    if !declared("trades") {
        inputs.push(example_input("trades", trades_schema(), "event_time"));
    }
    inputs
}

fn example_input(name: &str, schema: Schema, event_time: &str) -> CatalogInput {
    CatalogInput {
        name: Some(name.to_owned()),
        schema,
        kind: InputKind::Stream,
        time: PlanOptions {
            event_time: Some(event_time.to_owned()),
            ..PlanOptions::default()
        },
        idle_timeout: None,
        bounded: true,
        closes_by_time: false,
    }
}

/// Parses and plans one script; the error's text if it fails.
fn plan(script: &str) -> Result<(), String> {
    let parsed = parse(script).map_err(|e| e.to_string())?;
    let plan = plan_inputs(&parsed, &catalog(&parsed)).map_err(|e| e.to_string())?;
    corestream::limits::check_plan(&plan).map_err(|e| e.to_string())?;
    assert!(!plan.explain().is_empty());
    Ok(())
}

/// The scripts of a ```sql block: runs of lines between blank lines that
/// hold more than comments.
fn scripts(block: &str) -> Vec<String> {
    block
        .split("\n\n")
        .map(str::trim)
        .filter(|s| s.lines().any(|l| !l.trim().starts_with("--")))
        .map(str::to_owned)
        .collect()
}

/// What one page's examples did.
#[derive(Debug, Default)]
struct Tally {
    commands: usize,
    scripts: usize,
    refused: usize,
    outputs: usize,
    files: usize,
    not_run: usize,
    failures: Vec<String>,
}

/// A fresh temp directory for `page`, with `bin/corestream` the binary.
fn workspace(page: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "corestream-docs-{}-{}",
        std::process::id(),
        page.replace('/', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let bin_dir = dir.join(".bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(BIN, bin_dir.join("corestream")).unwrap();
    (dir, bin_dir)
}

/// Runs every example of `page` (a path from the crate root).
fn check_page(page: &str) -> Tally {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(page))
        .unwrap_or_else(|e| panic!("cannot read {page}: {e}"));
    let (dir, bin_dir) = workspace(page);
    let mut tally = Tally::default();
    // What the last command printed, for an output block after it.
    let mut last: Option<Ran> = None;
    for block in blocks(&text) {
        let at = format!("{page}:{}", block.line);
        if block.marker == Some(Marker::NotRun) {
            tally.not_run += 1;
            last = None;
            continue;
        }
        if let Some(Marker::File(name)) = &block.marker {
            std::fs::write(dir.join(name), &block.text).unwrap();
            tally.files += 1;
        }
        match block.lang.as_str() {
            "sh" => {
                let want = match block.marker {
                    Some(Marker::Exit(code)) => code,
                    _ => 0,
                };
                last = None;
                for command in commands(&block.text) {
                    let ran = run(&command, &dir, &bin_dir);
                    tally.commands += 1;
                    if ran.code != Some(want) {
                        tally.failures.push(format!(
                            "{at}: `{command}` exited {:?}, expected {want}\n--- stderr ---\n{}",
                            ran.code,
                            ran.stderr.lines().take(20).collect::<Vec<_>>().join("\n")
                        ));
                    }
                    last = Some(ran);
                }
            }
            "sql" => {
                if let Some(Marker::Refused(expected)) = &block.marker {
                    tally.refused += 1;
                    match plan(block.text.trim()) {
                        Ok(()) => tally
                            .failures
                            .push(format!("{at}: planned, but the docs say it is refused")),
                        Err(e) if !e.contains(expected.as_str()) => tally.failures.push(format!(
                            "{at}: refused with\n{e}\nwhich does not contain `{expected}`"
                        )),
                        Err(_) => {}
                    }
                    continue;
                }
                for script in scripts(&block.text) {
                    tally.scripts += 1;
                    if let Err(e) = plan(&script) {
                        tally.failures.push(format!("{at}: {e}\n{script}"));
                    }
                }
            }
            "output" => {
                tally.outputs += 1;
                let Some(ran) = &last else {
                    tally.failures.push(format!(
                        "{at}: an output block with no command run before it"
                    ));
                    continue;
                };
                let printed: Vec<&str> = ran
                    .stdout
                    .lines()
                    .chain(ran.stderr.lines())
                    .map(str::trim_end)
                    .collect();
                for line in block.text.lines().map(str::trim_end) {
                    if line.is_empty() || line == "..." {
                        continue;
                    }
                    let found = match line.strip_suffix("...") {
                        Some(prefix) => printed.iter().any(|p| p.starts_with(prefix)),
                        None => printed.contains(&line),
                    };
                    if !found {
                        tally.failures.push(format!(
                            "{at}: the command did not print `{line}`\n--- stdout ---\n{}\n--- stderr ---\n{}",
                            ran.stdout.lines().take(20).collect::<Vec<_>>().join("\n"),
                            ran.stderr.lines().take(20).collect::<Vec<_>>().join("\n")
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{page}: {} commands, {} SQL scripts planned, {} refused as documented, {} outputs \
         checked, {} files written, {} blocks not run",
        tally.commands, tally.scripts, tally.refused, tally.outputs, tally.files, tally.not_run
    );
    tally
}

fn assert_page(page: &str) {
    let tally = check_page(page);
    assert!(
        tally.failures.is_empty(),
        "{} example(s) of {page} failed:\n\n{}",
        tally.failures.len(),
        tally.failures.join("\n\n")
    );
}

/// The pages this test runs; `every_page_is_checked` keeps it complete.
const PAGES: &[&str] = &[
    "README.md",
    "docs/README.md",
    "docs/cli.md",
    "docs/sql.md",
    "docs/windows-and-event-time.md",
    "docs/inputs-and-outputs.md",
    "docs/dataflow.md",
    "docs/kafka.md",
    "docs/checkpoints.md",
    "docs/embedding.md",
    "docs/operations.md",
    "docs/how-it-works.md",
    "docs/performance.md",
    "docs/nexmark.md",
];

#[test]
fn every_page_is_checked() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for entry in std::fs::read_dir(docs).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            let page = format!("docs/{name}");
            assert!(
                PAGES.contains(&page.as_str()),
                "{page} is not in tests/docs.rs's PAGES"
            );
        }
    }
}

#[test]
fn the_markdown_reader_finds_blocks_markers_commands_and_scripts() {
    let page = "text\n<!-- exit: 2 -->\n```sh\n# a comment\ncorestream run \\\n  --quiet\ntools/test\nprintf 'a' | corestream run --input -\n```\n\n```sql\n-- a comment\nSELECT 1 FROM trades\n\nSELECT 2 FROM trades\n```\n";
    let found = blocks(page);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].marker, Some(Marker::Exit(2)));
    assert_eq!(found[0].line, 3);
    assert_eq!(
        commands(&found[0].text),
        [
            "corestream run    --quiet",
            "printf 'a' | corestream run --input -"
        ]
    );
    assert_eq!(found[1].marker, None);
    assert_eq!(
        scripts(&found[1].text),
        ["-- a comment\nSELECT 1 FROM trades", "SELECT 2 FROM trades"]
    );
    assert_eq!(
        commands("cargo run --release -- run     # the default query\n"),
        ["corestream run     # the default query"]
    );
    assert_eq!(
        commands("corestream run --sql \"SELECT 1\n  FROM t\" \\\n  --quiet\nls\n"),
        ["corestream run --sql \"SELECT 1\n  FROM t\"    --quiet"]
    );
    assert_eq!(
        commands("corestream run --sql 'it''s \\' x\n"),
        ["corestream run --sql 'it''s \\' x"]
    );
}

#[test]
fn readme() {
    assert_page("README.md");
}

#[test]
fn docs_index() {
    assert_page("docs/README.md");
}

#[test]
fn cli() {
    assert_page("docs/cli.md");
}

#[test]
fn sql() {
    assert_page("docs/sql.md");
}

#[test]
fn windows_and_event_time() {
    assert_page("docs/windows-and-event-time.md");
}

#[test]
fn inputs_and_outputs() {
    assert_page("docs/inputs-and-outputs.md");
}

#[test]
fn dataflow() {
    assert_page("docs/dataflow.md");
}

#[test]
fn kafka() {
    assert_page("docs/kafka.md");
}

#[test]
fn checkpoints() {
    assert_page("docs/checkpoints.md");
}

#[test]
fn embedding() {
    assert_page("docs/embedding.md");
}

#[test]
fn operations() {
    assert_page("docs/operations.md");
}

#[test]
fn how_it_works() {
    assert_page("docs/how-it-works.md");
}

#[test]
fn performance() {
    assert_page("docs/performance.md");
}

#[test]
fn nexmark_page() {
    assert_page("docs/nexmark.md");
}
