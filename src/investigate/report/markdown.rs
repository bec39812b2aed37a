//! The report as Markdown (tickets, chat, wikis). The chart becomes a table
//! of the device's activity per hour with the alert's hour marked.

use std::collections::BTreeMap;

use super::super::{Evidence, Investigation};
use super::{chart, title, when};

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn table(ev: &Evidence, out: &mut String) {
    if ev.rows.is_empty() {
        return;
    }
    let has_links = ev.links.iter().any(|l| l.is_some());
    let mut cols: Vec<String> = ev.columns.iter().map(|c| cell(c)).collect();
    if has_links {
        cols.push("console".into());
    }
    out.push_str(&format!("\n| {} |\n|{}\n", cols.join(" | "), "---|".repeat(cols.len())));
    for (i, row) in ev.rows.iter().enumerate() {
        let mut cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        if has_links {
            cells.push(ev.links.get(i).cloned().flatten().map(|u| format!("[open]({u})")).unwrap_or_default());
        }
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}

/// Renders the report.
pub fn render(inv: &Investigation) -> String {
    let mut s = format!("# {}\n\n**Verdict: {}** (score {:.1})\n\n", title(inv), inv.verdict, inv.score);
    if let Some(a) = &inv.alert {
        s.push_str(&format!("- alert: {} `{}` ([vendor console]({}))\n", a.vendor, a.alert_id, a.console_url));
        s.push_str(&format!("- time: {}\n- severity: {}\n", when(a.time), a.severity));
        if let Some(c) = &a.category {
            s.push_str(&format!("- tactic: {c}\n"));
        }
        if !a.techniques.is_empty() {
            s.push_str(&format!("- techniques: {}\n", a.techniques.join(", ")));
        }
    }
    s.push_str(&format!("- device: {} ({})\n", inv.entity, inv.device_ips.join(", ")));
    s.push_str(&format!("- window: {} to {}; history from {}\n", when(inv.from), when(inv.to), when(inv.lookback_from)));

    s.push_str("\n## Why\n\n");
    if inv.reasons.is_empty() {
        s.push_str("- Nothing found beyond the alert itself.\n");
    }
    for r in &inv.reasons {
        s.push_str(&format!("- {r}\n"));
    }
    if !inv.counter_evidence.is_empty() {
        s.push_str("\n## Counter-evidence\n\n");
        for r in &inv.counter_evidence {
            s.push_str(&format!("- {r}\n"));
        }
    }

    s.push_str("\n## Activity around the alert\n\n| hour (UTC) | connections | bytes out | first-seen destinations | alerts |\n|---|---|---|---|---|\n");
    let c = chart::layout(inv);
    let mut hours: BTreeMap<i64, (i64, i64, bool, Vec<String>)> = BTreeMap::new();
    for b in &c.bars {
        let h = hours.entry(b.start.timestamp() / 3600).or_default();
        h.0 += b.connections;
        h.1 += b.bytes_out;
        h.2 |= b.first_seen;
    }
    for m in &c.markers {
        let label = if m.kind == "target" { format!("**ALERT** {}", m.label) } else { m.label.clone() };
        hours.entry(m.time.timestamp() / 3600).or_default().3.push(label);
    }
    for (h, (n, b, first, alerts)) in &hours {
        let t = chrono::DateTime::from_timestamp(h * 3600, 0).unwrap_or_default();
        s.push_str(&format!(
            "| {} | {n} | {} | {} | {} |\n",
            t.format("%Y-%m-%d %H:00"),
            super::super::checks::bytes(*b as f64),
            if *first { "yes" } else { "" },
            cell(&alerts.join("; "))
        ));
    }

    s.push_str("\n## Findings\n");
    for f in &inv.findings {
        s.push_str(&format!("\n### {:+.1} {} ({})\n", f.points, f.summary, f.check));
        table(&f.evidence, &mut s);
    }
    s
}
