//! The timeline chart as inline SVG for the HTML report.

use super::chart::{Chart, HEIGHT, WIDTH};
use super::html::escape;

fn severity_color(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "#c0392b",
        "medium" => "#e67e22",
        "low" => "#f1c40f",
        _ => "#7f8c8d",
    }
}

/// Renders the chart as an `<svg>` element (id `timeline-chart`).
pub fn render(chart: &Chart) -> String {
    let mut s = format!(
        r#"<svg id="timeline-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{}">"#,
        escape(&chart.caption)
    );
    s.push_str(&format!(r##"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fbfbfd"/>"##));
    // Scale and grid.
    for (y, label) in &chart.scale {
        s.push_str(&format!(
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3ea"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            chart.plot_left,
            chart.plot_right,
            chart.plot_left - 6.0,
            y + 4.0,
            escape(label)
        ));
    }
    for b in &chart.bars {
        let fill = if b.first_seen { "#e67e22" } else { "#2e86c1" };
        s.push_str(&format!(
            r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}"><title>{}: {} connections, {} bytes out</title></rect>"#,
            b.x,
            chart.baseline - b.height,
            b.width,
            b.height,
            b.start.format("%Y-%m-%d %H:%M"),
            b.connections,
            b.bytes_out
        ));
    }
    s.push_str(&format!(
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        chart.plot_left, chart.baseline, chart.plot_right, chart.baseline
    ));
    for t in &chart.ticks {
        s.push_str(&format!(
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#333">{}</text>"##,
            chart.baseline,
            chart.baseline + 5.0,
            chart.baseline + 18.0,
            escape(&t.label),
            x = t.x
        ));
    }
    for m in &chart.markers {
        let title = format!("<title>{} {}</title>", m.time.format("%Y-%m-%d %H:%M:%S"), escape(&m.label));
        match m.kind {
            "target" => s.push_str(&format!(
                r##"<g class="target-alert"><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#d62728" stroke-width="2.5"/><text x="{x:.1}" y="{:.1}" font-size="12" font-weight="bold" text-anchor="middle" fill="#d62728">ALERT</text>{title}</g>"##,
                chart.plot_top - 4.0,
                chart.baseline,
                chart.plot_top - 10.0,
                x = m.x
            )),
            "alert" => s.push_str(&format!(
                r##"<circle class="alert-marker" cx="{:.1}" cy="{:.1}" r="5" fill="{}" stroke="#333">{title}</circle>"##,
                m.x,
                chart.plot_top + 4.0,
                severity_color(&m.severity)
            )),
            _ => s.push_str(&format!(
                r##"<rect class="detection-marker" x="{:.1}" y="{:.1}" width="8" height="8" transform="rotate(45 {:.1} {:.1})" fill="#8e44ad">{title}</rect>"##,
                m.x - 4.0,
                chart.plot_top + 14.0,
                m.x,
                chart.plot_top + 18.0
            )),
        }
    }
    s.push_str("</svg>");
    s
}
