//! The `beacon_score` aggregate: scores how regular the connections between
//! two hosts are, to find command-and-control beacons among periodic but
//! benign traffic.
//!
//! # Layout
//! * [`beacon_score`](mod@beacon_score) — the SQL function: signature, user
//!   documentation, the row and groups accumulators and their partial state;
//! * [`score`] — the score of one group's connections, the formula of
//!   `functions.md`, independent of DataFusion;
//! * [`stats`] — the statistics the score is built from (quartiles, skew and
//!   MAD scores, histogram and duration scores).

use std::sync::Arc;

use datafusion::logical_expr::AggregateUDF;

pub mod beacon_score;
pub mod score;
pub mod stats;
#[cfg(test)]
mod reference;

pub use beacon_score::BeaconScore;

/// The aggregate functions of this family.
pub fn functions() -> Vec<Arc<AggregateUDF>> {
    vec![Arc::new(AggregateUDF::from(BeaconScore::new()))]
}
