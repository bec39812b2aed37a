//! `huntlake bench investigate`: how long one automated investigation takes,
//! over a deterministic sample of the lake's alerts (every k-th alert by
//! vendor and id) plus the alerts of the incidents planted by the generator
//! that made the lake, whose verdicts are printed beside the timings.

use std::path::PathBuf;
use std::time::Instant;

use super::{median, BenchError};
use crate::demo::{self, DemoSpec};
use crate::engine::{Engine, EngineOptions};
use crate::investigate::{self, sql, Target, Window};
use crate::lake::LakeLocation;

/// What to measure.
#[derive(Debug, Clone)]
pub struct InvestigateOptions {
    pub lake: PathBuf,
    /// Sampled alerts (all of them when the lake has fewer).
    pub sample: usize,
    /// Print each sampled alert's verdict and reasons.
    pub list: bool,
}

/// One timed investigation.
#[derive(Debug, Clone)]
pub struct Timed {
    pub key: String,
    pub entity: String,
    pub verdict: String,
    pub score: f64,
    pub seconds: f64,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[(((v.len() - 1) as f64) * p).round() as usize]
}

async fn timed(ctx: &datafusion::prelude::SessionContext, key: &str, list: bool) -> Result<Timed, BenchError> {
    let started = Instant::now();
    let inv = investigate::investigate(ctx, &Target::Alert(key.to_string()), Window::default()).await?;
    if list {
        let title = inv.alert.as_ref().map(|a| a.title.as_str()).unwrap_or_default();
        println!("{} {} {:?} {} {:.1}: {}", inv.time.format("%Y-%m-%d %H:%M"), inv.entity, title, inv.verdict, inv.score, inv.reasons.join(" | "));
    }
    Ok(Timed { key: inv.key(), entity: inv.entity.clone(), verdict: inv.verdict.to_string(), score: inv.score, seconds: started.elapsed().as_secs_f64() })
}

/// Runs the benchmark and prints the figures.
pub async fn run(options: InvestigateOptions) -> Result<(), BenchError> {
    let location = LakeLocation::parse(&options.lake.display().to_string())?;
    let engine = Engine::open(EngineOptions::new(location)).await?;
    let ctx = engine.session();
    let total = sql::rows(&ctx, "the alert count", "SELECT count(*) FROM edr_alerts").await?;
    let total = total.first().map(|r| sql::int(&r[0])).unwrap_or(0).max(1);
    let step = (total / options.sample.max(1) as i64).max(1);
    let sample = sql::rows(
        &ctx,
        "the alert sample",
        &format!(
            "SELECT vendor, alert_id FROM (SELECT vendor, alert_id, row_number() OVER (ORDER BY vendor, alert_id) AS n FROM edr_alerts) \
             WHERE n % {step} = 0 ORDER BY vendor, alert_id LIMIT {}",
            options.sample.max(1)
        ),
    )
    .await?;
    println!("investigating {} of {total} alerts in {} (every {step}th by vendor and id)", sample.len(), options.lake.display());
    let mut runs = Vec::new();
    let started = Instant::now();
    for (i, r) in sample.iter().enumerate() {
        runs.push(timed(&ctx, &format!("{}:{}", sql::text(&r[0]), sql::text(&r[1])), options.list).await?);
        if (i + 1) % 50 == 0 {
            tracing::info!(done = i + 1, of = sample.len(), "Investigations timed.");
        }
    }
    let seconds: Vec<f64> = runs.iter().map(|r| r.seconds).collect();
    let count = |v: &str| runs.iter().filter(|r| r.verdict == v).count();
    println!(
        "latency per alert: median {:.3} s, p90 {:.3} s, max {:.3} s ({} alerts, {:.1} s in all)",
        median(&seconds),
        percentile(&seconds, 0.9),
        seconds.iter().copied().fold(0.0, f64::max),
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    println!("verdicts: {} escalate, {} review, {} likely benign", count("escalate"), count("review"), count("likely benign"));

    // The planted incidents of the generator that made the lake (the bench
    // lake records its spec; otherwise the committed demo's).
    let spec = super::analytics::recorded_spec(&options.lake).unwrap_or_else(|| DemoSpec::demo(42));
    for incident in demo::planted_incidents(&spec) {
        let found = sql::rows(
            &ctx,
            "a planted incident's alert",
            &format!(
                "SELECT vendor, alert_id FROM edr_alerts WHERE entity = {} AND time = {} LIMIT 1",
                sql::s(&incident.entity),
                sql::t(incident.time)
            ),
        )
        .await?;
        let Some(r) = found.first() else {
            println!("  {:<22} {:<12} not in this lake", incident.name, incident.entity);
            continue;
        };
        let t = timed(&ctx, &format!("{}:{}", sql::text(&r[0]), sql::text(&r[1])), false).await?;
        println!("  {:<22} {:<12} {:<40} {:<14} score {:>5.1}  {:.3} s", incident.name, t.entity, t.key, t.verdict, t.score, t.seconds);
    }
    Ok(())
}
