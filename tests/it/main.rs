//! huntlake's integration tests: one binary, one module per area.

mod band_join;
mod client_queries;
mod clients;
mod detect;
mod edr_ingest;
mod fixtures;
mod ingest;
mod investigate;
mod lake;
mod psql;
mod server;
mod server_security;
mod wire_fuzz;
mod slt;
mod vendor_mock;
