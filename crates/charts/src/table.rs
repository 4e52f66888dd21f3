//! The numbers behind a chart as text.

use crate::escape::escape;

/// A chart's numbers: a caption, column headers and rows of plain text. A page
/// renders it (escaping as it does any text) or calls [`Table::to_html`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub caption: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// `<table>` markup with every cell escaped; numeric columns (all but the
    /// first) right-aligned through the `num` class.
    pub fn to_html(&self) -> String {
        let mut out = String::from("<table class=\"chart-data\">");
        out.push_str(&format!("<caption>{}</caption><thead><tr>", escape(&self.caption)));
        for (i, h) in self.headers.iter().enumerate() {
            let class = if i > 0 { " class=\"num\"" } else { "" };
            out.push_str(&format!("<th scope=\"col\"{class}>{}</th>", escape(h)));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                if i == 0 {
                    out.push_str(&format!("<th scope=\"row\">{}</th>", escape(cell)));
                } else {
                    out.push_str(&format!("<td class=\"num\">{}</td>", escape(cell)));
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped() {
        let t = Table {
            caption: "Spend".into(),
            headers: vec!["Team".into(), "Spend".into()],
            rows: vec![vec!["<script>x</script>".into(), "$1.00".into()]],
        };
        let html = t.to_html();
        assert!(html.contains("<th scope=\"row\">&lt;script&gt;x&lt;/script&gt;</th>"));
        assert!(!html.contains("<script>"));
    }
}
