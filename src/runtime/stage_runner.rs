//! A shard's stages: the pipeline of each stage of the query on this shard,
//! the exchanges between them, and where each stage's rows go (the next
//! stage's exchange, or the shard's sink).
//!
//! Stages run in the plan's run order ([`QueryPlan::stage_links`]): each
//! after the stages it reads. Stage `k` reads ports `2k` and `2k + 1` (the
//! second for a join or UNION ALL), as [`Inputs`] numbers them; a port
//! carries a run input from its routers, or an earlier stage's rows from
//! the exchange. Every stage but the last feeds one port of a later stage.
//!
//! # Watermarks and end of input
//! Stage `k` forwards its output watermark (what it follows, less its
//! allowed lateness: no row it emits later is older) through its exchange
//! after the rows it emitted before. When every port of stage `k` has
//! ended, it emits what it holds, then sends end of input to every shard's
//! next stage. When an input failed instead, no stage emits what it holds:
//! each sends [`Message::Failed`] on ([`StageRunner::abandon`]).
//!
//! # Counts
//! The shard's tally counts its input records once, where a stage reads
//! them from a run input's port. Rows from an exchange add only rows a stage
//! drops as late, which should never happen (rows leave a stage before the
//! watermark that would make them late); if one did, the run's accounting
//! would show it.

use super::exchange::ExchangeOut;
use super::message::Message;
use super::metrics::ShardStats;
use super::shard_inputs::Inputs;
use crate::data::Batch;
use crate::error::Error;
use crate::exec::pipeline::{BatchCounts, Pipeline};
use crate::io::sink::ShardSink;
use crate::sql::plan::{port_of, QueryPlan};

/// The stages of one shard (see the module docs).
pub struct StageRunner {
    pipelines: Vec<Pipeline>,
    /// `exchanges[k]` carries stage `k`'s rows to the stage that reads
    /// them (every stage but the last).
    exchanges: Vec<ExchangeOut>,
    /// Per exchange, the local feed in [`Inputs`] of the port it feeds.
    local_feeds: Vec<usize>,
    /// Per port, whether it carries a run input (its rows are counted).
    run_ports: Vec<bool>,
    /// Per stage, the watermark last forwarded through its exchange.
    forwarded: Vec<i64>,
    finished: Vec<bool>,
    /// Per stage, whether it has a second input port (a join, or UNION ALL).
    joins: Vec<bool>,
    /// Per stage, its state at the checkpoint being taken, once aligned.
    sections: Vec<Option<Vec<u8>>>,
}

impl StageRunner {
    /// The stages of `plan` on shard `shard`, with this shard's sending end
    /// of each exchange; adds each later stage's local feed to `inputs`.
    /// With `keep_late`, stage 0 keeps late rows for a side output.
    pub fn new(
        plan: &QueryPlan,
        shard: usize,
        keep_late: bool,
        exchanges: Vec<ExchangeOut>,
        inputs: &mut Inputs,
    ) -> StageRunner {
        let links = plan.stage_links();
        let stages = plan.stages();
        debug_assert_eq!(exchanges.len() + 1, stages.len());
        let pipelines = stages
            .iter()
            .enumerate()
            .map(|(k, stage)| Pipeline::new(stage, shard, keep_late && k == 0))
            .collect();
        let local_feeds = links
            .iter()
            .filter_map(|link| link.feeds)
            .map(|port| inputs.add_local(port))
            .collect();
        let mut run_ports = vec![false; 2 * stages.len()];
        for input in plan.run_inputs() {
            run_ports[input.port] = true;
        }
        StageRunner {
            pipelines,
            exchanges,
            local_feeds,
            run_ports,
            forwarded: vec![i64::MIN; stages.len()],
            finished: vec![false; stages.len()],
            joins: stages
                .iter()
                .map(|s| s.join.is_some() || s.union.is_some())
                .collect(),
            sections: vec![None; stages.len()],
        }
    }

    /// The first stage's pipeline (for late rows and spent batches).
    pub fn first(&mut self) -> &mut Pipeline {
        &mut self.pipelines[0]
    }

    /// Every stage's pipeline, in run order (for checkpoints).
    pub fn pipelines_mut(&mut self) -> &mut [Pipeline] {
        &mut self.pipelines
    }

    /// Whether port `port` carries a run input (from its routers).
    pub fn is_run_port(&self, port: usize) -> bool {
        self.run_ports[port]
    }

    /// The batch port `port`'s stage is done with, to hand back to its feed.
    pub fn take_spent(&mut self, port: usize) -> Option<Batch> {
        self.pipelines[port / 2].take_spent()
    }

    /// Rows the stages' joins have freed behind the watermark so far.
    pub fn join_rows_freed(&self) -> u64 {
        self.pipelines.iter().map(Pipeline::join_rows_freed).sum()
    }

    /// Whether any stage reads the clock (processing-time windows).
    pub fn reads_now(&self) -> bool {
        self.pipelines.iter().any(Pipeline::reads_now)
    }

    /// Runs a data batch of port `port`; the counts are the input's when
    /// the port carries a run input (see the module docs), and the rows go on.
    pub async fn data(
        &mut self,
        port: usize,
        batch: Batch,
        now: i64,
        out: &mut Out<'_>,
    ) -> Result<BatchCounts, Error> {
        let stage = port / 2;
        let (rows, counts) = self.pipelines[stage].process_port(port % 2, batch, now);
        if let Some(rows) = rows {
            self.emit(stage, rows, out).await?;
        }
        Ok(self.counted(self.run_ports[port], counts))
    }

    /// Port `port`'s watermark moved; when the port's stage has ended on
    /// every port, the stage finishes.
    pub async fn watermark(
        &mut self,
        port: usize,
        watermark: i64,
        now: i64,
        out: &mut Out<'_>,
    ) -> Result<BatchCounts, Error> {
        let stage = port / 2;
        let (rows, counts) = self.pipelines[stage].on_watermark(port % 2, watermark, now);
        let mut counts = self.counted(self.reads_run_input(stage), counts);
        for batch in rows {
            self.emit(stage, batch, out).await?;
        }
        self.forward_watermark(stage, out);
        // Ended: every port's watermark is past everything (an earlier
        // stage's forwarded watermark can say so before its end of input
        // comes). A failed input holds its port's watermark back, so a stage
        // fed by one ends in `input_failed` instead.
        let ports = if self.joins[stage] { 2 } else { 1 };
        let ended = (0..ports).all(|p| out.inputs.watermark(port_of(stage, p)) == i64::MAX);
        if ended && stage + 1 < self.pipelines.len() && !self.finished[stage] {
            let c = self.finish_stage(stage, now, out).await?;
            add(&mut counts, c);
        }
        Ok(counts)
    }

    /// Every feed of port `port` has ended, and the run has failed (see
    /// [`Message::Failed`]): its stage, once every feed of all its ports
    /// has ended, passes the failure on instead of finishing (the last
    /// stage waits for the end of input).
    pub fn input_failed(&mut self, port: usize, out: &mut Out<'_>) {
        let stage = port / 2;
        let ports = if self.joins[stage] { 2 } else { 1 };
        let ended = (0..ports).all(|p| out.inputs.port_ended(port_of(stage, p)));
        if ended && stage + 1 < self.pipelines.len() && !self.finished[stage] {
            self.abandon_stage(stage, out);
        }
    }

    /// A run input's port went idle or came back.
    pub async fn idle(
        &mut self,
        port: usize,
        idle: bool,
        now: i64,
        out: &mut Out<'_>,
    ) -> Result<BatchCounts, Error> {
        let stage = port / 2;
        let (rows, counts) = self.pipelines[stage].on_idle(port % 2, idle, now);
        for batch in rows {
            self.emit(stage, batch, out).await?;
        }
        self.forward_watermark(stage, out);
        Ok(self.counted(self.reads_run_input(stage), counts))
    }

    /// A flush reached port `port`: it goes on to the sink, through any
    /// exchanges after it.
    pub async fn flush(&mut self, port: usize, out: &mut Out<'_>) -> Result<(), Error> {
        let stage = port / 2;
        match self.exchanges.get_mut(stage) {
            Some(exchange) => {
                exchange.broadcast(|| Message::Flush);
                self.hand_over(stage, out);
                Ok(())
            }
            None => out.sink.flush().await.map_err(out.sink_error),
        }
    }

    /// Checkpoint `epoch`'s barrier aligned on stage `stage`: encodes its
    /// state and sends the barrier on through its exchange. Returns every
    /// stage's state once the last stage's barrier has come (see
    /// [`crate::checkpoint`]).
    pub fn barrier(
        &mut self,
        stage: usize,
        epoch: u64,
        inputs: &mut Inputs,
    ) -> Result<Option<Vec<Vec<u8>>>, String> {
        let section = crate::checkpoint::snapshot::encode(&mut self.pipelines[stage])?;
        self.sections[stage] = Some(section);
        if let Some(exchange) = self.exchanges.get_mut(stage) {
            exchange.broadcast(|| Message::Barrier(epoch));
            self.hand_over_to(stage, inputs);
        }
        if stage + 1 < self.pipelines.len() {
            return Ok(None);
        }
        let all: Option<Vec<Vec<u8>>> = self.sections.iter_mut().map(Option::take).collect();
        // A stage that finished before the barrier sent none: no checkpoint
        // from this shard (the run is near its end).
        Ok(all)
    }

    /// End of input on every port: the stages not finished yet finish, in
    /// order (at this point only the last).
    pub async fn finish(&mut self, now: i64, out: &mut Out<'_>) -> Result<BatchCounts, Error> {
        let mut counts = BatchCounts::default();
        for stage in 0..self.pipelines.len() {
            if !self.finished[stage] {
                let c = self.finish_stage(stage, now, out).await?;
                add(&mut counts, c);
            }
        }
        Ok(counts)
    }

    /// The run failed (an input ended with [`Message::Failed`]): the stages
    /// not finished yet end without emitting what they hold, and each sends
    /// the failure on to every shard's next stage, after the rows it sent
    /// before. Nothing is counted: the rows they hold were counted when
    /// they came in.
    pub fn abandon(&mut self, out: &mut Out<'_>) {
        for stage in 0..self.pipelines.len() {
            if !self.finished[stage] {
                self.abandon_stage(stage, out);
            }
        }
    }

    /// Stage `stage` ends without emitting what it holds; the failure goes
    /// on through its exchange.
    fn abandon_stage(&mut self, stage: usize, out: &mut Out<'_>) {
        self.finished[stage] = true;
        if let Some(exchange) = self.exchanges.get_mut(stage) {
            exchange.broadcast(|| Message::Failed);
            self.hand_over(stage, out);
        }
    }

    /// Pushes what waits in the exchanges' outboxes, and blocks or unblocks
    /// each stage's ports accordingly; returns whether any stage is blocked.
    /// Fails when a shard this one sends to has stopped.
    pub fn drain(&mut self, inputs: &mut Inputs) -> Result<bool, Error> {
        let mut any = false;
        for (stage, exchange) in self.exchanges.iter_mut().enumerate() {
            exchange.drain();
            let blocked = exchange.is_blocked();
            if blocked {
                if let Some(shard) = exchange.target_stopped() {
                    return Err(Error::Shard {
                        shard,
                        reason: "stopped before the end of input".into(),
                    });
                }
            }
            inputs.set_blocked(port_of(stage, 0), blocked);
            inputs.set_blocked(port_of(stage, 1), blocked);
            any |= blocked;
        }
        Ok(any)
    }

    /// Sends the rows gathered in the exchanges' pending batches (the shard
    /// is idle: they should not wait for more).
    pub fn flush_exchanges(&mut self, inputs: &mut Inputs) {
        for stage in 0..self.exchanges.len() {
            self.exchanges[stage].send_all_pending();
            self.hand_over_to(stage, inputs);
        }
    }

    /// `counts`, when they are a run input's; else only its late rows.
    fn counted(&self, run_input: bool, counts: BatchCounts) -> BatchCounts {
        match run_input {
            true => counts,
            false => BatchCounts {
                late: counts.late,
                ..BatchCounts::default()
            },
        }
    }

    /// Whether stage `stage` reads a run input (its counts are the input's).
    fn reads_run_input(&self, stage: usize) -> bool {
        self.run_ports[port_of(stage, 0)] || self.run_ports[port_of(stage, 1)]
    }

    async fn finish_stage(
        &mut self,
        stage: usize,
        now: i64,
        out: &mut Out<'_>,
    ) -> Result<BatchCounts, Error> {
        self.finished[stage] = true;
        let (rows, counts) = self.pipelines[stage].finish(now);
        for batch in rows {
            self.emit(stage, batch, out).await?;
        }
        if let Some(exchange) = self.exchanges.get_mut(stage) {
            exchange.broadcast(|| Message::EndOfInput);
            self.hand_over(stage, out);
        }
        Ok(self.counted(self.reads_run_input(stage), counts))
    }

    /// Stage `stage`'s rows go to the sink (the last stage) or the exchange.
    async fn emit(&mut self, stage: usize, batch: Batch, out: &mut Out<'_>) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        match self.exchanges.get_mut(stage) {
            Some(exchange) => {
                exchange.send(batch);
                self.hand_over(stage, out);
                Ok(())
            }
            None => {
                out.stats.rows_out += batch.len as u64;
                out.sink.write(batch).await.map_err(out.sink_error)
            }
        }
    }

    fn forward_watermark(&mut self, stage: usize, out: &mut Out<'_>) {
        let Some(exchange) = self.exchanges.get_mut(stage) else {
            return;
        };
        let w = self.pipelines[stage].output_watermark();
        if w > self.forwarded[stage] {
            self.forwarded[stage] = w;
            exchange.broadcast(|| Message::Watermark(w));
            self.hand_over(stage, out);
        }
    }

    fn hand_over(&mut self, stage: usize, out: &mut Out<'_>) {
        self.hand_over_to(stage, out.inputs);
    }

    /// Moves the rows stage `stage` kept for this shard to its next stage's feed.
    fn hand_over_to(&mut self, stage: usize, inputs: &mut Inputs) {
        while let Some(message) = self.exchanges[stage].take_local() {
            inputs.push_local(self.local_feeds[stage], message);
        }
    }
}

fn add(to: &mut BatchCounts, c: BatchCounts) {
    to.processed += c.processed;
    to.filtered += c.filtered;
    to.late += c.late;
}

/// Where a shard's stages put what they emit.
pub struct Out<'a> {
    pub sink: &'a mut ShardSink,
    pub sink_error: &'a dyn Fn(std::io::Error) -> Error,
    pub inputs: &'a mut Inputs,
    pub stats: &'a mut ShardStats,
}
