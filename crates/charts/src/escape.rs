//! Text that goes into markup, escaped for both element content and quoted
//! attribute values.

/// Escapes `&`, `<`, `>`, `"` and `'`, so a label such as a team named
/// `<script>` is shown as text and never read as markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 text.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// An id fragment made only of `[A-Za-z0-9_-]`, so ids built from a caller's
/// chart id stay valid and cannot break out of an attribute.
pub(crate) fn id_safe(text: &str) -> String {
    let id: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if id.is_empty() { "chart".to_string() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn ids_keep_only_safe_characters() {
        assert_eq!(id_safe("spend \"by\" team"), "spend__by__team");
        assert_eq!(id_safe(""), "chart");
    }
}
