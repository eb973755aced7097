//! The one XML escaper, below every module that writes XML or HTML: the reports
//! (report.html, JUnit, `bench history --html`, through `report::markup`) and the libvirt
//! backend's domain XML.

/// Text safe in XML and HTML content and in double- or single-quoted attributes: the
/// five entities escaped (`'` as `&#39;`, which both XML and HTML read), a newline as
/// `&#10;` (a raw one would be read back as a space in an attribute), characters XML 1.0
/// cannot carry (most control characters) replaced.
pub fn escape(text: &str) -> String {
    escape_xml(text, true)
}

/// [`escape`] for element content, where newlines stay newlines (`<pre>`, JUnit's
/// `<failure>` text).
pub fn escape_text(text: &str) -> String {
    escape_xml(text, false)
}

fn escape_xml(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\n' => out.push('\n'),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
