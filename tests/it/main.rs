//! huntlake's integration tests: one binary, one module per area.

mod fixtures;
mod lake;
mod psql;
mod server;
mod slt;
