//! The per-line state machine behind [`super::parse_with`]: comments, metadata and samples.

use std::borrow::Cow;

use super::{Format, Handler, Label, Metadata, MetricType, ParseSummary, Sample};

/// Whether parsing goes on after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    /// OpenMetrics `# EOF`.
    Stop,
}

/// Bytes allowed in metric names (`[a-zA-Z0-9_:]`; the first may not be a digit).
const METRIC_NAME_BYTE: [bool; 256] = byte_table(true);
/// Bytes allowed in label names (`[a-zA-Z0-9_]`; the first may not be a digit).
const LABEL_NAME_BYTE: [bool; 256] = byte_table(false);

const fn byte_table(colon: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric() || b == b'_' || (colon && b == b':');
        byte += 1;
    }
    table
}

/// Parser state carried from line to line.
pub(super) struct LineParser<'a> {
    format: Format,
    /// The family of the last `# TYPE` line and its type.
    family: Option<(&'a str, MetricType)>,
    /// Reused for every sample, so a body costs one allocation for its labels.
    labels: Vec<Label<'a>>,
    pub(super) eof_seen: bool,
    pub(super) summary: ParseSummary,
}

impl<'a> LineParser<'a> {
    pub(super) fn new(format: Format) -> LineParser<'a> {
        LineParser {
            format,
            family: None,
            labels: Vec::with_capacity(16),
            eof_seen: false,
            summary: ParseSummary::default(),
        }
    }

    pub(super) fn line<H: Handler>(
        &mut self,
        line: &'a str,
        line_no: usize,
        handler: &mut H,
    ) -> Flow {
        let line = line.strip_suffix('\r').unwrap_or(line);
        // Leading blanks are tolerated, as Go's text parser does.
        let line = line.trim_start_matches([' ', '\t']);
        let result = match line.as_bytes().first() {
            None => Ok(Flow::Continue),
            Some(b'#') => self.comment(line, line_no, handler),
            Some(_) => self.sample(line, line_no, handler).map(|()| Flow::Continue),
        };
        match result {
            Ok(flow) => flow,
            Err(reason) => {
                self.summary.errors += 1;
                handler.error(line_no, &reason);
                Flow::Continue
            }
        }
    }

    fn comment<H: Handler>(
        &mut self,
        line: &'a str,
        line_no: usize,
        handler: &mut H,
    ) -> Result<Flow, Cow<'static, str>> {
        let rest = line[1..].trim_start_matches([' ', '\t']);
        let (keyword, rest) = split_token(rest);
        match keyword {
            "EOF" if self.format == Format::OpenMetrics => {
                if !rest.trim().is_empty() {
                    return Err("text after # EOF".into());
                }
                self.eof_seen = true;
                return Ok(Flow::Stop);
            }
            "HELP" | "TYPE" | "UNIT" => {}
            // Any other comment is ignored.
            _ => return Ok(Flow::Continue),
        }
        if keyword == "UNIT" && self.format != Format::OpenMetrics {
            return Ok(Flow::Continue);
        }
        let (family, rest) = split_token(rest);
        if !is_metric_name(family) {
            return Err(if family.is_empty() {
                format!("# {keyword} without a metric name").into()
            } else {
                format!("# {keyword} with an invalid metric name {family:?}").into()
            });
        }
        match keyword {
            "HELP" => {
                // Everything after one separator is the help text, spaces included.
                let text = unescape(rest, self.format == Format::OpenMetrics);
                handler.metadata(family, Metadata::Help(text), line_no);
            }
            "TYPE" => {
                let type_text = rest.trim_matches([' ', '\t']);
                let Some(metric_type) = MetricType::parse(type_text, self.format) else {
                    return Err(format!("unknown metric type {type_text:?} for {family}").into());
                };
                self.family = Some((family, metric_type));
                handler.metadata(family, Metadata::Type(metric_type), line_no);
            }
            _ => {
                handler.metadata(
                    family,
                    Metadata::Unit(rest.trim_matches([' ', '\t'])),
                    line_no,
                );
            }
        }
        Ok(Flow::Continue)
    }

    fn sample<H: Handler>(
        &mut self,
        line: &'a str,
        line_no: usize,
        handler: &mut H,
    ) -> Result<(), Cow<'static, str>> {
        let bytes = line.as_bytes();
        let name_end = bytes
            .iter()
            .position(|&b| !METRIC_NAME_BYTE[b as usize])
            .unwrap_or(bytes.len());
        let name = &line[..name_end];
        if name.is_empty() || bytes[0].is_ascii_digit() {
            return Err("invalid metric name".into());
        }
        let mut pos = skip_blanks(bytes, name_end);
        self.labels.clear();
        if bytes.get(pos) == Some(&b'{') {
            pos = self.labels(line, pos + 1)?;
            pos = skip_blanks(bytes, pos);
        } else if pos == name_end && pos < bytes.len() {
            return Err(
                format!("invalid character {:?} in metric name", char_at(line, pos)).into(),
            );
        }
        if pos >= bytes.len() {
            return Err("expected a value after the metric name".into());
        }
        let value_end = token_end(bytes, pos);
        let value_text = &line[pos..value_end];
        let value = parse_value(value_text)
            .ok_or_else(|| Cow::Owned(format!("invalid value {value_text:?}")))?;
        pos = skip_blanks(bytes, value_end);
        let mut timestamp_ms = None;
        if pos < bytes.len() && !(self.format == Format::OpenMetrics && bytes[pos] == b'#') {
            let ts_end = token_end(bytes, pos);
            let ts_text = &line[pos..ts_end];
            timestamp_ms = Some(
                self.parse_timestamp(ts_text)
                    .ok_or_else(|| Cow::Owned(format!("invalid timestamp {ts_text:?}")))?,
            );
            pos = skip_blanks(bytes, ts_end);
        }
        if pos < bytes.len() {
            // OpenMetrics exemplars (`# {labels} value [timestamp]`) are skipped.
            if !(self.format == Format::OpenMetrics && bytes[pos] == b'#') {
                return Err(format!("unexpected text {:?} after the value", &line[pos..]).into());
            }
        }
        let metric_type = self.metric_type(name);
        self.summary.samples += 1;
        handler.sample(&Sample {
            name,
            labels: &self.labels,
            value,
            timestamp_ms,
            metric_type,
            line: line_no,
        });
        Ok(())
    }

    /// Parse `name="value",...}` starting after `{`; returns the position after `}`.
    fn labels(&mut self, line: &'a str, mut pos: usize) -> Result<usize, Cow<'static, str>> {
        let bytes = line.as_bytes();
        loop {
            pos = skip_blanks(bytes, pos);
            match bytes.get(pos) {
                None => return Err("unterminated label set".into()),
                Some(b'}') => return Ok(pos + 1),
                Some(_) => {}
            }
            let name_start = pos;
            // Fast path: the name runs up to the next '=' and is all name bytes.
            let fast_end = find_byte(bytes, pos, b'=').filter(|&end| {
                end > name_start
                    && !bytes[name_start].is_ascii_digit()
                    && bytes[name_start..end]
                        .iter()
                        .all(|&b| LABEL_NAME_BYTE[b as usize])
            });
            let name = if let Some(end) = fast_end {
                pos = end;
                &line[name_start..end]
            } else {
                while pos < bytes.len() && LABEL_NAME_BYTE[bytes[pos] as usize] {
                    pos += 1;
                }
                let name = &line[name_start..pos];
                if name.is_empty() || bytes[name_start].is_ascii_digit() {
                    return Err(format!("invalid label name at column {}", name_start + 1).into());
                }
                pos = skip_blanks(bytes, pos);
                if bytes.get(pos) != Some(&b'=') {
                    return Err(format!("expected '=' after label name {name:?}").into());
                }
                name
            };
            pos = skip_blanks(bytes, pos + 1);
            if bytes.get(pos) != Some(&b'"') {
                return Err(format!("expected '\"' to open the value of label {name:?}").into());
            }
            let (value, after) = label_value(line, pos + 1)
                .ok_or_else(|| Cow::Owned(format!("unterminated value of label {name:?}")))?;
            if self.labels.iter().any(|label| label.name == name) {
                return Err(format!("duplicate label {name:?}").into());
            }
            self.labels.push(Label { name, value });
            pos = skip_blanks(bytes, after);
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => return Ok(pos + 1),
                None => return Err("unterminated label set".into()),
                Some(_) => {
                    return Err(format!(
                        "expected ',' or '}}' after label {name:?}, found {:?}",
                        char_at(line, pos)
                    )
                    .into());
                }
            }
        }
    }

    fn parse_timestamp(&self, text: &str) -> Option<i64> {
        match self.format {
            Format::PrometheusText => text.parse::<i64>().ok(),
            Format::OpenMetrics => {
                let seconds: f64 = text.parse().ok()?;
                let millis = (seconds * 1000.0).round();
                (millis.is_finite() && millis.abs() < i64::MAX as f64).then_some(millis as i64)
            }
        }
    }

    fn metric_type(&self, name: &str) -> MetricType {
        let Some((family, metric_type)) = self.family else {
            return MetricType::Untyped;
        };
        let Some(suffix) = name.strip_prefix(family) else {
            return MetricType::Untyped;
        };
        if suffix.is_empty() || metric_type.suffixes().contains(&suffix) {
            metric_type
        } else {
            MetricType::Untyped
        }
    }
}

fn is_metric_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && !bytes[0].is_ascii_digit()
        && bytes.iter().all(|&b| METRIC_NAME_BYTE[b as usize])
}

/// The first blank-separated token and the text after the single blank that ends it.
fn split_token(text: &str) -> (&str, &str) {
    match text.bytes().position(|b| b == b' ' || b == b'\t') {
        Some(end) => (&text[..end], &text[end + 1..]),
        None => (text, ""),
    }
}

fn skip_blanks(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
        pos += 1;
    }
    pos
}

fn token_end(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && bytes[pos] != b' ' && bytes[pos] != b'\t' {
        pos += 1;
    }
    pos
}

fn char_at(line: &str, pos: usize) -> char {
    line.get(pos..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or('?')
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of every byte of `word` that equals the byte `needle` (lowest one exact).
#[inline]
fn matches(word: u64, needle: u8) -> u64 {
    let x = word ^ (ONES * u64::from(needle));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The 8 bytes at `pos` as a little-endian word; `pos + 8 <= bytes.len()` is checked.
#[inline]
fn word_at(bytes: &[u8], pos: usize) -> Option<u64> {
    let chunk: [u8; 8] = bytes.get(pos..pos + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(chunk))
}

/// The position of the next `needle` at or after `from`, eight bytes at a time (label
/// names and values are short, so this beats memchr's setup).
#[inline]
fn find_byte(bytes: &[u8], from: usize, needle: u8) -> Option<usize> {
    let mut pos = from;
    while let Some(word) = word_at(bytes, pos) {
        let found = matches(word, needle);
        if found != 0 {
            return Some(pos + (found.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    bytes
        .get(pos..)?
        .iter()
        .position(|&b| b == needle)
        .map(|idx| pos + idx)
}

/// The position of the next `"` or `\\` at or after `from`, eight bytes at a time.
#[inline]
fn find_quote_or_backslash(bytes: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(word) = word_at(bytes, pos) {
        let found = matches(word, b'"') | matches(word, b'\\');
        if found != 0 {
            return Some(pos + (found.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    bytes
        .get(pos..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|idx| pos + idx)
}

/// Parse a quoted label value starting after the opening quote; returns the value and the
/// position after the closing quote. Escapes `\\`, `\"` and `\n` are resolved; any other
/// backslash is kept, as Prometheus does.
fn label_value(line: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = line.as_bytes();
    let first = find_quote_or_backslash(bytes, start)?;
    if bytes[first] == b'"' {
        return Some((Cow::Borrowed(&line[start..first]), first + 1));
    }
    let mut value = String::with_capacity(first - start + 16);
    let mut segment_start = start;
    let mut pos = first;
    loop {
        value.push_str(&line[segment_start..pos]);
        if bytes[pos] == b'"' {
            return Some((Cow::Owned(value), pos + 1));
        }
        // bytes[pos] is a backslash.
        match bytes.get(pos + 1)? {
            b'n' => value.push('\n'),
            b'\\' => value.push('\\'),
            b'"' => value.push('"'),
            _ => {
                value.push('\\');
                segment_start = pos + 1;
                pos = find_quote_or_backslash(bytes, segment_start)?;
                continue;
            }
        }
        segment_start = pos + 2;
        pos = find_quote_or_backslash(bytes, segment_start)?;
    }
}

/// Resolve `\\` and `\n` (and `\"` when `quote` is set) in help text.
fn unescape(text: &str, quote: bool) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            Some('\\') => {
                out.push('\\');
                chars.next();
            }
            Some('"') if quote => {
                out.push('"');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// Parse a value the way Go's `strconv.ParseFloat` does for exposition text, with a fast
/// path for plain integers.
fn parse_value(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    if !bytes.is_empty() && bytes.len() <= 19 && bytes.iter().all(u8::is_ascii_digit) {
        let mut integer = 0u64;
        for &b in bytes {
            integer = integer * 10 + u64::from(b - b'0');
        }
        // Up to 19 digits fit a u64 exactly, and the u64 to f64 conversion rounds to
        // nearest like decimal parsing does, so this equals `text.parse::<f64>()`.
        return Some(integer as f64);
    }
    // Like Go, Rust accepts `NaN`, `+Inf`, `-Inf` and `Infinity` in any case; unlike Go it
    // rejects hexadecimal floats, which no exporter writes.
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scans_agree_with_plain_scans() {
        let text = b"abc=def\"gh\\ij=\"kl\"mnopqrstuvwxyz\xc3\xa9\"=\\";
        for from in 0..=text.len() {
            let plain = text[from..]
                .iter()
                .position(|&b| b == b'=')
                .map(|i| i + from);
            assert_eq!(find_byte(text, from, b'='), plain, "from {from}");
            let plain = text[from..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\')
                .map(|i| i + from);
            assert_eq!(find_quote_or_backslash(text, from), plain, "from {from}");
        }
        assert_eq!(find_byte(b"", 0, b'='), None);
        assert_eq!(find_byte(b"abc", 5, b'='), None);
    }
}
