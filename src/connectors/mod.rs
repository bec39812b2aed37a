//! Connectors: EDR alerts from vendor APIs and network telemetry from log
//! files, landed into the lake exactly once.
//!
//! The vendor APIs (Defender, CrowdStrike, SentinelOne) are polled by
//! [`api`] through [`http`] (auth, retries), normalised by [`alerts`] and
//! landed by [`alert_store`] (one version per alert). The rest of this file
//! is the file driver:
//!
//! Zeek (`conn.log`, `dhcp.log`, TSV or JSON) and Suricata (EVE JSON `flow`
//! events) are read line by line from files, folders and `.gz` files, in
//! batches of bounded size, and landed as `network_flows` and `assets` rows
//! (`lake.md`). The rules every connector follows live here, once:
//!
//! * **Bad input never stops good input.** A line that cannot be parsed goes
//!   to `<lake>/_state/quarantine/<source>-<timestamp>.jsonl` with its file,
//!   line number and reason; the rest lands.
//! * **A cursor moves only after the data is durable** (style habit 5). Each
//!   file has a checkpoint (identity + byte offset) in
//!   `<lake>/_state/checkpoints/files.json`, saved only after the batch up to
//!   that offset has landed. Part files are named after (file, start offset),
//!   so a retry after a crash overwrites the same part instead of duplicating.
//! * **Exactly once per flow within a run**: a flow is (`sensor`, `uid`);
//!   repeats are dropped and counted.
//! * **Entities are resolved at landing**: a flow's `entity` is the device
//!   that held `src_ip` at `time` according to `assets` (the lake's rows plus
//!   the DHCP rows of the same run; DHCP files are read first).
//!
//! Layout: this file holds the driver (files, checkpoints, batches,
//! quarantine, entity resolution, the summary) and the value parsers both
//! formats share; [`zeek`] and [`suricata`] turn one line into a row.

pub mod alert_store;
pub mod alerts;
pub mod api;
pub mod crowdstrike;
pub mod http;
pub mod mde;
pub mod sentinelone;
pub mod suricata;
pub mod zeek;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::lake::{schema, LakeError, LakeLocation, LakeWriter};

/// Rows (flows + assets + quarantined lines) per landed batch.
pub const DEFAULT_BATCH_ROWS: usize = 64 * 1024;
/// A progress line is logged every this many batches.
const PROGRESS_EVERY_BATCHES: u64 = 10;
/// Quarantined lines keep at most this many bytes of the original text.
const QUARANTINE_TEXT_MAX: usize = 16 * 1024;
/// Where file checkpoints live, relative to the lake root.
pub const CHECKPOINT_PATH: &str = "_state/checkpoints/files.json";
/// Where quarantined lines go, relative to the lake root.
pub const QUARANTINE_DIR: &str = "_state/quarantine";

/// Errors of an ingest run. Bad lines are not errors (they are quarantined);
/// these are failures to read input or to write the lake.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot read {sensor} input {path}: {source}; check the path and its permissions")]
    Read {
        sensor: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("no input files found in {0}; pass Zeek/Suricata log files or folders that hold them")]
    NoInput(String),
    #[error("failed to land {sensor} batch from {file} into {table}: {source}")]
    Land {
        sensor: &'static str,
        file: String,
        table: &'static str,
        #[source]
        source: Box<LakeError>,
    },
    #[error("failed to {action} {path} in the lake: {reason}")]
    State { action: &'static str, path: String, reason: String },
    #[error(transparent)]
    Api(#[from] http::ApiError),
}

impl From<crate::lake::state::StateFileError> for ConnectorError {
    fn from(e: crate::lake::state::StateFileError) -> Self {
        ConnectorError::State { action: e.action, path: e.path, reason: e.reason }
    }
}

/// Crash-test hook: when `HUNTLAKE_FAILPOINT` names this point, the process
/// aborts right here, like a kill -9 (no destructors, no flushing). The
/// exactly-once tests use it to stop between landing and checkpointing.
pub fn failpoint(name: &str) {
    if std::env::var("HUNTLAKE_FAILPOINT").is_ok_and(|v| v == name) {
        tracing::error!(failpoint = name, "Failpoint reached; aborting the process.");
        std::process::abort();
    }
}

/// Which sensor a run reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Zeek,
    Suricata,
}

impl Source {
    /// The `sensor` column value and the name in summaries and file names.
    pub fn name(self) -> &'static str {
        match self {
            Source::Zeek => "zeek",
            Source::Suricata => "suricata",
        }
    }

    fn parser(self, file_name: &str, state: Option<serde_json::Value>) -> Box<dyn LineParser> {
        match self {
            Source::Zeek => Box::new(zeek::ZeekParser::new(file_name, state)),
            Source::Suricata => Box::new(suricata::SuricataParser),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One connection, before entity resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRow {
    /// Connection start, microseconds since the epoch (UTC).
    pub time: i64,
    pub uid: String,
    pub src_ip: String,
    pub src_port: Option<i32>,
    pub dst_ip: String,
    pub dst_port: Option<i32>,
    pub proto: String,
    pub service: Option<String>,
    pub duration_s: Option<f64>,
    pub bytes_out: Option<i64>,
    pub bytes_in: Option<i64>,
    pub conn_state: Option<String>,
    pub dst_host: Option<String>,
}

/// One address lease (an `assets` row with source `dhcp`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRow {
    pub entity: String,
    pub ip: String,
    pub valid_from: i64,
    pub valid_to: Option<i64>,
}

/// What one input line turned into.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Flow(FlowRow),
    Asset(AssetRow),
    /// A valid record of a kind this connector does not land (counted by kind).
    Skipped(String),
    /// Headers, comments, blank lines.
    Nothing,
}

/// Turns lines of one file into rows. `Err` is the reason the line is
/// quarantined. `state` is what must survive in the checkpoint to resume in
/// the middle of the file (the Zeek TSV header).
pub trait LineParser: Send {
    fn parse(&mut self, line: &str) -> Result<Parsed, String>;
    /// A copy with the same state, to parse a later part of the file on
    /// another thread.
    fn fork(&self) -> Box<dyn LineParser>;
    fn state(&self) -> Option<serde_json::Value> {
        None
    }
}

/// How an ingest run behaves.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub batch_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { batch_rows: DEFAULT_BATCH_ROWS }
    }
}

/// What a run did, per source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    pub source: String,
    /// Files read (fully or from their checkpoint on).
    pub files_read: u64,
    /// Files with nothing new since their checkpoint.
    pub files_unchanged: u64,
    pub lines_read: u64,
    pub flows_landed: u64,
    pub assets_landed: u64,
    pub duplicates_dropped: u64,
    pub quarantined: u64,
    /// Valid records not landed, by Zeek log path or Suricata event type.
    pub skipped: BTreeMap<String, u64>,
    /// Quarantine files written (URLs).
    pub quarantine_files: Vec<String>,
}

impl fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} file(s) read, {} unchanged; {} line(s); landed {} flow(s) and {} asset row(s); \
             {} duplicate(s) dropped; {} quarantined",
            self.source,
            self.files_read,
            self.files_unchanged,
            self.lines_read,
            self.flows_landed,
            self.assets_landed,
            self.duplicates_dropped,
            self.quarantined
        )?;
        if !self.skipped.is_empty() {
            let parts: Vec<String> = self.skipped.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(f, "; skipped {}", parts.join(", "))?;
        }
        for q in &self.quarantine_files {
            write!(f, "\n  quarantine: {q}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Checkpoints

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Checkpoints {
    version: u32,
    files: BTreeMap<String, FileCheckpoint>,
}

/// A file's identity and how far it has landed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FileCheckpoint {
    source: String,
    size: u64,
    mtime_ns: i128,
    inode: Option<u64>,
    gzip: bool,
    /// Bytes consumed (of the decompressed stream for `.gz`).
    offset: u64,
    /// Lines consumed.
    line: u64,
    /// The whole file was read (only meaningful for `.gz`).
    complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<serde_json::Value>,
}

struct Identity {
    size: u64,
    mtime_ns: i128,
    inode: Option<u64>,
    gzip: bool,
}

fn identity(path: &FsPath, meta: &std::fs::Metadata) -> Identity {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        Some(meta.ino())
    };
    #[cfg(not(unix))]
    let inode = None;
    let gzip = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    Identity { size: meta.len(), mtime_ns, inode, gzip }
}

/// Where to start reading a file, or `None` when nothing is new.
/// Plain files resume at their offset while they are the same file (inode)
/// and not shorter (appended logs); `.gz` files resume only when unchanged.
fn resume_point(prev: Option<&FileCheckpoint>, id: &Identity) -> Option<(u64, u64, Option<serde_json::Value>)> {
    let Some(prev) = prev else { return Some((0, 0, None)) };
    if id.gzip {
        let same = prev.gzip && prev.size == id.size && prev.mtime_ns == id.mtime_ns;
        return match (same, prev.complete) {
            (true, true) => None,
            (true, false) => Some((prev.offset, prev.line, prev.state.clone())),
            (false, _) => Some((0, 0, None)),
        };
    }
    let same_file = !prev.gzip && prev.inode == id.inode && id.size >= prev.offset;
    if !same_file {
        return Some((0, 0, None));
    }
    if id.size == prev.offset {
        None
    } else {
        Some((prev.offset, prev.line, prev.state.clone()))
    }
}

// ---------------------------------------------------------------------------
// Duplicate flows

/// The flow ids (`uid`) seen recently in this run, to drop repeated flows
/// (a log copied twice, overlapping rotations) without memory growing with
/// the input: ids are kept as 128-bit hashes in two generations of at most
/// [`RecentUids::GENERATION`] each; the older generation is forgotten when
/// the newer fills. Repeats further apart than that are removed by
/// `huntlake compact`.
#[derive(Default)]
struct RecentUids {
    current: HashSet<u128>,
    previous: HashSet<u128>,
}

impl RecentUids {
    const GENERATION: usize = 1 << 20;

    /// True when `uid` was not seen recently (and remembers it).
    fn insert(&mut self, uid: &str) -> bool {
        use std::hash::{Hash, Hasher};
        let half = |salt: u8| {
            let mut h = std::hash::DefaultHasher::new();
            salt.hash(&mut h);
            uid.hash(&mut h);
            h.finish() as u128
        };
        let key = (half(0) << 64) | half(1);
        if self.previous.contains(&key) || !self.current.insert(key) {
            return false;
        }
        if self.current.len() >= Self::GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        true
    }
}

// ---------------------------------------------------------------------------
// Entity resolution

/// Which device held which address when (the `assets` intervals).
#[derive(Debug, Default)]
pub struct EntityResolver {
    by_ip: HashMap<String, Vec<(i64, Option<i64>, String)>>,
}

impl EntityResolver {
    pub fn add(&mut self, ip: &str, valid_from: i64, valid_to: Option<i64>, entity: &str) {
        self.by_ip.entry(ip.to_string()).or_default().push((valid_from, valid_to, entity.to_string()));
    }

    /// The entity of `ip` at `time`: the interval `[valid_from, valid_to)`
    /// that holds `time`, the latest-starting one if several do.
    pub fn lookup(&self, ip: &str, time: i64) -> Option<&str> {
        self.by_ip
            .get(ip)?
            .iter()
            .filter(|(from, to, _)| *from <= time && to.is_none_or(|to| time < to))
            .max_by_key(|(from, _, _)| *from)
            .map(|(_, _, e)| e.as_str())
    }

    pub fn len(&self) -> usize {
        self.by_ip.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_ip.is_empty()
    }

    /// Reads every `assets` part file of the lake.
    pub async fn from_lake(lake: &LakeLocation) -> Result<Self, ConnectorError> {
        let mut resolver = Self::default();
        let prefix = lake.child("assets");
        let listed: Vec<_> = match lake.store.list(Some(&prefix)).try_collect().await {
            Ok(l) => l,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(state_err("list", &prefix, e)),
        };
        for meta in listed {
            if !meta.location.filename().is_some_and(|n| n.ends_with(".parquet") && !n.starts_with('.')) {
                continue;
            }
            let bytes = lake
                .store
                .get(&meta.location)
                .await
                .map_err(|e| state_err("read", &meta.location, e))?
                .bytes()
                .await
                .map_err(|e| state_err("read", &meta.location, e))?;
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|b| b.build())
                .map_err(|e| state_err("decode", &meta.location, e))?;
            for batch in reader {
                let batch = batch.map_err(|e| state_err("decode", &meta.location, e))?;
                resolver.add_batch(&batch).map_err(|reason| state_err("read assets from", &meta.location, reason))?;
            }
        }
        Ok(resolver)
    }

    fn add_batch(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let col = |name: &str| batch.column_by_name(name).ok_or_else(|| format!("no column {name}"));
        let text = |name: &str| -> Result<StringArray, String> {
            let c = arrow::compute::cast(col(name)?, &DataType::Utf8).map_err(|e| e.to_string())?;
            Ok(c.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
        };
        let time = |name: &str| -> Result<TimestampMicrosecondArray, String> {
            let c = arrow::compute::cast(col(name)?, &ts).map_err(|e| e.to_string())?;
            Ok(c.as_any().downcast_ref::<TimestampMicrosecondArray>().expect("cast to timestamp").clone())
        };
        let (entity, ip, from, to) = (text("entity")?, text("ip")?, time("valid_from")?, time("valid_to")?);
        for i in 0..batch.num_rows() {
            if entity.is_null(i) || ip.is_null(i) || from.is_null(i) {
                continue;
            }
            let to = (!to.is_null(i)).then(|| to.value(i));
            self.add(ip.value(i), from.value(i), to, entity.value(i));
        }
        Ok(())
    }
}

pub(crate) fn state_err(action: &'static str, path: &Path, e: impl fmt::Display) -> ConnectorError {
    ConnectorError::State { action, path: path.to_string(), reason: e.to_string() }
}

// ---------------------------------------------------------------------------
// The driver

/// Ingests files and folders of one source into the lake.
pub async fn ingest(
    lake: &LakeLocation,
    source: Source,
    inputs: &[PathBuf],
    options: &IngestOptions,
) -> Result<IngestSummary, ConnectorError> {
    let files = list_inputs(source, inputs)?;
    if files.is_empty() {
        let shown: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(ConnectorError::NoInput(shown.join(", ")));
    }
    let resolver = EntityResolver::from_lake(lake).await?;
    tracing::info!(source = %source, files = files.len(), asset_intervals = resolver.len(), "Ingest run started.");
    let checkpoints = load_checkpoints(lake).await?;
    let mut run = Run {
        lake: lake.clone(),
        writer: LakeWriter::new(lake.clone()),
        source,
        batch_rows: options.batch_rows.max(1),
        checkpoints,
        touched: BTreeMap::new(),
        parsing: Some(Parsing {
            source,
            resolver,
            seen: RecentUids::default(),
            lines_read: 0,
            duplicates_dropped: 0,
            skipped: BTreeMap::new(),
        }),
        summary: IngestSummary { source: source.name().into(), ..Default::default() },
        batches: 0,
    };
    for file in files {
        run.file(&file).await?;
    }
    let parsing = run.parsing.take().expect("returned after each file");
    run.summary.lines_read = parsing.lines_read;
    run.summary.duplicates_dropped = parsing.duplicates_dropped;
    run.summary.skipped = parsing.skipped;
    let s = &run.summary;
    tracing::info!(
        source = %source, files_read = s.files_read, files_unchanged = s.files_unchanged, flows = s.flows_landed,
        assets = s.assets_landed, duplicates = s.duplicates_dropped, quarantined = s.quarantined, "Ingest run finished."
    );
    Ok(run.summary)
}

/// Files named directly, plus every regular non-hidden file below folders,
/// sorted; DHCP logs come first so flows of the same run resolve entities.
fn list_inputs(source: Source, inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ConnectorError> {
    let read_err = |path: &FsPath, source_err: io::Error| ConnectorError::Read {
        sensor: source.name(),
        path: path.display().to_string(),
        source: source_err,
    };
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = inputs.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).map_err(|e| read_err(&p, e))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&p).map_err(|e| read_err(&p, e))? {
                let entry = entry.map_err(|e| read_err(&p, e))?;
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                stack.push(entry.path());
            }
        } else if meta.is_file() {
            out.push(std::fs::canonicalize(&p).map_err(|e| read_err(&p, e))?);
        }
    }
    let is_dhcp = |p: &PathBuf| p.file_name().is_some_and(|n| n.to_string_lossy().to_ascii_lowercase().contains("dhcp"));
    out.sort_by(|a, b| (!is_dhcp(a), a).cmp(&(!is_dhcp(b), b)));
    out.dedup();
    Ok(out)
}

async fn load_checkpoints(lake: &LakeLocation) -> Result<Checkpoints, ConnectorError> {
    let stored = crate::lake::state::read_json(lake, CHECKPOINT_PATH).await?;
    Ok(stored.unwrap_or(Checkpoints { version: 1, files: BTreeMap::new() }))
}

/// Rows of the current batch of one file.
#[derive(Default)]
struct Batch {
    start_offset: u64,
    flows: Vec<(FlowRow, Option<String>)>,
    assets: Vec<AssetRow>,
    quarantine: Vec<serde_json::Value>,
}

impl Batch {
    /// Sized for a full batch of flows, so rows are not moved while it fills.
    fn with_capacity(start_offset: u64, rows: usize) -> Self {
        Self { start_offset, flows: Vec::with_capacity(rows.min(1 << 20)), ..Default::default() }
    }
}

struct Run {
    lake: LakeLocation,
    writer: LakeWriter,
    source: Source,
    batch_rows: usize,
    checkpoints: Checkpoints,
    /// Checkpoints this run moved, merged into the stored file on each save.
    touched: BTreeMap<String, FileCheckpoint>,
    /// Lines-to-rows state; lent to the parsing thread while a file is read.
    parsing: Option<Parsing>,
    summary: IngestSummary,
    batches: u64,
}

/// The CPU-bound half of reading a file: lines to rows, duplicates and
/// entities. It runs on a blocking thread, so the next batch is parsed
/// while the previous one is encoded and landed.
struct Parsing {
    source: Source,
    resolver: EntityResolver,
    seen: RecentUids,
    lines_read: u64,
    duplicates_dropped: u64,
    skipped: BTreeMap<String, u64>,
}

/// A batch ready to land, and where the file's checkpoint goes after it.
struct Chunk {
    batch: Batch,
    offset: u64,
    line: u64,
    complete: bool,
    state: Option<serde_json::Value>,
}

/// Batches parsed ahead of landing (bounds memory to this many batches).
const PARSE_AHEAD: usize = 2;

/// The file being read.
struct FileCtx {
    key: String,
    name_hash: u64,
    id: Identity,
}

impl Run {
    async fn file(&mut self, path: &FsPath) -> Result<(), ConnectorError> {
        let sensor = self.source.name();
        let read_err = |e: io::Error| ConnectorError::Read { sensor, path: path.display().to_string(), source: e };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        let id = identity(path, &meta);
        let key = path.display().to_string();
        let prev = self.touched.get(&key).or_else(|| self.checkpoints.files.get(&key));
        let Some((offset, line, state)) = resume_point(prev, &id) else {
            tracing::info!(file = %key, "File unchanged since its checkpoint; nothing to read.");
            self.summary.files_unchanged += 1;
            return Ok(());
        };
        tracing::info!(file = %key, offset, gzip = id.gzip, "Reading file.");
        self.summary.files_read += 1;

        let file = std::fs::File::open(path).map_err(read_err)?;
        let reader: Box<dyn BufRead + Send> = if id.gzip {
            let mut r = BufReader::with_capacity(256 * 1024, flate2::read::MultiGzDecoder::new(BufReader::new(file)));
            io::copy(&mut (&mut r).take(offset), &mut io::sink()).map_err(read_err)?;
            Box::new(r)
        } else {
            let mut file = file;
            file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
            Box::new(BufReader::with_capacity(256 * 1024, file))
        };
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let parser = self.source.parser(&file_name, state);
        let ctx = FileCtx { name_hash: fnv1a(&format!("{key}|{}|{:?}", id.mtime_ns, id.inode)), key, id };

        let mut parsing = self.parsing.take().expect("one file at a time");
        let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Chunk>>(PARSE_AHEAD);
        let (key, gzip, batch_rows) = (ctx.key.clone(), ctx.id.gzip, self.batch_rows);
        let thread = tokio::task::spawn_blocking(move || {
            parsing.read(reader, parser, (offset, line), batch_rows, &key, gzip, &tx);
            parsing
        });
        let mut result = Ok(());
        while let Some(message) = rx.recv().await {
            let landed = match message {
                Ok(chunk) => self.flush(&ctx, chunk).await,
                Err(e) => Err(read_err(e)),
            };
            if let Err(e) = landed {
                result = Err(e);
                break;
            }
        }
        drop(rx); // stops the parsing thread if landing failed
        let parsing = thread.await.expect("the parsing thread does not panic");
        self.parsing = Some(parsing);
        result
    }

    /// Lands the batch, then (and only then) moves the file's checkpoint.
    async fn flush(&mut self, ctx: &FileCtx, chunk: Chunk) -> Result<(), ConnectorError> {
        let Chunk { batch, offset, line, complete, state } = chunk;
        let sensor = self.source.name();
        let land_err = |table: &'static str| {
            let file = ctx.key.clone();
            move |source| ConnectorError::Land { sensor, file, table, source: Box::new(source) }
        };
        // Named after (file, start offset): a retry of this batch overwrites it.
        let stem = format!("{sensor}-{:016x}-{:012}", ctx.name_hash, batch.start_offset);
        if !batch.flows.is_empty() {
            let rb = flows_batch(sensor, &batch.flows).map_err(|e| land_err("network_flows")(e.into()))?;
            self.writer.write_named("network_flows", &rb, &stem).await.map_err(land_err("network_flows"))?;
            self.summary.flows_landed += batch.flows.len() as u64;
        }
        if !batch.assets.is_empty() {
            let rb = assets_batch(&batch.assets).map_err(|e| land_err("assets")(e.into()))?;
            self.writer.write_named("assets", &rb, &stem).await.map_err(land_err("assets"))?;
            self.summary.assets_landed += batch.assets.len() as u64;
        }
        if !batch.quarantine.is_empty() {
            let name = format!(
                "{QUARANTINE_DIR}/{sensor}-{}.jsonl",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ")
            );
            let path = self.lake.child(&name);
            let mut body = Vec::new();
            for q in &batch.quarantine {
                serde_json::to_writer(&mut body, q).expect("JSON values encode");
                body.push(b'\n');
            }
            self.lake.store.put(&path, PutPayload::from(body)).await.map_err(|e| state_err("write", &path, e))?;
            let url = format!("{}{name}", self.lake.url);
            tracing::warn!(file = %ctx.key, lines = batch.quarantine.len(), quarantine = %url, "Quarantined lines that could not be parsed.");
            self.summary.quarantined += batch.quarantine.len() as u64;
            self.summary.quarantine_files.push(url);
        }
        let checkpoint = FileCheckpoint {
            source: sensor.into(),
            size: ctx.id.size,
            mtime_ns: ctx.id.mtime_ns,
            inode: ctx.id.inode,
            gzip: ctx.id.gzip,
            offset,
            line,
            complete,
            state,
        };
        self.touched.insert(ctx.key.clone(), checkpoint);
        failpoint("files.after_land");
        self.save_checkpoints().await?;
        self.batches += 1;
        if self.batches.is_multiple_of(PROGRESS_EVERY_BATCHES) {
            tracing::info!(
                source = %sensor, batches = self.batches, flows = self.summary.flows_landed,
                quarantined = self.summary.quarantined, file = %ctx.key, "Ingest progress."
            );
        }
        Ok(())
    }

    /// Re-reads the stored checkpoints and overlays this run's, so a run of
    /// another source in between keeps its entries.
    async fn save_checkpoints(&mut self) -> Result<(), ConnectorError> {
        let mut current = load_checkpoints(&self.lake).await?;
        current.version = 1;
        current.files.extend(self.touched.iter().map(|(k, v)| (k.clone(), v.clone())));
        crate::lake::state::write_json(&self.lake, CHECKPOINT_PATH, &current).await?;
        self.checkpoints = current;
        Ok(())
    }
}

/// A stable 64-bit hash (FNV-1a) for part-file names.
impl Parsing {
    /// Reads the file from `start` = (offset, line) in chunks of
    /// `batch_rows` lines. A reader thread cuts chunks, parser threads (one
    /// per core) parse them, each with a fork of the parser in the state at
    /// the chunk's start, and this thread takes the results in file order
    /// into batches (duplicates, entities, quarantine) and sends one per
    /// chunk to be landed. Stops early when the receiver is gone.
    #[allow(clippy::too_many_arguments)]
    fn read(
        &mut self,
        reader: Box<dyn BufRead + Send>,
        parser: Box<dyn LineParser>,
        start: (u64, u64),
        batch_rows: usize,
        key: &str,
        gzip: bool,
        tx: &tokio::sync::mpsc::Sender<io::Result<Chunk>>,
    ) {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
        let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<Job>(1);
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Done>(workers);
        // `move`: when this thread stops early, dropping the result receiver
        // is what stops the parser threads, and through them the reader.
        std::thread::scope(move |scope| {
            scope.spawn(move || cut_chunks(reader, parser, start, batch_rows, key, gzip, job_tx));
            for _ in 0..workers {
                let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
                scope.spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if done_tx.send(job.run()).is_err() {
                        return;
                    }
                });
            }
            drop(done_tx);
            // Results arrive in any order; take them in file order.
            let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
            let mut next = 0u64;
            for done in done_rx.iter() {
                pending.insert(done.seq, done);
                while let Some(done) = pending.remove(&next) {
                    next += 1;
                    match self.take(done, key) {
                        Ok((chunk, last)) => {
                            if tx.blocking_send(Ok(chunk)).is_err() || last {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = tx.blocking_send(Err(e));
                            return;
                        }
                    }
                }
            }
        });
    }

    /// One parsed chunk into a batch ready to land, and whether it was the last.
    fn take(&mut self, done: Done, key: &str) -> io::Result<(Chunk, bool)> {
        let Done { chunk: raw, results, state, .. } = done;
        if let Some(e) = raw.error {
            return Err(e);
        }
        let mut batch = Batch::with_capacity(raw.start_offset, raw.ends.len());
        let mut from = 0;
        for (i, (end, parsed)) in raw.ends.iter().zip(results).enumerate() {
            self.lines_read += 1;
            self.accept(key, raw.start_line + i as u64 + 1, &raw.text[from..*end], parsed, &mut batch);
            from = *end;
        }
        let line = raw.start_line + raw.ends.len() as u64;
        Ok((Chunk { batch, offset: raw.end_offset, line, complete: raw.complete, state }, raw.last))
    }
}

/// Lines of a file cut for parsing; `ends[i]` is where line i ends in `text`.
struct RawChunk {
    start_offset: u64,
    start_line: u64,
    end_offset: u64,
    text: Vec<u8>,
    ends: Vec<usize>,
    /// The end of the input: the last chunk of this read.
    last: bool,
    /// The whole file was read (false when the last line is still being written).
    complete: bool,
    error: Option<io::Error>,
}

struct Job {
    seq: u64,
    chunk: RawChunk,
    parser: Box<dyn LineParser>,
}

struct Done {
    seq: u64,
    chunk: RawChunk,
    results: Vec<Result<Parsed, String>>,
    /// The parser's state after the chunk (for the checkpoint).
    state: Option<serde_json::Value>,
}

impl Job {
    fn run(mut self) -> Done {
        let mut results = Vec::with_capacity(self.chunk.ends.len());
        let mut from = 0;
        for end in &self.chunk.ends {
            let raw = trim_line(&self.chunk.text[from..*end]);
            results.push(match std::str::from_utf8(raw) {
                Ok(text) if text.trim().is_empty() => Ok(Parsed::Nothing),
                Ok(text) => self.parser.parse(text),
                Err(e) => Err(format!("not UTF-8: {e}")),
            });
            from = *end;
        }
        Done { seq: self.seq, state: self.parser.state(), chunk: self.chunk, results }
    }
}

fn trim_line(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// The reader thread: cuts the input into chunks of `lines` lines, each
/// sent with a fork of the parser in the state at the chunk's start (the
/// master parser sees only the header lines, which are what change it).
fn cut_chunks(
    mut reader: Box<dyn BufRead + Send>,
    mut master: Box<dyn LineParser>,
    start: (u64, u64),
    lines: usize,
    key: &str,
    gzip: bool,
    jobs: std::sync::mpsc::SyncSender<Job>,
) {
    let (mut offset, mut line_no) = start;
    let mut seq = 0u64;
    loop {
        let mut chunk = RawChunk {
            start_offset: offset,
            start_line: line_no,
            end_offset: offset,
            text: Vec::with_capacity(lines.min(1 << 16) * 256),
            ends: Vec::with_capacity(lines.min(1 << 20)),
            last: false,
            complete: true,
            error: None,
        };
        let parser = master.fork();
        while chunk.ends.len() < lines {
            let before = chunk.text.len();
            let n = match reader.read_until(b'\n', &mut chunk.text) {
                Ok(n) => n,
                Err(e) => {
                    chunk.text.truncate(before);
                    chunk.error = Some(e);
                    chunk.last = true;
                    break;
                }
            };
            if n == 0 {
                chunk.last = true;
                break;
            }
            if chunk.text.last() != Some(&b'\n') && !gzip {
                // The writer may still be writing this line: leave it for the next run.
                tracing::warn!(file = %key, line = line_no + 1, "Last line has no newline yet; left for the next run.");
                chunk.text.truncate(before);
                chunk.last = true;
                chunk.complete = false;
                break;
            }
            offset += n as u64;
            line_no += 1;
            chunk.ends.push(chunk.text.len());
            if chunk.text[before] == b'#' {
                if let Ok(text) = std::str::from_utf8(trim_line(&chunk.text[before..])) {
                    let _ = master.parse(text);
                }
            }
        }
        chunk.end_offset = offset;
        let last = chunk.last;
        if jobs.send(Job { seq, chunk, parser }).is_err() || last {
            return;
        }
        seq += 1;
    }
}

impl Parsing {
    /// Takes one parsed line into the batch: drops repeated flows, resolves
    /// entities, learns leases, keeps the reason of a bad line.
    fn accept(&mut self, key: &str, line_no: u64, raw: &[u8], parsed: Result<Parsed, String>, batch: &mut Batch) {
        let raw = trim_line(raw);
        match parsed {
            Ok(Parsed::Flow(flow)) => {
                if self.seen.insert(&flow.uid) {
                    let entity = self.resolver.lookup(&flow.src_ip, flow.time).map(str::to_string);
                    batch.flows.push((flow, entity));
                } else {
                    self.duplicates_dropped += 1;
                }
            }
            Ok(Parsed::Asset(asset)) => {
                self.resolver.add(&asset.ip, asset.valid_from, asset.valid_to, &asset.entity);
                batch.assets.push(asset);
            }
            Ok(Parsed::Skipped(kind)) => *self.skipped.entry(kind).or_default() += 1,
            Ok(Parsed::Nothing) => {}
            Err(reason) => {
                let text = String::from_utf8_lossy(raw);
                let mut cut = text.len().min(QUARANTINE_TEXT_MAX);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                batch.quarantine.push(serde_json::json!({
                    "source": self.source.name(),
                    "file": key,
                    "line": line_no,
                    "reason": reason,
                    "text": &text[..cut],
                }));
            }
        }
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn flows_batch(sensor: &str, flows: &[(FlowRow, Option<String>)]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let text = |f: &dyn Fn(&FlowRow) -> Option<&str>| -> ArrayRef {
        Arc::new(flows.iter().map(|(r, _)| f(r)).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from_iter_values(flows.iter().map(|(r, _)| r.time)).with_timezone("UTC")),
        Arc::new(StringArray::from_iter_values(flows.iter().map(|_| sensor))),
        text(&|r| Some(&r.uid)),
        text(&|r| Some(&r.src_ip)),
        Arc::new(flows.iter().map(|(r, _)| r.src_port).collect::<Int32Array>()),
        text(&|r| Some(&r.dst_ip)),
        Arc::new(flows.iter().map(|(r, _)| r.dst_port).collect::<Int32Array>()),
        text(&|r| Some(&r.proto)),
        text(&|r| r.service.as_deref()),
        Arc::new(flows.iter().map(|(r, _)| r.duration_s).collect::<Float64Array>()),
        Arc::new(flows.iter().map(|(r, _)| r.bytes_out).collect::<Int64Array>()),
        Arc::new(flows.iter().map(|(r, _)| r.bytes_in).collect::<Int64Array>()),
        text(&|r| r.conn_state.as_deref()),
        text(&|r| r.dst_host.as_deref()),
        Arc::new(flows.iter().map(|(_, e)| e.as_deref()).collect::<StringArray>()),
    ];
    RecordBatch::try_new(schema::network_flows(), columns)
}

fn assets_batch(assets: &[AssetRow]) -> Result<RecordBatch, arrow::error::ArrowError> {
    assets_batch_with_source(assets, "dhcp")
}

/// `assets` rows learnt from `source` (`dhcp`, `edr`).
pub(crate) fn assets_batch_with_source(assets: &[AssetRow], source: &str) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(assets.iter().map(|a| &a.entity))),
        Arc::new(StringArray::from_iter_values(assets.iter().map(|a| &a.ip))),
        Arc::new(TimestampMicrosecondArray::from_iter_values(assets.iter().map(|a| a.valid_from)).with_timezone("UTC")),
        Arc::new(assets.iter().map(|a| a.valid_to).collect::<TimestampMicrosecondArray>().with_timezone("UTC")),
        Arc::new(StringArray::from_iter_values(assets.iter().map(|_| source))),
    ];
    RecordBatch::try_new(schema::assets(), columns)
}

// ---------------------------------------------------------------------------
// Value parsers shared by the formats. Errors are quarantine reasons.

/// A required field's value, or why the line is rejected.
pub(crate) fn required<'a>(name: &str, value: Option<Cow<'a, str>>) -> Result<Cow<'a, str>, String> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| format!("missing required field {name}"))
}

/// Epoch seconds with a decimal fraction (`1591367999.430166`) or ISO-8601.
pub(crate) fn parse_time(name: &str, value: &str) -> Result<i64, String> {
    let v = value.trim();
    let bad = || format!("field {name}: unparsable timestamp {v:?}");
    if v.contains('T') || v.get(1..).is_some_and(|rest| rest.contains('-')) {
        return parse_iso_micros(v).ok_or_else(bad);
    }
    parse_epoch_micros(v).ok_or_else(bad)
}

/// Decimal epoch seconds to microseconds without going through f64.
fn parse_epoch_micros(v: &str) -> Option<i64> {
    let (neg, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut micros: i64 = 0;
    for (i, b) in frac.bytes().take(6).enumerate() {
        micros += (b - b'0') as i64 * 10i64.pow(5 - i as u32);
    }
    if frac.as_bytes().get(6).is_some_and(|b| *b >= b'5') {
        micros += 1;
    }
    let total = secs.checked_mul(1_000_000)?.checked_add(micros)?;
    Some(if neg { -total } else { total })
}

/// ISO-8601 with `Z`, `+hh:mm` or `+hhmm` offsets, rounded to microseconds.
fn parse_iso_micros(v: &str) -> Option<i64> {
    let t = chrono::DateTime::parse_from_rfc3339(v)
        .or_else(|_| chrono::DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()?;
    let nanos = t.timestamp_subsec_nanos() as i64;
    t.timestamp().checked_mul(1_000_000)?.checked_add((nanos + 500) / 1000)
}

pub(crate) fn parse_port(name: &str, value: Option<Cow<'_, str>>) -> Result<Option<i32>, String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    match v.trim().parse::<i32>() {
        Ok(p) if (0..=65535).contains(&p) => Ok(Some(p)),
        _ => Err(format!("field {name}: invalid port {v:?}")),
    }
}

pub(crate) fn parse_count(name: &str, value: Option<Cow<'_, str>>) -> Result<Option<i64>, String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    v.trim().parse::<i64>().map(Some).map_err(|_| format!("field {name}: invalid count {v:?}"))
}

pub(crate) fn parse_float(name: &str, value: Option<Cow<'_, str>>) -> Result<Option<f64>, String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else { return Ok(None) };
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Some(f)),
        _ => Err(format!("field {name}: invalid number {v:?}")),
    }
}

/// The canonical device name: host name without domain and trailing dot,
/// lower-cased (`WS-0042.corp.example.com.` -> `ws-0042`), as in `lake.md`.
pub fn canonical_entity(host: &str) -> Option<String> {
    let name = host.trim().trim_end_matches('.').split('.').next().unwrap_or("").to_lowercase();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_iso_times_parse_to_micros() {
        assert_eq!(parse_time("ts", "1591367999.430166").unwrap(), 1_591_367_999_430_166);
        assert_eq!(parse_time("ts", "1591367999").unwrap(), 1_591_367_999_000_000);
        assert_eq!(parse_time("ts", "1591367999.4301665").unwrap(), 1_591_367_999_430_167);
        assert_eq!(
            parse_time("ts", "2018-07-05T15:07:20.910626-0400").unwrap(),
            parse_time("ts", "2018-07-05T19:07:20.910626Z").unwrap()
        );
        assert_eq!(parse_time("ts", "2020-06-05T14:39:59.430166+00:00").unwrap(), 1_591_367_999_430_166);
        assert!(parse_time("ts", "yesterday").unwrap_err().contains("unparsable timestamp"));
        assert!(parse_time("ts", "12.3x").is_err());
    }

    #[test]
    fn numbers_reject_garbage_and_accept_unset() {
        assert_eq!(parse_port("p", Some("443".into())).unwrap(), Some(443));
        assert!(parse_port("p", Some("70000".into())).is_err());
        assert_eq!(parse_port("p", None).unwrap(), None);
        assert!(parse_count("c", Some("12a".into())).unwrap_err().contains("field c"));
        assert_eq!(parse_float("d", Some("0.25".into())).unwrap(), Some(0.25));
    }

    #[test]
    fn entity_is_short_lowercase_host() {
        assert_eq!(canonical_entity("WS-0042.corp.example.com.").as_deref(), Some("ws-0042"));
        assert_eq!(canonical_entity("  "), None);
    }

    #[test]
    fn resolver_picks_interval_holding_time() {
        let mut r = EntityResolver::default();
        r.add("10.0.0.5", 100, Some(200), "a");
        r.add("10.0.0.5", 200, None, "b");
        assert_eq!(r.lookup("10.0.0.5", 150), Some("a"));
        assert_eq!(r.lookup("10.0.0.5", 200), Some("b"), "valid_to is exclusive");
        assert_eq!(r.lookup("10.0.0.5", 99), None);
        assert_eq!(r.lookup("10.0.0.6", 150), None);
    }

    #[test]
    fn resume_point_follows_appends_and_rotation() {
        let cp = FileCheckpoint {
            source: "zeek".into(),
            size: 100,
            mtime_ns: 1,
            inode: Some(7),
            gzip: false,
            offset: 100,
            line: 3,
            complete: true,
            state: None,
        };
        let id = |size, inode, gzip| Identity { size, mtime_ns: 2, inode: Some(inode), gzip };
        assert_eq!(resume_point(Some(&cp), &id(100, 7, false)), None);
        assert_eq!(resume_point(Some(&cp), &id(150, 7, false)).map(|r| r.0), Some(100));
        assert_eq!(resume_point(Some(&cp), &id(150, 8, false)).map(|r| r.0), Some(0), "rotated");
        assert_eq!(resume_point(Some(&cp), &id(50, 7, false)).map(|r| r.0), Some(0), "truncated");
        let gz = FileCheckpoint { gzip: true, mtime_ns: 2, ..cp.clone() };
        assert_eq!(resume_point(Some(&gz), &id(100, 7, true)), None);
        assert_eq!(resume_point(Some(&gz), &id(101, 7, true)).map(|r| r.0), Some(0));
    }
}
