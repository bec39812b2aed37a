//! The report as PDF, written with `pdf-writer` using the PDF's built-in
//! Helvetica fonts (nothing embedded, no external programs). Same content as
//! the HTML report; the timeline chart is drawn as vector graphics.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::super::{Evidence, Investigation};
use super::chart::{self, Chart};
use super::{title, when};
use crate::investigate::InvestigateError;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 40.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text as WinAnsi bytes (the built-in fonts' encoding); characters it
/// lacks are spelled in ASCII.
fn win_ansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if (c as u32) < 0x80 => out.push(c as u8),
            c if (0xA0..=0xFF).contains(&(c as u32)) => out.push(c as u32 as u8),
            '\u{2013}' | '\u{2014}' => out.push(b'-'),
            '\u{2192}' => out.extend_from_slice(b"->"),
            '\u{2026}' => out.extend_from_slice(b"..."),
            '\u{2018}' | '\u{2019}' => out.push(b'\''),
            '\u{201c}' | '\u{201d}' => out.push(b'"'),
            _ => out.push(b'?'),
        }
    }
    out
}

/// Splits text into lines of at most `max` characters, at spaces where possible.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > max {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            lines.push(head);
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pages being laid out top to bottom.
struct Pages {
    done: Vec<Content>,
    page: Content,
    y: f32,
}

impl Pages {
    fn new() -> Self {
        Self { done: Vec::new(), page: Content::new(), y: PAGE_H - MARGIN }
    }

    fn ensure(&mut self, height: f32) {
        if self.y - height < MARGIN {
            let full = std::mem::replace(&mut self.page, Content::new());
            self.done.push(full);
            self.y = PAGE_H - MARGIN;
        }
    }

    fn text(&mut self, text: &str, size: f32, bold: bool, indent: f32) {
        // Helvetica averages about half an em per character.
        let max = (((PAGE_W - 2.0 * MARGIN - indent) / (size * 0.5)) as usize).max(10);
        for line in wrap(text, max) {
            self.ensure(size * 1.35);
            self.y -= size * 1.35;
            self.page
                .begin_text()
                .set_font(if bold { BOLD } else { REGULAR }, size)
                .next_line(MARGIN + indent, self.y)
                .show(Str(&win_ansi(&line)))
                .end_text();
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    fn table(&mut self, ev: &Evidence) {
        if ev.rows.is_empty() {
            return;
        }
        self.text(&ev.columns.join(" | "), 7.0, true, 10.0);
        for (i, row) in ev.rows.iter().enumerate() {
            let mut line = row.join(" | ");
            if let Some(Some(url)) = ev.links.get(i) {
                line.push_str(&format!(" | {url}"));
            }
            self.text(&line, 7.0, false, 10.0);
        }
        self.gap(4.0);
    }

    fn chart(&mut self, c: &Chart) {
        let scale = (PAGE_W - 2.0 * MARGIN) / chart::WIDTH as f32;
        let h = chart::HEIGHT as f32 * scale;
        self.ensure(h + 10.0);
        let top = self.y;
        let (x0, y_of) = (MARGIN, |y: f64| top - y as f32 * scale);
        let p = &mut self.page;
        p.save_state();
        p.set_fill_rgb(0.98, 0.98, 0.99).rect(x0, top - h, PAGE_W - 2.0 * MARGIN, h).fill_nonzero();
        for b in &c.bars {
            if b.first_seen {
                p.set_fill_rgb(0.9, 0.49, 0.13);
            } else {
                p.set_fill_rgb(0.18, 0.53, 0.76);
            }
            p.rect(x0 + b.x as f32 * scale, y_of(c.baseline), b.width as f32 * scale, b.height as f32 * scale).fill_nonzero();
        }
        p.set_stroke_gray(0.2).set_line_width(0.5);
        p.move_to(x0 + c.plot_left as f32 * scale, y_of(c.baseline)).line_to(x0 + c.plot_right as f32 * scale, y_of(c.baseline)).stroke();
        for m in &c.markers {
            let x = x0 + m.x as f32 * scale;
            match m.kind {
                "target" => {
                    p.set_stroke_rgb(0.84, 0.15, 0.16).set_line_width(1.5);
                    p.move_to(x, y_of(c.plot_top - 4.0)).line_to(x, y_of(c.baseline)).stroke();
                }
                "alert" => {
                    p.set_fill_rgb(0.75, 0.22, 0.17).rect(x - 2.0, y_of(c.plot_top + 4.0) - 2.0, 4.0, 4.0).fill_nonzero();
                }
                _ => {
                    p.set_fill_rgb(0.56, 0.27, 0.68).rect(x - 2.0, y_of(c.plot_top + 18.0) - 2.0, 4.0, 4.0).fill_nonzero();
                }
            }
        }
        p.set_fill_gray(0.2);
        for t in &c.ticks {
            p.begin_text().set_font(REGULAR, 6.0).next_line(x0 + t.x as f32 * scale - 12.0, y_of(c.baseline + 16.0)).show(Str(&win_ansi(&t.label))).end_text();
        }
        for (y, label) in &c.scale {
            p.begin_text().set_font(REGULAR, 6.0).next_line(x0 + 2.0, y_of(*y) - 2.0).show(Str(&win_ansi(label))).end_text();
        }
        if let Some(m) = c.markers.iter().find(|m| m.kind == "target") {
            p.set_fill_rgb(0.84, 0.15, 0.16);
            p.begin_text().set_font(BOLD, 7.0).next_line(x0 + m.x as f32 * scale - 10.0, y_of(c.plot_top - 10.0)).show(Str(b"ALERT")).end_text();
        }
        p.restore_state();
        self.y = top - h;
        self.text(&c.caption, 7.0, false, 0.0);
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.page);
        self.done
    }
}

/// Renders the report.
pub fn render(inv: &Investigation) -> Result<Vec<u8>, InvestigateError> {
    let mut p = Pages::new();
    p.text(&title(inv), 15.0, true, 0.0);
    p.gap(4.0);
    p.text(&format!("Verdict: {} (score {:.1})", inv.verdict, inv.score), 13.0, true, 0.0);
    if let Some(a) = &inv.alert {
        p.text(&format!("Alert: {} {} at {}, severity {}{}", a.vendor, a.alert_id, when(a.time), a.severity, a.category.as_ref().map(|c| format!(", tactic {c}")).unwrap_or_default()), 9.0, false, 0.0);
        if !a.techniques.is_empty() {
            p.text(&format!("Techniques: {}", a.techniques.join(", ")), 9.0, false, 0.0);
        }
        p.text(&format!("Console: {}", a.console_url), 9.0, false, 0.0);
    }
    p.text(&format!("Device: {} ({})", inv.entity, inv.device_ips.join(", ")), 9.0, false, 0.0);
    p.text(&format!("Window: {} to {}; history from {}", when(inv.from), when(inv.to), when(inv.lookback_from)), 9.0, false, 0.0);
    p.gap(6.0);
    p.text("Why", 12.0, true, 0.0);
    if inv.reasons.is_empty() {
        p.text("- Nothing found beyond the alert itself.", 9.0, false, 0.0);
    }
    for r in &inv.reasons {
        p.text(&format!("- {r}"), 9.0, false, 0.0);
    }
    if !inv.counter_evidence.is_empty() {
        p.gap(4.0);
        p.text("Counter-evidence", 12.0, true, 0.0);
        for r in &inv.counter_evidence {
            p.text(&format!("- {r}"), 9.0, false, 0.0);
        }
    }
    p.gap(6.0);
    p.text("Activity around the alert", 12.0, true, 0.0);
    p.gap(4.0);
    p.chart(&chart::layout(inv));
    p.gap(6.0);
    p.text("Findings", 12.0, true, 0.0);
    for f in &inv.findings {
        p.gap(3.0);
        p.text(&format!("{:+.1}  {} ({})", f.points, f.summary, f.check), 9.0, true, 0.0);
        p.table(&f.evidence);
    }
    let others: Vec<_> = inv.timeline.iter().filter(|r| r.kind != "network").collect();
    if !others.is_empty() {
        p.gap(6.0);
        p.text("Alerts, detections and address changes in the window", 12.0, true, 0.0);
        for r in others {
            let link = r.link.as_deref().map(|l| format!(" - {l}")).unwrap_or_default();
            p.text(&format!("{}  {}  {}{link}", when(r.time), r.kind, r.summary), 7.0, false, 0.0);
        }
    }
    let pages = p.finish();

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let (regular, bold) = (Ref::new(3), Ref::new(4));
    let info = Ref::new(5);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(6 + 2 * i as i32)).collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info).title(pdf_writer::TextStr(&title(inv))).producer(pdf_writer::TextStr("huntlake"));
    for (i, content) in pages.into_iter().enumerate() {
        let content_id = Ref::new(7 + 2 * i as i32);
        let mut page = pdf.page(page_ids[i]);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).parent(tree).contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn investigate_pdf_text_wraps_and_encodes() {
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(win_ansi("a→b é"), b"a->b \xe9".to_vec());
    }
}
