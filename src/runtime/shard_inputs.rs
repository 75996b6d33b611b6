//! A shard's inputs, merged into one stream of messages, each with its port.
//!
//! Stage `k` reads ports `2k` and `2k + 1` (the second for a join or UNION
//! ALL). A port carries a run input, from the rings of that input's routers,
//! or an earlier stage's rows: the exchange rings from every other shard
//! plus this shard's own rows of that stage, handed over directly (a local
//! feed, no ring).
//!
//! Data and flushes pass through as they come. A feed's watermark or end of
//! input is turned into its port's: [`Message::Watermark`] carries the
//! smallest watermark of the port's feeds still running (`i64::MAX` once
//! all have ended, while another port runs on), and only when it moves;
//! [`Message::EndOfInput`] comes once, when every feed has ended. A ring
//! abandoned without end of input (its router or shard failed) ends that
//! feed as [`Message::Failed`] does; the run reports the failure.
//!
//! # A failed feed
//! A feed that ends with [`Message::Failed`] did not finish its input: its
//! watermark keeps holding its port back (the port never reaches
//! `i64::MAX`, so no window closes on input that was never read), and once
//! every feed has ended the shard gets end of input, and
//! [`Inputs::failed`] says it failed (from the first failed feed on). Once
//! a feed has failed, a port whose feeds have all ended (whichever ended
//! last) is reported as `(port, Message::Failed)`, so that its stage can
//! pass the failure on (the port's watermark, held back, does not say it).
//! A table read first no longer gates its join's left port then, so every
//! feed is drained and no router waits on a ring nobody reads.
//!
//! # Order
//! Later stages first: a port is read only when every port above it is
//! empty, or blocked. A port is blocked while its stage cannot push into
//! its exchange (see [`super::exchange`]), and port 0 waits, while a table
//! is read first, until port 1 has ended. Feeds of one port take turns.
//!
//! # Checkpoint barriers
//! Barriers align per stage: once every feed of a stage's ports still
//! running has sent a [`Message::Barrier`] (a feed that ended counts as
//! arrived: all its rows came before its end), the barrier is handed out
//! once, on the stage's first port, and what the stage processed before it
//! is exactly what its feeds sent before their barriers. Meanwhile a
//! router's ring that has sent it is not read (its router waits: the
//! backpressure of an unaligned stage), while an exchange or local feed is
//! read on into a stash, replayed first once the stage is aligned: a later
//! stage must always drain, or the exchange could deadlock (see
//! [`super::exchange`]).
//!
//! # Idleness
//! With idle timeouts (an ASOF join follows them), a port whose feeds have
//! sent nothing for its timeout is reported idle, and active again when a
//! message comes (see [`Inputs::idle_change`]).

use super::message::Message;
use super::ring::{Consumer, Producer};
use crate::data::Batch;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Where one feed's messages come from.
enum Feed {
    /// A router's or another shard's ring; spent batches of a router's go
    /// back on its return ring.
    Ring {
        consumer: Consumer<Message>,
        returns: Option<Producer<Batch>>,
    },
    /// This shard's own earlier stage.
    Local(VecDeque<Message>),
}

struct Input {
    feed: Feed,
    port: usize,
    /// The feed's latest watermark (`i64::MIN`: none yet).
    watermark: i64,
    /// The feed has sent end of input (or its ring was abandoned).
    ended: bool,
    /// The feed sent the barrier of the checkpoint its stage is aligning
    /// (see the module docs).
    at_barrier: bool,
    /// A router's ring: held at a barrier (else read on into `stash`).
    holds: bool,
    /// Messages read after the barrier, before the stage aligned.
    stash: VecDeque<Message>,
    /// ... and it ended without finishing its input (see the module docs).
    failed: bool,
}

/// The inputs of one shard (see the module docs).
pub struct Inputs {
    rings: Vec<Input>,
    /// Feed indices by port, highest port first.
    by_port: Vec<(usize, Vec<usize>)>,
    /// Per port group (as `by_port`), the feed to try first.
    turn: Vec<usize>,
    /// Per port, the watermark last handed out (`i64::MIN`: none yet).
    watermarks: Vec<i64>,
    /// Per port, whether its stage may not take input now.
    blocked: Vec<bool>,
    /// Left ports of joins that read a table first: each waits until the
    /// port after it has ended.
    table_first: Vec<usize>,
    idle_timeouts: Vec<Option<Duration>>,
    last_active: Vec<Instant>,
    idle: Vec<bool>,
    woke: Option<usize>,
    /// The feed of the last message popped.
    from: usize,
    /// Per stage, the checkpoint whose barrier some of its feeds have sent,
    /// until all have.
    aligning: Vec<Option<u64>>,
    ended: bool,
    /// Some feed ended failed (see the module docs).
    failed: bool,
}

impl Inputs {
    /// The inputs over router or exchange rings: `ports[i]` is the port of
    /// `consumers[i]`, `returns[i]` its router's return ring (`None` for an
    /// exchange ring). Each port in `table_first` waits for the port after
    /// it to end.
    /// `idle_timeouts` per port (empty: no port goes idle).
    pub fn new(
        consumers: Vec<Consumer<Message>>,
        returns: Vec<Option<Producer<Batch>>>,
        ports: Vec<usize>,
        table_first: Vec<usize>,
        idle_timeouts: Vec<Option<Duration>>,
    ) -> Inputs {
        debug_assert_eq!(consumers.len(), returns.len());
        debug_assert_eq!(consumers.len(), ports.len());
        let rings = consumers
            .into_iter()
            .zip(returns)
            .zip(ports)
            .map(|((consumer, returns), port)| Input {
                holds: returns.is_some(),
                feed: Feed::Ring { consumer, returns },
                port,
                watermark: i64::MIN,
                ended: false,
                at_barrier: false,
                stash: VecDeque::new(),
                failed: false,
            })
            .collect();
        let watched = idle_timeouts.iter().any(Option::is_some);
        let idle_timeouts = if watched { idle_timeouts } else { Vec::new() };
        let mut inputs = Inputs {
            rings,
            by_port: Vec::new(),
            turn: Vec::new(),
            watermarks: Vec::new(),
            blocked: Vec::new(),
            table_first,
            last_active: vec![Instant::now(); idle_timeouts.len()],
            idle: vec![false; idle_timeouts.len()],
            idle_timeouts,
            woke: None,
            from: 0,
            aligning: Vec::new(),
            ended: false,
            failed: false,
        };
        inputs.index_ports();
        inputs
    }

    /// Adds the local feed of port `port` (this shard's own earlier stage);
    /// returns its index for [`push_local`](Self::push_local).
    pub fn add_local(&mut self, port: usize) -> usize {
        self.rings.push(Input {
            feed: Feed::Local(VecDeque::new()),
            port,
            watermark: i64::MIN,
            ended: false,
            at_barrier: false,
            holds: false,
            stash: VecDeque::new(),
            failed: false,
        });
        self.index_ports();
        self.rings.len() - 1
    }

    fn index_ports(&mut self) {
        let ports = self.rings.iter().map(|r| r.port).max().map_or(1, |p| p + 1);
        self.watermarks.resize(ports, i64::MIN);
        self.blocked.resize(ports, false);
        self.by_port = (0..ports)
            .rev()
            .map(|p| {
                let feeds = (0..self.rings.len())
                    .filter(|&i| self.rings[i].port == p)
                    .collect();
                (p, feeds)
            })
            .filter(|(_, feeds): &(usize, Vec<usize>)| !feeds.is_empty())
            .collect();
        self.turn = vec![0; self.by_port.len()];
        let by_port = &self.by_port;
        self.table_first
            .retain(|&left| by_port.iter().any(|(p, _)| *p == left + 1));
    }

    /// Queues `message` on local feed `feed`.
    pub fn push_local(&mut self, feed: usize, message: Message) {
        if let Feed::Local(queue) = &mut self.rings[feed].feed {
            queue.push_back(message);
        }
    }

    /// Whether port `port`'s stage may take input (see the module docs).
    pub fn set_blocked(&mut self, port: usize, blocked: bool) {
        if let Some(b) = self.blocked.get_mut(port) {
            *b = blocked;
        }
    }

    /// The watermark last handed out for `port` (`i64::MAX` once it ended).
    pub fn watermark(&self, port: usize) -> i64 {
        self.watermarks.get(port).copied().unwrap_or(i64::MIN)
    }

    /// Hands a batch the shard has finished with back, emptied, to the
    /// router of the last message popped, to be filled again. If that ring
    /// is full (the router is not taking them back), or the message came
    /// from a shard, the batch is freed.
    pub fn give_back(&mut self, mut batch: Batch) {
        if let Feed::Ring {
            returns: Some(returns),
            ..
        } = &mut self.rings[self.from].feed
        {
            batch.clear();
            // A full ring hands the batch back, and it is dropped here.
            let _ = returns.push(batch);
        }
    }

    /// Whether a feed has ended without finishing its input: the run
    /// failed, and what the shard holds is the result of part of it.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Whether every feed of `port` has ended (cleanly or failed).
    pub fn port_ended(&self, port: usize) -> bool {
        self.rings
            .iter()
            .filter(|r| r.port == port)
            .all(|r| r.ended)
    }

    /// The next message and its port, or `None` when every readable feed
    /// is empty. Once a feed has failed, a port whose feeds have all ended
    /// comes as `(port, Message::Failed)`; once every feed has ended,
    /// [`Message::EndOfInput`] (ask [`failed`](Self::failed) whether the
    /// input was finished).
    pub fn pop(&mut self) -> Option<(usize, Message)> {
        loop {
            if self.ended {
                return Some((0, Message::EndOfInput));
            }
            let (i, message) = self.pop_any()?;
            let port = self.rings[i].port;
            match message {
                Message::Watermark(w) => {
                    let ring = &mut self.rings[i];
                    ring.watermark = ring.watermark.max(w);
                }
                Message::EndOfInput | Message::Failed => {
                    let failed = matches!(message, Message::Failed);
                    self.rings[i].ended = true;
                    self.rings[i].failed = failed;
                    self.failed |= failed;
                    if self.rings.iter().all(|r| r.ended) {
                        self.ended = true;
                        continue;
                    }
                    // Once the run has failed, a port's end (whichever feed
                    // ends it) is reported as such, not as a watermark.
                    if self.failed && self.port_ended(port) {
                        return Some((port, Message::Failed));
                    }
                    if let Some(epoch) = self.aligned(port / 2) {
                        return Some((port - port % 2, Message::Barrier(epoch)));
                    }
                }
                Message::Barrier(epoch) => {
                    self.rings[i].at_barrier = true;
                    let stage = port / 2;
                    if self.aligning.len() <= stage {
                        self.aligning.resize(stage + 1, None);
                    }
                    self.aligning[stage] = Some(epoch);
                    match self.aligned(stage) {
                        Some(epoch) => return Some((port - port % 2, Message::Barrier(epoch))),
                        None => continue,
                    }
                }
                data_or_flush => return Some((port, data_or_flush)),
            }
            // A feed's watermark or end moved: is the smallest watermark of
            // the port's feeds still running (or failed: those hold theirs)
            // news?
            let feeds = self.rings.iter().filter(|r| r.port == port);
            let running = feeds
                .clone()
                .filter(|r| !r.ended || r.failed)
                .map(|r| r.watermark)
                .min();
            let low = running.unwrap_or(i64::MAX);
            if low > self.watermarks[port] {
                self.watermarks[port] = low;
                return Some((port, Message::Watermark(low)));
            }
        }
    }

    /// The checkpoint stage `stage` is aligning, once every feed of its
    /// ports still running has sent its barrier; they are then read again
    /// (a stash first).
    fn aligned(&mut self, stage: usize) -> Option<u64> {
        let epoch = (*self.aligning.get(stage)?)?;
        let mut feeds = self.rings.iter_mut().filter(|r| r.port / 2 == stage);
        if !feeds.all(|r| r.ended || r.at_barrier) {
            return None;
        }
        self.aligning[stage] = None;
        (self.rings.iter_mut())
            .filter(|r| r.port / 2 == stage)
            .for_each(|r| r.at_barrier = false);
        Some(epoch)
    }

    /// Whether feed `i` may be read now: not ended, not waiting at a
    /// barrier, its port not blocked, and not a join's left port waiting
    /// for its table.
    fn readable(&self, i: usize) -> bool {
        let ring = &self.rings[i];
        let waits_for_table = !self.failed
            && self.table_first.contains(&ring.port)
            && self.watermarks.get(ring.port + 1) != Some(&i64::MAX);
        let held = ring.at_barrier && ring.holds;
        !ring.ended && !held && !self.blocked[ring.port] && !waits_for_table
    }

    /// A message from the first readable feed (highest port first, feeds of
    /// a port in turn) that has one, with the feed's index; a ring
    /// abandoned without end of input reads as end.
    fn pop_any(&mut self) -> Option<(usize, Message)> {
        for g in 0..self.by_port.len() {
            let n = self.by_port[g].1.len();
            for k in 0..n {
                let at = (self.turn[g] + k) % n;
                let i = self.by_port[g].1[at];
                if !self.readable(i) {
                    continue;
                }
                let input = &mut self.rings[i];
                if !input.at_barrier {
                    if let Some(m) = input.stash.pop_front() {
                        self.turn[g] = (at + 1) % n;
                        self.from = i;
                        return Some((i, m));
                    }
                }
                let message = match &mut self.rings[i].feed {
                    Feed::Local(queue) => match queue.pop_front() {
                        Some(m) => m,
                        None => continue,
                    },
                    Feed::Ring { consumer, .. } => match consumer.pop() {
                        Some(m) => m,
                        // Abandoned: every push happened before, so one more
                        // pop sees any message pushed since the empty one;
                        // abandoned without an end, the sender failed.
                        None if consumer.is_abandoned() => {
                            consumer.pop().unwrap_or(Message::Failed)
                        }
                        None => continue,
                    },
                };
                if self.rings[i].at_barrier {
                    // After its barrier, before the stage aligned.
                    self.rings[i].stash.push_back(message);
                    continue;
                }
                self.turn[g] = (at + 1) % n;
                self.from = i;
                self.touch(self.rings[i].port);
                return Some((i, message));
            }
        }
        None
    }

    /// A message came on `port`: it is active.
    fn touch(&mut self, port: usize) {
        if let Some(last) = self.last_active.get_mut(port) {
            *last = Instant::now();
            if std::mem::take(&mut self.idle[port]) {
                self.woke = Some(port);
            }
        }
    }

    /// Whether some port's input may go idle: the caller then asks
    /// [`idle_change`](Self::idle_change) as it goes.
    pub fn watches_idleness(&self) -> bool {
        !self.idle_timeouts.is_empty()
    }

    /// A port that went idle (quiet for its idle timeout; `true`) or sent
    /// again (`false`) since the last call.
    pub fn idle_change(&mut self) -> Option<(usize, bool)> {
        if let Some(port) = self.woke.take() {
            return Some((port, false));
        }
        let now = Instant::now();
        let port = (0..self.idle_timeouts.len()).find(|&p| {
            self.idle_deadline_of(p)
                .is_some_and(|deadline| now >= deadline)
        })?;
        self.idle[port] = true;
        Some((port, true))
    }

    /// When port `p` goes idle if nothing comes: `None` for a port without
    /// a timeout, idle already, or ended.
    fn idle_deadline_of(&self, p: usize) -> Option<Instant> {
        let timeout = self.idle_timeouts[p]?;
        (!self.idle[p] && self.watermark(p) != i64::MAX).then(|| self.last_active[p] + timeout)
    }

    /// The earliest time a port goes idle, for a parked shard to wake by.
    pub fn idle_deadline(&self) -> Option<Instant> {
        (0..self.idle_timeouts.len())
            .filter_map(|p| self.idle_deadline_of(p))
            .min()
    }

    /// Whether a message may be waiting: for the idle check before parking.
    pub fn has_work(&self) -> bool {
        self.ended
            || (0..self.rings.len()).any(|i| {
                let input = &self.rings[i];
                let stashed = !input.at_barrier && !input.stash.is_empty();
                self.readable(i)
                    && (stashed
                        || match &input.feed {
                            Feed::Local(queue) => !queue.is_empty(),
                            Feed::Ring { consumer, .. } => {
                                !consumer.is_empty() || consumer.is_abandoned()
                            }
                        })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Schema;
    use crate::runtime::ring::ring;

    fn kind(m: Option<(usize, Message)>) -> String {
        match m {
            Some((p, Message::Data(b))) => format!("{p}: data {}", b.len),
            Some((p, Message::Copy(b))) => format!("{p}: copy {}", b.len),
            Some((p, Message::Partial { groups, .. })) => {
                format!("{p}: partial {}", groups.owner.len())
            }
            Some((p, Message::Watermark(w))) => format!("{p}: watermark {w}"),
            Some((p, Message::Flush)) => format!("{p}: flush"),
            Some((_, Message::EndOfInput)) => "end".into(),
            Some((p, Message::Barrier(n))) => format!("{p}: barrier {n}"),
            Some((p, Message::Failed)) => format!("{p}: failed"),
            None => "none".into(),
        }
    }

    #[test]
    fn a_failed_feed_holds_its_ports_watermark_and_the_end_says_so() {
        let (mut a, ra) = ring(8);
        let (mut b, rb) = ring(8);
        let (mut t, rt) = ring(8);
        // Two routers of port 0, and a table read first on port 1.
        let mut inputs = Inputs::new(
            vec![ra, rb, rt],
            vec![None, None, None],
            vec![0, 0, 1],
            vec![0],
            Vec::new(),
        );
        t.push(Message::Watermark(5)).unwrap();
        assert_eq!(kind(inputs.pop()), "1: watermark 5");
        a.push(Message::Watermark(10)).unwrap();
        b.push(Message::Watermark(20)).unwrap();
        assert_eq!(kind(inputs.pop()), "none", "port 0 waits for the table");
        // The table's reader fails: port 0 is read after all (its routers
        // must not wait on a ring nobody reads), and port 1 has ended.
        t.push(Message::Failed).unwrap();
        assert_eq!(kind(inputs.pop()), "1: failed");
        assert!(inputs.failed() && inputs.port_ended(1));
        assert_eq!(kind(inputs.pop()), "0: watermark 10");
        a.push(Message::Failed).unwrap();
        b.push(Message::Watermark(30)).unwrap();
        b.push(data()).unwrap();
        assert_eq!(
            kind(inputs.pop()),
            "0: data 0",
            "no watermark past the failed router's"
        );
        drop(b);
        assert_eq!(kind(inputs.pop()), "end", "every feed has ended");
        assert!(inputs.failed());
    }

    fn data() -> Message {
        Message::Data(Batch::with_capacity(&Schema::default(), 0))
    }

    #[test]
    fn the_watermark_is_the_smallest_of_the_running_routers() {
        let (mut a, ra) = ring(8);
        let (mut b, rb) = ring(8);
        let mut inputs = Inputs::new(
            vec![ra, rb],
            vec![None, None],
            vec![0, 0],
            Vec::new(),
            Vec::new(),
        );
        a.push(Message::Watermark(50)).unwrap();
        assert_eq!(kind(inputs.pop()), "none", "router b has no watermark yet");
        b.push(Message::Watermark(30)).unwrap();
        assert_eq!(kind(inputs.pop()), "0: watermark 30");
        b.push(Message::EndOfInput).unwrap();
        assert_eq!(
            kind(inputs.pop()),
            "0: watermark 50",
            "an ended router holds nothing back"
        );
        // The largest event time is a watermark like any other: the router
        // has not ended, and its data still comes through.
        a.push(Message::Watermark(i64::MAX)).unwrap();
        a.push(data()).unwrap();
        assert_eq!(kind(inputs.pop()), format!("0: watermark {}", i64::MAX));
        assert_eq!(kind(inputs.pop()), "0: data 0");
        assert_eq!(kind(inputs.pop()), "none");
        drop(a); // abandoned without end of input: that router ends
        assert_eq!(kind(inputs.pop()), "end");
    }

    #[test]
    fn a_barrier_holds_its_ring_until_every_running_ring_sent_it() {
        let (mut p0, c0) = ring::<Message>(8);
        let (mut p1, c1) = ring::<Message>(8);
        let (mut p2, c2) = ring::<Message>(8);
        let mut inputs = Inputs::new(
            vec![c0, c1, c2],
            vec![None, None, None],
            vec![0, 0, 0],
            Vec::new(),
            Vec::new(),
        );
        p0.push(Message::Barrier(1)).unwrap();
        p0.push(data()).unwrap();
        p1.push(data()).unwrap();
        p1.push(Message::Barrier(1)).unwrap();
        p2.push(Message::EndOfInput).unwrap();
        // Ring 1's row before its barrier; ring 0's row waits; ring 2 ended.
        let one_row = kind(Some((0, data())));
        assert_eq!(kind(inputs.pop()), one_row);
        assert_eq!(kind(inputs.pop()), "0: barrier 1");
        assert_eq!(kind(inputs.pop()), one_row);
        assert_eq!(kind(inputs.pop()), "none");
    }

    #[test]
    fn later_stages_first_and_a_blocked_stage_waits() {
        let (mut r, router) = ring(8);
        let (mut s, shard) = ring(8);
        let mut inputs = Inputs::new(
            vec![router, shard],
            vec![None, None],
            vec![0, 2],
            Vec::new(),
            Vec::new(),
        );
        let local = inputs.add_local(2);
        r.push(data()).unwrap();
        s.push(data()).unwrap();
        inputs.push_local(local, data());
        assert_eq!(kind(inputs.pop()), "2: data 0");
        assert_eq!(kind(inputs.pop()), "2: data 0");
        inputs.set_blocked(0, true);
        assert_eq!(kind(inputs.pop()), "none", "stage 0 is blocked");
        inputs.set_blocked(0, false);
        assert_eq!(kind(inputs.pop()), "0: data 0");
        // Port 0 ends: its watermark is the largest; port 2 runs on.
        r.push(Message::EndOfInput).unwrap();
        assert_eq!(kind(inputs.pop()), format!("0: watermark {}", i64::MAX));
        s.push(Message::EndOfInput).unwrap();
        assert_eq!(kind(inputs.pop()), "none", "the local feed has not ended");
        inputs.push_local(local, Message::EndOfInput);
        assert_eq!(kind(inputs.pop()), "end");
    }

    #[test]
    fn a_table_read_first_holds_port_0_until_port_1_ends() {
        let (mut stream, s) = ring(8);
        let (mut table, t) = ring(8);
        let mut inputs = Inputs::new(
            vec![s, t],
            vec![None, None],
            vec![0, 1],
            vec![0],
            Vec::new(),
        );
        stream.push(data()).unwrap();
        table.push(data()).unwrap();
        assert_eq!(kind(inputs.pop()), "1: data 0");
        assert_eq!(kind(inputs.pop()), "none", "the table has not ended");
        table.push(Message::EndOfInput).unwrap();
        assert_eq!(kind(inputs.pop()), format!("1: watermark {}", i64::MAX));
        assert_eq!(kind(inputs.pop()), "0: data 0");
    }
}
