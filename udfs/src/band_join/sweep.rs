//! The per-partition sweep behind [`BandJoinExec`](super::BandJoinExec).
//!
//! Both inputs arrive sorted by `(keys, time)`. The left input is streamed
//! one row at a time; the right rows of the current key whose time can still
//! fall in a later left row's band are kept in a window (a deque in right
//! input order). Because both band bounds grow with the left time, a right
//! row below the current lower bound can never match again and leaves the
//! window from the front, and right rows are read only up to the current
//! upper bound. Each right row is therefore read once, and memory per key is
//! the window, not the key's history.
//!
//! Candidate pairs (every window row is inside the band of the current left
//! row) are collected up to `batch_size`, then the residual filter is
//! evaluated on them at once ("resolving"), output rows are gathered with
//! `interleave` and handed to a [`BatchCoalescer`].
//!
//! Outer joins: an unmatched left row is emitted NULL-padded in its place
//! (so Inner and Left outputs keep the left input's order); a right row's
//! "matched" flag lives with its batch, and a right batch's unmatched rows
//! are emitted when the batch leaves memory (after resolving the pairs that
//! could still match it).
//!
//! The sweep is synchronous: [`Sweep::step`] says which input it needs next
//! or that output is ready, and [`spawn`] feeds it from the input streams in
//! a task of its own.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BooleanArray, RecordBatch, RecordBatchOptions,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::compute::{cast, interleave, BatchCoalescer, SortOptions};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::{internal_err, JoinSide, JoinType, Result};
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_expr::PhysicalExprRef;
use datafusion::physical_plan::joins::utils::{ColumnIndex, JoinFilter};
use datafusion::physical_plan::metrics::{BaselineMetrics, Count, ExecutionPlanMetricsSet, Gauge, MetricBuilder};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;

use super::band::Band;

/// What the sweep needs to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    NeedLeft,
    NeedRight,
    /// Completed output batches are ready in [`Sweep::next_output`].
    Output,
    Done,
}

/// Everything about the join the sweep needs, shared by all partitions.
#[derive(Debug)]
pub(crate) struct SweepSpec {
    pub join_type: JoinType,
    pub band: Band,
    pub left_keys: Vec<PhysicalExprRef>,
    pub right_keys: Vec<PhysicalExprRef>,
    /// Data types of the keys (identical on both sides).
    pub key_types: Vec<DataType>,
    /// Sort options the inputs are sorted with (keys and time).
    pub sort_options: SortOptions,
    pub residual: Option<JoinFilter>,
    pub output_schema: SchemaRef,
    /// Where each output column comes from.
    pub output_columns: Vec<ColumnIndex>,
}

/// Per-partition metrics.
#[derive(Debug, Clone)]
pub(crate) struct SweepMetrics {
    pub baseline: BaselineMetrics,
    pub left_rows: Count,
    pub right_rows: Count,
    /// Pairs inside the band (before the residual filter).
    pub candidate_pairs: Count,
    /// Largest number of right rows held in the window at once.
    pub peak_window_rows: Gauge,
}

impl SweepMetrics {
    pub fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> Self {
        Self {
            baseline: BaselineMetrics::new(metrics, partition),
            left_rows: MetricBuilder::new(metrics).counter("left_input_rows", partition),
            right_rows: MetricBuilder::new(metrics).counter("right_input_rows", partition),
            candidate_pairs: MetricBuilder::new(metrics).counter("candidate_pairs", partition),
            peak_window_rows: MetricBuilder::new(metrics).gauge("peak_window_rows", partition),
        }
    }
}

/// One input batch with its keys and times decoded.
struct SideBatch {
    batch: RecordBatch,
    /// Keys in the row format (ordered like the input); `None` without keys.
    keys: Option<Rows>,
    /// Raw time values (valid where `usable`).
    times: ScalarBuffer<i64>,
    /// Rows that can match at all: no NULL key, no NULL time.
    usable: Option<NullBuffer>,
    /// Right rows that passed the whole join condition (outer joins only).
    matched: Vec<bool>,
    memory: usize,
}

impl SideBatch {
    fn new(
        batch: RecordBatch,
        keys: &[PhysicalExprRef],
        converter: Option<&RowConverter>,
        time_index: usize,
        track_matches: bool,
    ) -> Result<Self> {
        let n = batch.num_rows();
        let key_arrays = keys.iter().map(|k| k.evaluate(&batch)?.into_array(n)).collect::<Result<Vec<ArrayRef>>>()?;
        let keys = converter.map(|c| c.convert_columns(&key_arrays)).transpose()?;
        let time = cast(batch.column(time_index), &DataType::Int64)?;
        let mut usable = time.logical_nulls();
        for array in &key_arrays {
            usable = NullBuffer::union(usable.as_ref(), array.logical_nulls().as_ref());
        }
        let times = time.as_primitive::<Int64Type>().values().clone();
        let matched = if track_matches { vec![false; n] } else { Vec::new() };
        let memory = batch.get_array_memory_size()
            + keys.as_ref().map_or(0, Rows::size)
            + times.inner().capacity()
            + matched.capacity();
        Ok(Self { batch, keys, times, usable, matched, memory })
    }

    fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    fn usable(&self, row: usize) -> bool {
        self.usable.as_ref().is_none_or(|n| n.is_valid(row))
    }
}

/// Batches of one side still in memory, numbered by arrival.
struct Store {
    /// Number of the first batch in `batches`.
    base: usize,
    batches: VecDeque<SideBatch>,
}

impl Store {
    fn new() -> Self {
        Self { base: 0, batches: VecDeque::new() }
    }

    /// Number the next batch will get.
    fn end(&self) -> usize {
        self.base + self.batches.len()
    }

    fn get(&self, id: usize) -> &SideBatch {
        &self.batches[id - self.base]
    }

    /// Index of batch `id` among the sources of [`Sweep::gather`] (0 is the NULL row).
    fn source(&self, id: usize) -> usize {
        id - self.base + 1
    }
}

/// A row of a side: batch number and row in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    batch: usize,
    row: usize,
}

/// A right row in the window.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pos: Pos,
    value: i128,
}

/// The end of a left row's candidates in the pending pairs (outer joins).
#[derive(Debug, Clone, Copy)]
struct Mark {
    left: Pos,
    /// Index in the pending pairs just past this left row's candidates.
    end: usize,
    /// Whether these are the row's last candidates.
    last: bool,
}

/// A left row whose candidates are being listed, from window index `next`.
#[derive(Debug, Clone, Copy)]
struct Expanding {
    left: Pos,
    next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Sweep,
    /// The left input is finished: emit what is left of the right.
    Drain,
    Done,
}

pub(crate) struct Sweep {
    spec: Arc<SweepSpec>,
    preserve_left: bool,
    preserve_right: bool,
    batch_size: usize,
    converter: Option<RowConverter>,

    left: Store,
    left_pos: Pos,
    left_done: bool,
    right: Store,
    right_pos: Pos,
    right_done: bool,

    /// Key of the current group; `None` before the first left row (or, without keys, always).
    current_key: Option<OwnedRow>,
    group_started: bool,
    /// Last usable left time of the current group, to check the input order.
    last_left_time: i64,
    window: VecDeque<Entry>,
    expanding: Option<Expanding>,

    pending_left: Vec<Pos>,
    pending_right: Vec<Pos>,
    marks: Vec<Mark>,
    /// Whether the left row whose candidates span several resolutions has matched.
    left_row_matched: bool,

    phase: Phase,
    coalescer: BatchCoalescer,
    metrics: SweepMetrics,
    reservation: MemoryReservation,
}

impl Sweep {
    pub fn try_new(
        spec: Arc<SweepSpec>,
        batch_size: usize,
        metrics: SweepMetrics,
        reservation: MemoryReservation,
    ) -> Result<Self> {
        let converter = if spec.key_types.is_empty() {
            None
        } else {
            let fields =
                spec.key_types.iter().map(|t| SortField::new_with_options(t.clone(), spec.sort_options)).collect();
            Some(RowConverter::new(fields)?)
        };
        let batch_size = batch_size.max(1);
        let (preserve_left, preserve_right) = match spec.join_type {
            JoinType::Inner => (false, false),
            JoinType::Left => (true, false),
            JoinType::Right => (false, true),
            JoinType::Full => (true, true),
            other => return internal_err!("BandJoinExec does not support {other} joins"),
        };
        let coalescer = BatchCoalescer::new(Arc::clone(&spec.output_schema), batch_size);
        Ok(Self {
            spec,
            preserve_left,
            preserve_right,
            batch_size,
            converter,
            left: Store::new(),
            left_pos: Pos { batch: 0, row: 0 },
            left_done: false,
            right: Store::new(),
            right_pos: Pos { batch: 0, row: 0 },
            right_done: false,
            current_key: None,
            group_started: false,
            last_left_time: i64::MIN,
            window: VecDeque::new(),
            expanding: None,
            pending_left: Vec::new(),
            pending_right: Vec::new(),
            marks: Vec::new(),
            left_row_matched: false,
            phase: Phase::Sweep,
            coalescer,
            metrics,
            reservation,
        })
    }

    pub fn metrics(&self) -> &SweepMetrics {
        &self.metrics
    }

    /// A completed output batch, if any.
    pub fn next_output(&mut self) -> Option<RecordBatch> {
        self.coalescer.next_completed_batch()
    }

    /// Feeds the next left batch (`None` at the end of the left input).
    pub fn push_left(&mut self, batch: Option<RecordBatch>) -> Result<()> {
        let Some(batch) = batch else {
            self.left_done = true;
            return Ok(());
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.metrics.left_rows.add(batch.num_rows());
        // Every stored left batch is consumed: resolve the pairs pointing at them and let them go.
        self.resolve()?;
        while let Some(old) = self.left.batches.pop_front() {
            self.left.base += 1;
            self.reservation.shrink(old.memory);
        }
        let side =
            SideBatch::new(batch, &self.spec.left_keys, self.converter.as_ref(), self.spec.band.left.index, false)?;
        self.reservation.try_grow(side.memory)?;
        self.left.batches.push_back(side);
        Ok(())
    }

    /// Feeds the next right batch (`None` at the end of the right input).
    pub fn push_right(&mut self, batch: Option<RecordBatch>) -> Result<()> {
        let Some(batch) = batch else {
            self.right_done = true;
            return Ok(());
        };
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.metrics.right_rows.add(batch.num_rows());
        let live = self.window.front().map_or(self.right_pos.batch, |e| e.pos.batch);
        self.release_right(live)?;
        let side = SideBatch::new(
            batch,
            &self.spec.right_keys,
            self.converter.as_ref(),
            self.spec.band.right.index,
            self.preserve_right,
        )?;
        self.reservation.try_grow(side.memory)?;
        self.right.batches.push_back(side);
        Ok(())
    }

    /// Runs until an input is needed, output is ready, or the join is done.
    pub fn step(&mut self) -> Result<Step> {
        loop {
            if self.coalescer.has_completed_batch() {
                return Ok(Step::Output);
            }
            match self.phase {
                Phase::Done => return Ok(Step::Done),
                Phase::Drain => {
                    self.resolve()?;
                    if self.preserve_right {
                        self.window.clear();
                        self.release_right(self.right.end())?;
                        if !self.right_done {
                            return Ok(Step::NeedRight);
                        }
                    }
                    self.coalescer.finish_buffered_batch()?;
                    self.phase = Phase::Done;
                    continue;
                }
                Phase::Sweep => {}
            }
            if let Some(expanding) = self.expanding.take() {
                self.expand(expanding)?;
                continue;
            }
            if self.left_pos.batch == self.left.end() {
                if !self.left_done {
                    return Ok(Step::NeedLeft);
                }
                self.phase = Phase::Drain;
                continue;
            }
            if !self.preserve_left
                && self.window.is_empty()
                && self.right_done
                && self.right_pos.batch == self.right.end()
            {
                // Nothing on the right can match any more left row.
                self.phase = Phase::Drain;
                continue;
            }
            let l = self.left_pos;
            let left_batch = self.left.get(l.batch);
            if !left_batch.usable(l.row) {
                self.finish_left_row(l)?;
                continue;
            }
            let left_time = left_batch.times[l.row];
            match self.left_key_order(l) {
                Ordering::Equal => {
                    if left_time < self.last_left_time {
                        return internal_err!("BandJoinExec: left input is not sorted on its time column");
                    }
                }
                Ordering::Greater => {
                    self.window.clear();
                    self.current_key = self.left.get(l.batch).keys.as_ref().map(|rows| rows.row(l.row).owned());
                    self.group_started = true;
                }
                Ordering::Less => return internal_err!("BandJoinExec: left input is not sorted on its keys"),
            }
            self.last_left_time = left_time;
            let (lower, upper) = self.spec.band.window(left_time);
            if let Some(step) = self.fill_window(lower, upper) {
                return Ok(step);
            }
            while self.window.front().is_some_and(|e| e.value < lower) {
                self.window.pop_front();
            }
            self.metrics.peak_window_rows.set_max(self.window.len());
            self.expanding = Some(Expanding { left: l, next: 0 });
        }
    }

    /// How the key of left row `l` compares with the current group's key.
    fn left_key_order(&self, l: Pos) -> Ordering {
        if !self.group_started {
            return Ordering::Greater;
        }
        match (&self.current_key, &self.left.get(l.batch).keys) {
            (Some(current), Some(rows)) => rows.row(l.row).cmp(&current.row()),
            _ => Ordering::Equal,
        }
    }

    /// Reads right rows of the current key up to `upper`, adding those from
    /// `lower` on to the window. Returns the step to take when the right
    /// input must be read first.
    fn fill_window(&mut self, lower: i128, upper: i128) -> Option<Step> {
        loop {
            if self.right_pos.batch == self.right.end() {
                return (!self.right_done).then_some(Step::NeedRight);
            }
            let r = self.right_pos;
            let batch = self.right.get(r.batch);
            if batch.usable(r.row) {
                let order = match (&self.current_key, &batch.keys) {
                    (Some(current), Some(rows)) => rows.row(r.row).cmp(&current.row()),
                    _ => Ordering::Equal,
                };
                match order {
                    Ordering::Greater => return None,
                    Ordering::Less => {}
                    Ordering::Equal => {
                        let value = self.spec.band.right_value(batch.times[r.row]);
                        if value > upper {
                            return None;
                        }
                        if value >= lower {
                            self.window.push_back(Entry { pos: r, value });
                        }
                    }
                }
            }
            self.right_pos = advance(&self.right, r);
        }
    }

    /// Lists the candidates of a left row (all window rows), resolving
    /// whenever `batch_size` pairs are pending.
    fn expand(&mut self, expanding: Expanding) -> Result<()> {
        let Expanding { left, next } = expanding;
        let room = self.batch_size.saturating_sub(self.pending_len()).max(1);
        let end = self.window.len().min(next + room);
        for entry in self.window.range(next..end) {
            self.pending_left.push(left);
            self.pending_right.push(entry.pos);
        }
        self.metrics.candidate_pairs.add(end - next);
        if end < self.window.len() {
            if self.preserve_left {
                self.marks.push(Mark { left, end: self.pending_right.len(), last: false });
            }
            self.resolve()?;
            self.expanding = Some(Expanding { left, next: end });
            Ok(())
        } else {
            self.finish_left_row(left)
        }
    }

    /// Closes left row `l` (all its candidates are pending) and moves on.
    fn finish_left_row(&mut self, l: Pos) -> Result<()> {
        if self.preserve_left {
            self.marks.push(Mark { left: l, end: self.pending_right.len(), last: true });
        }
        self.left_pos = advance(&self.left, l);
        if self.pending_len() >= self.batch_size {
            self.resolve()?;
        }
        Ok(())
    }

    fn pending_len(&self) -> usize {
        self.pending_right.len() + self.marks.len()
    }

    /// Evaluates the residual filter on the pending pairs, records matches
    /// and emits the output rows (with NULL-padded unmatched left rows).
    fn resolve(&mut self) -> Result<()> {
        if self.pending_right.is_empty() && self.marks.is_empty() {
            return Ok(());
        }
        let mask = match &self.spec.residual {
            Some(filter) if !self.pending_right.is_empty() => Some(self.evaluate_residual(filter)?),
            _ => None,
        };
        let passes = |i: usize| mask.as_ref().is_none_or(|m| m.is_valid(i) && m.value(i));

        if self.preserve_right {
            for (i, r) in self.pending_right.iter().enumerate() {
                if passes(i) {
                    self.right.batches[r.batch - self.right.base].matched[r.row] = true;
                }
            }
        }

        let mut out_left = Vec::with_capacity(self.pending_right.len() + self.marks.len());
        let mut out_right = Vec::with_capacity(out_left.capacity());
        let pair = |i: usize, out_left: &mut Vec<(usize, usize)>, out_right: &mut Vec<(usize, usize)>| {
            let (l, r) = (self.pending_left[i], self.pending_right[i]);
            out_left.push((self.left.source(l.batch), l.row));
            out_right.push((self.right.source(r.batch), r.row));
        };
        if self.preserve_left {
            let mut start = 0;
            for mark in &self.marks {
                for i in start..mark.end {
                    if passes(i) {
                        pair(i, &mut out_left, &mut out_right);
                        self.left_row_matched = true;
                    }
                }
                start = mark.end;
                if mark.last {
                    if !self.left_row_matched {
                        out_left.push((self.left.source(mark.left.batch), mark.left.row));
                        out_right.push((0, 0));
                    }
                    self.left_row_matched = false;
                }
            }
            debug_assert_eq!(start, self.pending_right.len(), "every candidate belongs to a mark");
        } else {
            for i in 0..self.pending_right.len() {
                if passes(i) {
                    pair(i, &mut out_left, &mut out_right);
                }
            }
        }
        self.pending_left.clear();
        self.pending_right.clear();
        self.marks.clear();
        if !out_left.is_empty() {
            let batch = self.gather(&self.spec.output_schema, &self.spec.output_columns, &out_left, &out_right)?;
            self.coalescer.push_batch(batch)?;
        }
        Ok(())
    }

    fn evaluate_residual(&self, filter: &JoinFilter) -> Result<BooleanArray> {
        let left: Vec<(usize, usize)> = self.pending_left.iter().map(|l| (self.left.source(l.batch), l.row)).collect();
        let right: Vec<(usize, usize)> =
            self.pending_right.iter().map(|r| (self.right.source(r.batch), r.row)).collect();
        let batch = self.gather(filter.schema(), filter.column_indices(), &left, &right)?;
        let result = filter.expression().evaluate(&batch)?.into_array(batch.num_rows())?;
        match result.as_boolean_opt() {
            Some(mask) => Ok(mask.clone()),
            None => internal_err!("BandJoinExec: residual filter returned {}, not booleans", result.data_type()),
        }
    }

    /// Lets right batches numbered below `limit` go, emitting their
    /// unmatched rows first for right and full joins.
    fn release_right(&mut self, limit: usize) -> Result<()> {
        if self.right.base >= limit {
            return Ok(());
        }
        // Pending pairs may still match rows of these batches.
        self.resolve()?;
        while self.right.base < limit {
            if self.preserve_right {
                let front = &self.right.batches[0];
                let right: Vec<(usize, usize)> =
                    front.matched.iter().enumerate().filter(|(_, m)| !**m).map(|(row, _)| (1, row)).collect();
                if !right.is_empty() {
                    let left = vec![(0, 0); right.len()];
                    let batch = self.gather(&self.spec.output_schema, &self.spec.output_columns, &left, &right)?;
                    self.coalescer.push_batch(batch)?;
                }
            }
            let old = self.right.batches.pop_front().expect("batch below limit");
            self.right.base += 1;
            self.reservation.shrink(old.memory);
        }
        Ok(())
    }

    /// Builds a batch of `schema` whose columns come from `columns`, taking
    /// left rows at `left` and right rows at `right` (`(source, row)`, source
    /// 0 being a NULL row).
    fn gather(
        &self,
        schema: &SchemaRef,
        columns: &[ColumnIndex],
        left: &[(usize, usize)],
        right: &[(usize, usize)],
    ) -> Result<RecordBatch> {
        let arrays = columns
            .iter()
            .zip(schema.fields())
            .map(|(column, field)| {
                let (store, indices) = match column.side {
                    JoinSide::Left => (&self.left, left),
                    JoinSide::Right => (&self.right, right),
                    JoinSide::None => return internal_err!("BandJoinExec: output column without a side"),
                };
                let nulls = new_null_array(field.data_type(), 1);
                let mut sources: Vec<&dyn Array> = Vec::with_capacity(store.batches.len() + 1);
                sources.push(nulls.as_ref());
                sources.extend(store.batches.iter().map(|b| b.batch.column(column.index).as_ref()));
                Ok(interleave(&sources, indices)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(left.len()));
        Ok(RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options)?)
    }
}

/// The row after `pos` (possibly in a batch not yet read).
fn advance(store: &Store, pos: Pos) -> Pos {
    if pos.row + 1 < store.get(pos.batch).num_rows() {
        Pos { batch: pos.batch, row: pos.row + 1 }
    } else {
        Pos { batch: pos.batch + 1, row: 0 }
    }
}

/// Runs `sweep` over the two input streams in a task of `builder`,
/// sending its output to the stream `builder` builds.
pub(crate) fn spawn(
    builder: &mut RecordBatchReceiverStreamBuilder,
    mut sweep: Sweep,
    mut left: SendableRecordBatchStream,
    mut right: SendableRecordBatchStream,
) {
    let tx = builder.tx();
    builder.spawn(async move {
        let baseline = sweep.metrics().baseline.clone();
        loop {
            let timer = baseline.elapsed_compute().timer();
            let step = sweep.step();
            timer.done();
            match step? {
                Step::NeedLeft => {
                    let batch = next_batch(&mut left).await.transpose()?;
                    let timer = baseline.elapsed_compute().timer();
                    sweep.push_left(batch)?;
                    timer.done();
                }
                Step::NeedRight => {
                    let batch = next_batch(&mut right).await.transpose()?;
                    let timer = baseline.elapsed_compute().timer();
                    sweep.push_right(batch)?;
                    timer.done();
                }
                Step::Output => {
                    while let Some(batch) = sweep.next_output() {
                        baseline.record_output(batch.num_rows());
                        if tx.send(Ok(batch)).await.is_err() {
                            // The consumer is gone: stop quietly.
                            return Ok(());
                        }
                    }
                }
                Step::Done => {
                    baseline.done();
                    return Ok(());
                }
            }
        }
    });
}

async fn next_batch(stream: &mut SendableRecordBatchStream) -> Option<Result<RecordBatch>> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}
