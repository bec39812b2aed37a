//! The self-contained HTML report: inline CSS and SVG, no scripts, no
//! external assets, so it can be mailed or attached to a ticket as is.

use super::super::{Evidence, Investigation, Verdict};
use super::{chart, svg, title, when};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Only http(s) links become anchors.
fn link(url: &str, text: &str) -> String {
    if url.starts_with("https://") || url.starts_with("http://") {
        format!(r#"<a href="{}" rel="noopener noreferrer">{}</a>"#, escape(url), escape(text))
    } else {
        escape(text)
    }
}

fn table(ev: &Evidence) -> String {
    if ev.rows.is_empty() {
        return String::new();
    }
    let has_links = ev.links.iter().any(|l| l.is_some());
    let mut s = String::from("<table><thead><tr>");
    for c in &ev.columns {
        s.push_str(&format!("<th>{}</th>", escape(c)));
    }
    if has_links {
        s.push_str("<th>console</th>");
    }
    s.push_str("</tr></thead><tbody>");
    for (i, row) in ev.rows.iter().enumerate() {
        s.push_str("<tr>");
        for v in row {
            s.push_str(&format!("<td>{}</td>", escape(v)));
        }
        if has_links {
            let l = ev.links.get(i).cloned().flatten().map(|u| link(&u, "open")).unwrap_or_default();
            s.push_str(&format!("<td>{l}</td>"));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px;margin-bottom:4px}\
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:bold;font-size:16px}\
.escalate{background:#c0392b}.review{background:#e67e22}.benign{background:#27ae60}\
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f0f0f5}.pts{font-weight:bold}.counter{color:#27ae60}.meta td{border:none;padding:2px 10px 2px 0}\
figure{margin:0}figcaption{font-size:12px;color:#555}";

/// Renders the report.
pub fn render(inv: &Investigation) -> String {
    let class = match inv.verdict {
        Verdict::Escalate => "escalate",
        Verdict::Review => "review",
        Verdict::LikelyBenign => "benign",
    };
    let mut s = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(&title(inv))
    );
    s.push_str(&format!("<h1>{}</h1>", escape(&title(inv))));
    s.push_str(&format!(
        "<p><span id=\"verdict\" class=\"verdict {class}\">{}</span> &nbsp; score <b>{:.1}</b></p>",
        escape(inv.verdict.as_str()),
        inv.score
    ));
    s.push_str("<table class=\"meta\">");
    let mut meta = |k: &str, v: String| s.push_str(&format!("<tr><td><b>{}</b></td><td>{v}</td></tr>", escape(k)));
    if let Some(a) = &inv.alert {
        meta("alert", format!("{} {} ({})", escape(&a.vendor), escape(&a.alert_id), link(&a.console_url, "open in the vendor console")));
        meta("time", escape(&when(a.time)));
        meta("severity", escape(&a.severity));
        if let Some(c) = &a.category {
            meta("tactic", escape(c));
        }
        if !a.techniques.is_empty() {
            meta("techniques", escape(&a.techniques.join(", ")));
        }
    }
    meta("device", format!("{} ({})", escape(&inv.entity), escape(&inv.device_ips.join(", "))));
    meta("window", escape(&format!("{} to {}; history from {}", when(inv.from), when(inv.to), when(inv.lookback_from))));
    s.push_str("</table>");

    s.push_str("<h2>Why</h2><ul id=\"reasons\">");
    if inv.reasons.is_empty() {
        s.push_str("<li>Nothing found beyond the alert itself.</li>");
    }
    for r in &inv.reasons {
        s.push_str(&format!("<li>{}</li>", escape(r)));
    }
    s.push_str("</ul>");
    if !inv.counter_evidence.is_empty() {
        s.push_str("<h2>Counter-evidence</h2><ul id=\"counter-evidence\">");
        for r in &inv.counter_evidence {
            s.push_str(&format!("<li class=\"counter\">{}</li>", escape(r)));
        }
        s.push_str("</ul>");
    }

    let c = chart::layout(inv);
    s.push_str(&format!("<h2>Activity around the alert</h2><figure>{}<figcaption>{}</figcaption></figure>", svg::render(&c), escape(&c.caption)));

    s.push_str("<h2>Findings</h2>");
    for f in &inv.findings {
        let class = if f.counter { " counter" } else { "" };
        s.push_str(&format!(
            "<div class=\"finding\"><h3><span class=\"pts{class}\">{:+.1}</span> {} <small>({})</small></h3>{}</div>",
            f.points,
            escape(&f.summary),
            escape(&f.check),
            table(&f.evidence)
        ));
    }

    let alerts: Vec<_> = inv.timeline.iter().filter(|r| r.kind != "network").collect();
    if !alerts.is_empty() {
        s.push_str("<h2>Alerts, detections and address changes in the window</h2><table><thead><tr><th>time</th><th>kind</th><th>summary</th><th>console</th></tr></thead><tbody>");
        for r in alerts {
            let l = r.link.as_deref().map(|u| link(u, "open")).unwrap_or_default();
            s.push_str(&format!("<tr><td>{}</td><td>{}</td><td>{}</td><td>{l}</td></tr>", escape(&when(r.time)), escape(&r.kind), escape(&r.summary)));
        }
        s.push_str("</tbody></table>");
    }
    s.push_str(&format!("<p><small>huntlake {} investigation, generated {}</small></p></body></html>\n", env!("CARGO_PKG_VERSION"), escape(&when(chrono::Utc::now()))));
    s
}
