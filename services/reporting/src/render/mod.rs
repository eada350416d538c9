//! Documents and images: the problem map (GeoJSON, SVG, PNG) and the semi-annual report
//! (HTML, PDF). Pure functions from report data to bytes.

pub mod map;
pub mod pdf;
pub mod report;

/// Escapes text for XML/HTML content and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::xml_escape("a<b & \"c\""),
            "a&lt;b &amp; &quot;c&quot;"
        );
    }
}
