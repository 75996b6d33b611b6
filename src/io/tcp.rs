//! A TCP listener source: `--input tcp://HOST:PORT`.
//!
//! Accepts any number of clients at once; each sends newline-delimited
//! records in the declared format: CSV with the `--delimiter` (no header per
//! connection) or, with `--input-format json`, one JSON object per line. The
//! columns must be declared (`--schema` or a `CREATE STREAM`): there is no
//! header or sample to infer them from. A client's last line without a newline
//! counts when it closes. Malformed records (named `tcp://PEER` and the line
//! within that connection) go to the `on_error` policy.
//!
//! The source never ends by itself: it runs until the run is stopped
//! (SIGINT/SIGTERM in the CLI, [`Engine::run_until`](crate::Engine::run_until)
//! in the library), then what has arrived is processed and the run finishes
//! as at end of input.
//!
//! # Threading
//! Runs on the router thread. Accepting and reading are non-blocking; between
//! them the source waits in `poll(2)` on the listener and every connection, up
//! to the router's deadline, so the router stays responsive.

use super::json::JsonDecoder;
use super::late::{self, RecordText};
use super::parse::push_field;
use super::reject::Rejects;
use super::source::{Poll, Source};
use super::text::{InputFormat, TextOptions};
use crate::data::{Batch, BatchPool, Schema};
use crate::error::Error;
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// How one line becomes a row (also a Kafka message value's, in
/// [`super::kafka`]).
pub(crate) enum LineDecoder {
    Csv {
        schema: Schema,
        /// Boxed: its DFA is large.
        csv: Box<csv_core::Reader>,
        fields: Vec<u8>,
        ends: Vec<usize>,
        /// One row, to check a record before it joins the batch.
        scratch: Batch,
    },
    Json(JsonDecoder),
}

impl LineDecoder {
    /// A decoder of `schema`'s rows: one JSON object per line for `json`,
    /// else one CSV record with the options' delimiter.
    pub(crate) fn new(schema: &Schema, json: bool, options: &TextOptions) -> LineDecoder {
        match json {
            true => LineDecoder::Json(JsonDecoder::new(schema.clone())),
            false => LineDecoder::Csv {
                schema: schema.clone(),
                csv: Box::new(
                    csv_core::ReaderBuilder::new()
                        .delimiter(options.delimiter)
                        .build(),
                ),
                fields: Vec::new(),
                ends: Vec::new(),
                scratch: Batch::with_capacity(schema, 1),
            },
        }
    }

    /// Decodes one record (without its newline) and appends it to `batch`.
    pub(crate) fn decode(&mut self, line: &[u8], batch: &mut Batch) -> Result<(), String> {
        match self {
            LineDecoder::Json(d) => d.decode(line, batch),
            LineDecoder::Csv {
                schema,
                csv,
                fields,
                ends,
                scratch,
            } => {
                // Sized so that csv-core cannot run out of room.
                fields.resize(line.len() + 1, 0);
                ends.resize(line.len() + 2, 0);
                csv.reset();
                let (mut res, nin, mut nout, mut nend) = csv.read_record(line, fields, ends);
                if res == csv_core::ReadRecordResult::InputEmpty {
                    // The line's end: a newline ends the record unless a
                    // quoted field is open (it would run on into the next line).
                    let (r, _, o, e) =
                        csv.read_record(b"\n", &mut fields[nout..], &mut ends[nend..]);
                    if r == csv_core::ReadRecordResult::InputEmpty {
                        return Err("a quote opens a field and is never closed on the line \
                                    (a record is one line here)"
                            .into());
                    }
                    (res, nout, nend) = (r, nout + o, nend + e);
                } else if nin < line.len() {
                    return Err(
                        "more than one record on the line (a carriage return inside?)".into(),
                    );
                }
                if res != csv_core::ReadRecordResult::Record {
                    return Err("no record on the line".into());
                }
                let ends = &ends[..nend];
                if ends.len() != schema.len() {
                    return Err(format!(
                        "expected {} fields, found {}",
                        schema.len(),
                        ends.len()
                    ));
                }
                scratch.clear();
                let mut start = 0;
                for (i, &end) in ends.iter().enumerate() {
                    let name = &schema.fields[i].name;
                    let text = std::str::from_utf8(&fields[start..end.min(nout)])
                        .map_err(|_| format!("column {name}: invalid UTF-8"))?;
                    push_field(&mut scratch.columns[i], text, name).map_err(|e| e.to_string())?;
                    start = end;
                }
                scratch.len = 1;
                batch.push_row_from(scratch, 0);
                Ok(())
            }
        }
    }
}

/// One client connection.
struct Conn {
    stream: TcpStream,
    name: String,
    /// Bytes received and not yet decoded (whole lines and a partial one).
    buf: Vec<u8>,
    /// Lines received so far.
    line_no: u64,
    /// Received bytes are dropped up to the next newline (the rest of a line
    /// over the bound).
    discard: bool,
    closed: bool,
}

/// Checks the form of a listen address, `HOST:PORT` (an IPv6 host in
/// brackets), so that a mistyped one is a usage error (exit 2) rather than a
/// failure to listen (exit 1, kept for a port in use or not allowed).
fn check_address(addr: &str) -> Result<(), String> {
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err("expected HOST:PORT, e.g. tcp://127.0.0.1:9000".into());
    };
    if host.is_empty() {
        return Err("expected HOST:PORT: the host is missing, e.g. tcp://0.0.0.0:9000".into());
    }
    if port.parse::<u16>().is_err() {
        return Err(format!(
            "the port {port:?} must be a number from 0 to 65535"
        ));
    }
    Ok(())
}

/// A TCP listener source.
pub struct TcpSource {
    name: String,
    listener: TcpListener,
    conns: Vec<Conn>,
    schema: Schema,
    /// Batches handed back for refilling.
    pool: BatchPool,
    decoder: LineDecoder,
    rejects: Rejects,
    max_line_bytes: usize,
    scratch: Vec<u8>,
    /// The batches' schema when each row's line is kept (see
    /// [`Source::keep_text`]): the schema and the text column.
    text_schema: Option<Schema>,
}

impl TcpSource {
    /// Listens on `addr` (`HOST:PORT`).
    pub fn bind(addr: &str, options: &TextOptions) -> Result<TcpSource, Error> {
        let name = format!("tcp://{addr}");
        let Some(schema) = options.schema.clone() else {
            return Err(Error::Config(format!(
                "input {name}: declare the columns (--schema 'name TYPE, ...'); a TCP input has no header"
            )));
        };
        check_address(addr).map_err(|why| Error::Config(format!("--input {name}: {why}")))?;
        let listener = TcpListener::bind(addr).map_err(|source| Error::Io {
            what: format!("cannot listen on {name}"),
            source,
        })?;
        listener.set_nonblocking(true).map_err(|source| Error::Io {
            what: format!("cannot listen on {name}"),
            source,
        })?;
        let decoder = LineDecoder::new(&schema, options.format == InputFormat::Json, options);
        Ok(TcpSource {
            name,
            listener,
            conns: Vec::new(),
            pool: BatchPool::new(&schema),
            schema,
            decoder,
            rejects: Rejects::new(&options.on_error, None)?,
            max_line_bytes: options.max_line_bytes.max(1),
            scratch: vec![0; 1 << 16],
            text_schema: None,
        })
    }

    /// The address listened on (the port, when bound to port 0).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    fn accept(&mut self) -> Result<(), Error> {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        self.conns.push(Conn {
                            stream,
                            name: format!("tcp://{peer}"),
                            buf: Vec::new(),
                            line_no: 0,
                            discard: false,
                            closed: false,
                        });
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                // A client that went away before we accepted it, or an interrupt.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::ConnectionReset
                    ) => {}
                Err(source) => {
                    return Err(Error::Io {
                        what: format!("cannot accept on {}", self.name),
                        source,
                    })
                }
            }
        }
    }

    /// Decodes the whole lines buffered for connection `c` into `batch`, up
    /// to `max_rows` rows. A line over `max_line_bytes` (not counting its
    /// newline, as in a file) is malformed, its first `max_line_bytes` bytes
    /// kept: each line is judged by its own length, whether it arrived whole
    /// or was cut short by [`read_conn`](Self::read_conn).
    fn drain_lines(&mut self, c: usize, batch: &mut Batch, max_rows: usize) -> Result<(), Error> {
        let TcpSource {
            conns,
            decoder,
            rejects,
            max_line_bytes,
            text_schema,
            ..
        } = self;
        let conn = &mut conns[c];
        let mut used = 0usize;
        while batch.len < max_rows {
            let rest = &conn.buf[used..];
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(p) => (&rest[..p], used + p + 1),
                // The last line of a closed connection.
                None if conn.closed && !rest.is_empty() => (rest, conn.buf.len()),
                None => break,
            };
            used = next;
            conn.line_no += 1;
            if line.len() > *max_line_bytes {
                let reason =
                    format!("the record is longer than {max_line_bytes} bytes (max_line_bytes)");
                rejects.reject(&conn.name, conn.line_no, reason, &line[..*max_line_bytes])?;
                continue;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let result = if line.iter().all(u8::is_ascii_whitespace) {
                // A blank line is not a record.
                Ok(())
            } else {
                if batch.len == 0 {
                    batch.ingest_time = Instant::now();
                }
                let decoded = decoder.decode(line, batch);
                if decoded.is_ok() && text_schema.is_some() {
                    late::push_record_text(batch, line);
                }
                decoded
            };
            if let Err(reason) = result {
                rejects.reject(&conn.name, conn.line_no, reason, line)?;
            }
        }
        conn.buf.drain(..used);
        Ok(())
    }

    /// Reads what connection `c` has (without blocking), up to one buffer.
    fn read_conn(&mut self, c: usize) {
        let conn = &mut self.conns[c];
        if conn.closed {
            return;
        }
        match conn.stream.read(&mut self.scratch) {
            Ok(0) => conn.closed = true,
            Ok(n) => {
                let mut data = &self.scratch[..n];
                if conn.discard {
                    match data.iter().position(|&b| b == b'\n') {
                        Some(p) => {
                            conn.discard = false;
                            data = &data[p + 1..];
                        }
                        None => data = &[],
                    }
                }
                conn.buf.extend_from_slice(data);
                // A partial line over the bound: keep one byte more than the
                // bound, so that `drain_lines` sees it is too long, end it
                // there, and drop the rest of it as it arrives.
                let start = conn
                    .buf
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                if conn.buf.len() - start > self.max_line_bytes {
                    conn.buf.truncate(start + self.max_line_bytes + 1);
                    conn.buf.push(b'\n');
                    conn.discard = true;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            // A reset connection ends that client only.
            Err(_) => conn.closed = true,
        }
    }

    /// Waits until the listener or a connection is readable, or `deadline`.
    fn wait(&self, deadline: Instant) {
        let mut fds: Vec<libc::pollfd> = std::iter::once(self.listener.as_raw_fd())
            .chain(
                self.conns
                    .iter()
                    .filter(|c| !c.closed)
                    .map(|c| c.stream.as_raw_fd()),
            )
            .map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let timeout = deadline.saturating_duration_since(Instant::now());
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the
        // whole call.
        unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                timeout.as_millis().min(i32::MAX as u128) as i32,
            );
        }
    }
}

impl Source for TcpSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let schema = self.text_schema.as_ref().unwrap_or(&self.schema);
        let mut batch = self.pool.take(schema, max_rows);
        loop {
            self.accept()?;
            for c in 0..self.conns.len() {
                self.drain_lines(c, &mut batch, max_rows)?;
                if batch.len < max_rows {
                    self.read_conn(c);
                    self.drain_lines(c, &mut batch, max_rows)?;
                }
            }
            self.conns.retain(|c| !(c.closed && c.buf.is_empty()));
            self.rejects.flush()?;
            if batch.len > 0 {
                return Ok(Poll::Batch(batch));
            }
            match deadline {
                Some(d) if Instant::now() < d => self.wait(d),
                _ => {
                    self.pool.give(batch);
                    return Ok(Poll::Idle);
                }
            }
        }
    }

    fn malformed(&self) -> u64 {
        self.rejects.count()
    }

    fn reuse(&mut self, batch: Batch) {
        self.pool.give(batch);
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn keep_text(&mut self) -> Option<RecordText> {
        let schema = late::with_text(&self.schema);
        self.pool = BatchPool::new(&schema);
        self.text_schema = Some(schema);
        self.keeps_text()
    }

    fn keeps_text(&self) -> Option<RecordText> {
        self.text_schema.as_ref()?;
        Some(match self.decoder {
            LineDecoder::Json(_) => RecordText::Json,
            LineDecoder::Csv { .. } => RecordText::Csv,
        })
    }
}
