//! The agreement report as CSV and as a self-contained HTML page with plots (inline SVG,
//! drawn here: no browser or plotting library is needed to make it).
//!
//! Owns the layout of both; the numbers are [`super::report`]'s. The HTML escapes every
//! name it prints.

use std::fmt::Write as _;

use super::report::AgreementReport;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.4}"))
}

/// One row per segmentation class pair, then one per findings pair.
pub fn to_csv(r: &AgreementReport) -> String {
    let mut out = String::from(
        "kind,series,class,reader_a,reader_b,dice,iou,volume_a_ml,volume_b_ml,volume_difference_ml,mean_surface_mm,hausdorff95_mm,findings_a,findings_b,matched,missed_by_b,missed_by_a,kappa,status,turnaround_hours\n",
    );
    for s in &r.segmentations {
        let _ = writeln!(
            out,
            "segmentation,{},{},{},{},{:.4},{:.4},{:.3},{:.3},{:.3},{},{},,,,,,,,",
            csv_field(&s.series),
            csv_field(&s.class),
            csv_field(&s.reader_a),
            csv_field(&s.reader_b),
            s.dice,
            s.iou,
            s.volume_a_ml,
            s.volume_b_ml,
            s.volume_difference_ml,
            opt(s.mean_surface_mm),
            opt(s.hausdorff95_mm),
        );
    }
    for f in &r.findings {
        let _ = writeln!(
            out,
            "findings,{},,{},{},,,,,,,,{},{},{},{},{},{},,",
            csv_field(&f.series),
            csv_field(&f.reader_a),
            csv_field(&f.reader_b),
            f.findings_a,
            f.findings_b,
            f.matched,
            f.missed_by_b,
            f.missed_by_a,
            opt(f.kappa),
        );
    }
    // One row per case: its readers in reader_a (";"-separated), the reviewer in reader_b.
    for c in &r.cases.cases {
        let _ = writeln!(
            out,
            "case,{},,{},{},,,,,,,,,,,,,,{},{}",
            csv_field(&c.case),
            csv_field(&c.readers.join(";")),
            csv_field(c.reviewer.as_deref().unwrap_or("")),
            csv_field(c.status),
            c.turnaround_hours
                .map_or_else(String::new, |h| format!("{h:.2}")),
        );
    }
    out
}

/// A horizontal bar chart (values 0..=1) as inline SVG.
fn bars(title: &str, rows: &[(String, f64)]) -> String {
    let row_h = 22.0;
    let label_w = 300.0;
    let bar_w = 360.0;
    let h = 30.0 + row_h * rows.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        label_w + bar_w + 60.0,
        esc(title)
    );
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        esc(title)
    );
    for t in [0.0, 0.5, 1.0] {
        let x = label_w + bar_w * t;
        let _ = write!(
            svg,
            "<line x1=\"{x}\" y1=\"24\" x2=\"{x}\" y2=\"{h}\" stroke=\"#ccc\"/>"
        );
    }
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 28.0 + row_h * i as f64;
        let w = bar_w * v.clamp(0.0, 1.0);
        let colour = if *v >= 0.8 {
            "#3a8f5c"
        } else if *v >= 0.6 {
            "#d19a2a"
        } else {
            "#c0392b"
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{v:.2}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars of counts (scaled to the largest).
fn count_bars(title: &str, rows: &[(String, usize)]) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1) as f64;
    let row_h = 22.0;
    let (label_w, bar_w) = (160.0, 300.0);
    let h = 30.0 + row_h * rows.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{h}\" role=\"img\" aria-label=\"{}\"><text x=\"0\" y=\"16\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        label_w + bar_w + 60.0,
        esc(title),
        esc(title)
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = 28.0 + row_h * i as f64;
        let w = bar_w * (*n as f64) / max;
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{}\" fill=\"#3b6ea5\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{n}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The workflow section: status counts, turnaround, one row per case.
fn cases_html(h: &mut String, c: &super::report::CaseSummary) {
    h.push_str("<h2>Cases</h2>");
    if c.cases.is_empty() {
        h.push_str("<p>No case has been assigned or submitted yet.</p>");
        return;
    }
    let rows: Vec<(String, usize)> = c
        .counts
        .iter()
        .map(|(k, n)| ((*k).to_owned(), *n))
        .collect();
    h.push_str(&count_bars("Cases per status", &rows));
    let hours = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1} h"));
    let _ = write!(
        h,
        "<p>{} decided; turnaround from the first reading handed in to the decision: median {}, mean {}. {} escalation(s).</p>",
        c.decided,
        hours(c.median_turnaround_hours),
        hours(c.mean_turnaround_hours),
        c.escalations
    );
    h.push_str("<table><tr><th>case</th><th>status</th><th>readers</th><th>second read</th><th>reviewer</th><th>escalated to</th><th>turnaround</th></tr>");
    for r in &c.cases {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.case),
            esc(r.status),
            esc(&r.readers.join(", ")),
            if r.blinded { " (blinded)" } else { "" },
            if r.second_read {
                "required"
            } else {
                "optional"
            },
            esc(r.reviewer.as_deref().unwrap_or("–")),
            esc(r.escalated_to.as_deref().unwrap_or("–")),
            hours(r.turnaround_hours),
        );
    }
    h.push_str("</table>");
}

/// The whole report as one HTML page.
pub fn to_html(r: &AgreementReport, project: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Agreement report: {p}</title><style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}h2{{margin-top:1.6em}}</style></head><body><h1>Agreement report</h1><p>Project {p}. {n} series compared; lowest agreement first.</p>",
        p = esc(project),
        n = r.series_compared
    );
    h.push_str(
        "<h2>Readers</h2><table><tr><th>reader</th><th>annotations</th><th>segmentations</th></tr>",
    );
    for s in &r.readers {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.reader),
            s.annotations,
            s.segmentations
        );
    }
    h.push_str("</table>");
    h.push_str("<h2>Segmentations</h2>");
    if r.segmentations.is_empty() {
        h.push_str("<p>No series has segmentations by two readers yet.</p>");
    } else {
        let rows: Vec<(String, f64)> = r
            .segmentations
            .iter()
            .map(|s| {
                (
                    format!(
                        "{} · {} · {} / {}",
                        s.series, s.class, s.reader_a, s.reader_b
                    ),
                    s.dice,
                )
            })
            .collect();
        h.push_str(&bars("Dice per class and pair of readers", &rows));
        h.push_str("<table><tr><th>series · class</th><th>readers</th><th>Dice</th><th>IoU</th><th>volumes (mL)</th><th>difference (mL)</th><th>mean surface (mm)</th><th>HD95 (mm)</th></tr>");
        for s in &r.segmentations {
            let _ = write!(
                h,
                "<tr><td>{} · {}</td><td>{} / {}</td><td>{:.3}</td><td>{:.3}</td><td>{:.2} / {:.2}</td><td>{:+.2}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.series),
                esc(&s.class),
                esc(&s.reader_a),
                esc(&s.reader_b),
                s.dice,
                s.iou,
                s.volume_a_ml,
                s.volume_b_ml,
                s.volume_difference_ml,
                s.mean_surface_mm.map_or("–".into(), |v| format!("{v:.2}")),
                s.hausdorff95_mm.map_or("–".into(), |v| format!("{v:.2}")),
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Findings</h2>");
    if r.findings.is_empty() {
        h.push_str("<p>No series has findings by two readers yet.</p>");
    } else {
        let rows: Vec<(String, f64)> = r
            .findings
            .iter()
            .filter_map(|f| {
                Some((
                    format!("{} · {} / {}", f.series, f.reader_a, f.reader_b),
                    f.kappa?.max(0.0),
                ))
            })
            .collect();
        if !rows.is_empty() {
            h.push_str(&bars(
                "Cohen's kappa on matched findings' codes (negative shown as 0)",
                &rows,
            ));
        }
        h.push_str("<table><tr><th>series</th><th>readers</th><th>findings</th><th>matched</th><th>missed by B / A</th><th>κ</th></tr>");
        for f in &r.findings {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{} / {}</td><td>{} / {}</td><td>{}</td><td>{} / {}</td><td>{}</td></tr>",
                esc(&f.series),
                esc(&f.reader_a),
                esc(&f.reader_b),
                f.findings_a,
                f.findings_b,
                f.matched,
                f.missed_by_b,
                f.missed_by_a,
                f.kappa.map_or("–".into(), |k| format!("{k:.3}")),
            );
            if f.categories.len() > 1 {
                h.push_str("<tr><td colspan=\"6\"><table><tr><th>A \\ B</th>");
                for c in &f.categories {
                    let _ = write!(h, "<th>{}</th>", esc(c));
                }
                h.push_str("</tr>");
                for (c, row) in f.categories.iter().zip(&f.confusion) {
                    let _ = write!(h, "<tr><td>{}</td>", esc(c));
                    for v in row {
                        let _ = write!(h, "<td>{v}</td>");
                    }
                    h.push_str("</tr>");
                }
                h.push_str("</table></td></tr>");
            }
        }
        h.push_str("</table>");
    }
    if !r.multi_reader.is_empty() {
        h.push_str("<h2>Three or more readers</h2><table><tr><th>series</th><th>readers</th><th>findings all marked</th><th>Fleiss' κ</th></tr>");
        for m in &r.multi_reader {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.series),
                esc(&m.readers.join(", ")),
                m.subjects,
                m.fleiss_kappa.map_or("–".into(), |k| format!("{k:.3}")),
            );
        }
        h.push_str("</table>");
    }
    cases_html(&mut h, &r.cases);
    let _ = write!(
        h,
        "<p>Findings are matched one to one within {:.0} mm (positions from each annotation's recorded geometry; {} without it were left out).</p></body></html>",
        super::report::MATCH_DISTANCE_MM,
        r.unplaced_findings
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_html_escape_what_readers_typed() {
        assert_eq!(csv_field("=cmd"), "'=cmd");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(esc("<b>&"), "&lt;b&gt;&amp;");
        let svg = bars("t", &[("x<y".into(), 0.5)]);
        assert!(svg.contains("x&lt;y") && svg.contains("width=\"180\""));
    }
}
