//! Escaping, in one place: what the text formats escape in label values and `# HELP`
//! texts, how they write floats, and reading an escaped label list back.

use super::Format;

/// Escapes a label value into `out`: `\` `"` and newline.
pub fn write_escaped_label_value(out: &mut String, value: &str) {
    write_escaped(out, value, true);
}

/// Writes one label, `name="value"`, its value escaped.
pub(super) fn write_label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    write_escaped_label_value(out, value);
    out.push('"');
}

/// Escapes a `# HELP` text into `out`: `\` and newline, and `"` in OpenMetrics.
pub(crate) fn write_escaped_help(out: &mut String, help: &str, format: Format) {
    write_escaped(out, help, format.escapes_quotes_in_help());
}

/// Escapes `\` and newline, and `"` when `quotes`, copying the runs between them whole.
fn write_escaped(out: &mut String, text: &str, quotes: bool) {
    // Most label values are shorter than a vector: checked eight bytes at a time, they
    // cost less than memchr's set-up.
    if text.len() < SHORT && plain(text.as_bytes(), quotes) {
        out.push_str(text);
        return;
    }
    let mut rest = text;
    while let Some(at) = if quotes {
        memchr::memchr3(b'\\', b'\n', b'"', rest.as_bytes())
    } else {
        memchr::memchr2(b'\\', b'\n', rest.as_bytes())
    } {
        // `at` is the index of an ASCII byte, so both halves are on char boundaries.
        let (run, escaped) = rest.split_at(at);
        out.push_str(run);
        let (first, after) = escaped.split_at(1);
        out.push_str(match first {
            "\\" => "\\\\",
            "\n" => "\\n",
            _ => "\\\"",
        });
        rest = after;
    }
    out.push_str(rest);
}

/// Below this length, [`write_escaped`] looks for escapes with [`plain`].
const SHORT: usize = 32;

/// Whether `text` holds nothing to escape (no `\`, newline, nor `"` when `quotes`), read
/// eight bytes at a time: a word holds a byte `b` when `word ^ b…b` has a zero byte, which
/// `(x - 0x01…01) & !x & 0x80…80` tells exactly (it may mark other bytes too, never none).
fn plain(text: &[u8], quotes: bool) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let holds = |word: u64, byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH != 0
    };
    let mut words = text.chunks_exact(8);
    for chunk in &mut words {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        if holds(word, b'\\') || holds(word, b'\n') || (quotes && holds(word, b'"')) {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|&b| b != b'\\' && b != b'\n' && (b != b'"' || !quotes))
}

/// Writes a float the way Prometheus parses it: `NaN`, `+Inf`, `-Inf`, or the shortest
/// round-tripping decimal.
pub fn write_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

/// Undoes [`write_escaped_help`] (and [`write_escaped_label_value`]): `\n` is a newline,
/// a backslash before any other character is that character.
pub(crate) fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Reads an escaped label list, `a="x",b="y"`, one label at a time, up to a closing `}`
/// or the end of the text: the reverse of [`write_escaped_label_value`]. Used for label
/// lists this crate rendered and for scrapes read back in tests
/// ([`testing::Scrape`](crate::testing::Scrape)).
pub(crate) struct LabelReader<'t> {
    rest: &'t str,
    closed: bool,
}

impl<'t> LabelReader<'t> {
    /// A reader of `text`, which starts just after the `{` (or is a bare list).
    pub(crate) fn new(text: &'t str) -> Self {
        Self {
            rest: text,
            closed: false,
        }
    }

    /// The next label's name, its unescaped value written into `value`; `None` after the
    /// last one; an error naming what is wrong when the list is malformed.
    pub(crate) fn next_label(
        &mut self,
        value: &mut String,
    ) -> Result<Option<&'t str>, &'static str> {
        let rest = self.rest.trim_start_matches([',', ' ']);
        if rest.is_empty() || self.closed {
            self.rest = rest;
            return Ok(None);
        }
        if let Some(after) = rest.strip_prefix('}') {
            self.rest = after;
            self.closed = true;
            return Ok(None);
        }
        let (name, after) = rest.split_once('=').ok_or("a label has no `=`")?;
        let name = name.trim();
        if name.is_empty() || name.contains(['}', '"', ' ']) {
            return Err("a label has no name");
        }
        let after = after
            .trim_start()
            .strip_prefix('"')
            .ok_or("a label value is not quoted")?;
        value.clear();
        let mut chars = after.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                '"' => {
                    self.rest = &after[at + 1..];
                    return Ok(Some(name));
                }
                c => value.push(c),
            }
        }
        Err("a label value is not closed")
    }

    /// What follows the list's closing `}`, once [`next_label`](Self::next_label) returned
    /// `None`; `None` when the text ended without one.
    pub(crate) fn after_close(&self) -> Option<&'t str> {
        self.closed.then_some(self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(value: &str) -> String {
        let mut out = String::from("x");
        write_escaped_label_value(&mut out, value);
        out
    }

    fn help(text: &str, format: Format) -> String {
        let mut out = String::new();
        write_escaped_help(&mut out, text, format);
        out
    }

    #[test]
    fn escapes_are_found_anywhere_and_the_runs_between_them_are_kept_whole() {
        assert_eq!(label(""), "x");
        assert_eq!(label("plain ünïcödé ✓"), "xplain ünïcödé ✓");
        assert_eq!(label("\\"), r"x\\");
        assert_eq!(label("\"\n\\"), r#"x\"\n\\"#);
        assert_eq!(label("é\"é\nü\\✓"), r#"xé\"é\nü\\✓"#);
        assert_eq!(label("end\n"), r"xend\n");
    }

    /// The short path and memchr's agree: each escaped byte, and a few that are not
    /// (`!`, `#`, `\x7f`, and `ü`, whose bytes are above 0x80), at every position of
    /// texts of every length up to past the short path's.
    #[test]
    fn every_escape_is_found_at_every_position_of_short_and_long_texts() {
        for len in 1..=SHORT + 9 {
            for at in 0..len {
                for (byte, escaped) in [('\\', r"\\"), ('\n', r"\n"), ('"', r#"\""#)] {
                    let text: String = (0..len).map(|i| if i == at { byte } else { 'a' }).collect();
                    let want = format!("x{}{escaped}{}", "a".repeat(at), "a".repeat(len - at - 1));
                    assert_eq!(label(&text), want, "{text:?}");
                    let help_text = help(&text, Format::Prometheus);
                    let kept = if byte == '"' { "\"" } else { escaped };
                    assert_eq!(
                        help_text,
                        format!("{}{kept}{}", "a".repeat(at), "a".repeat(len - at - 1))
                    );
                }
                for byte in ['!', '#', '\x7f', 'ü'] {
                    let text: String = (0..len).map(|i| if i == at { byte } else { 'a' }).collect();
                    assert_eq!(label(&text), format!("x{text}"), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn help_escapes_quotes_only_in_openmetrics() {
        let text = "a \"b\"\\c\nd ✓";
        assert_eq!(help(text, Format::Prometheus), r#"a "b"\\c\nd ✓"#);
        assert_eq!(help(text, Format::OpenMetrics), r#"a \"b\"\\c\nd ✓"#);
    }

    #[test]
    fn what_is_escaped_reads_back() {
        for value in ["", "a", "\\n", "\"\"", "x\ny\\z\"", "ü\\\n✓"] {
            let mut out = String::new();
            write_escaped_label_value(&mut out, value);
            assert_eq!(unescape(&out), value);
        }
    }
}
