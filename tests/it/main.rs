//! huntlake's integration tests: one binary, one module per area.

mod band_join;
mod client_queries;
mod detect;
mod fixtures;
mod ingest;
mod investigate;
mod lake;
mod psql;
mod server;
mod slt;
