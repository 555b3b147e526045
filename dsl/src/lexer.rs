//! The lexer: script text to tokens with byte spans, following TICKscript's lexical rules.
//!
//! It never fails: a character that starts no token becomes a diagnostic and is skipped, so
//! the parser always sees the rest of the script.

use std::fmt;

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// A name (`stream`, `window`, `period`, `host`).
    Ident(String),
    /// `var`.
    Var,
    /// `dbrp`.
    Dbrp,
    /// `TRUE`.
    True,
    /// `FALSE`.
    False,
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `lambda:` (the keyword includes the colon).
    Lambda,
    /// Integer literal (already decoded; a leading `0` means octal).
    Int(i64),
    /// Float literal.
    Float(f64),
    /// Duration literal in nanoseconds.
    Duration(i64),
    /// Single-quoted or triple-quoted string (already unescaped).
    Str(String),
    /// Double-quoted reference (already unescaped).
    Reference(String),
    /// Regex literal body between the slashes (`\/` unescaped).
    Regex(String),
    /// `*` (star or multiplication, decided by the parser).
    Star,
    /// `// ...` comment text without the slashes.
    Comment(String),
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `[`.
    LBracket,
    /// `]`.
    RBracket,
    /// `,`.
    Comma,
    /// `.`.
    Dot,
    /// `|`.
    Pipe,
    /// `@`.
    At,
    /// `=`.
    Assign,
    /// `+`.
    Plus,
    /// `-`.
    Minus,
    /// `/`.
    Slash,
    /// `%`.
    Percent,
    /// `==`.
    Eq,
    /// `!=`.
    NotEq,
    /// `<`.
    Less,
    /// `<=`.
    LessEq,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterEq,
    /// `=~`.
    RegexMatch,
    /// `!~`.
    RegexNotMatch,
    /// `!`.
    Not,
    /// A malformed token, already reported by the lexer.
    Invalid,
}

impl TokenKind {
    /// How the token is described in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(name) => format!("identifier `{name}`"),
            TokenKind::Int(value) => format!("integer `{value}`"),
            TokenKind::Float(value) => format!("float `{value}`"),
            TokenKind::Duration(_) => "duration".to_owned(),
            TokenKind::Str(_) => "string".to_owned(),
            TokenKind::Reference(name) => format!("reference \"{name}\""),
            TokenKind::Regex(_) => "regex".to_owned(),
            TokenKind::Comment(_) => "comment".to_owned(),
            other => format!("`{other}`"),
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TokenKind::Ident(name) => return f.write_str(name),
            TokenKind::Int(value) => return write!(f, "{value}"),
            TokenKind::Float(value) => return write!(f, "{value}"),
            TokenKind::Duration(nanos) => return write!(f, "{}", crate::value::Duration(*nanos)),
            TokenKind::Str(value) => return write!(f, "'{value}'"),
            TokenKind::Reference(value) => return write!(f, "\"{value}\""),
            TokenKind::Regex(value) => return write!(f, "/{value}/"),
            TokenKind::Comment(value) => return write!(f, "//{value}"),
            TokenKind::Var => "var",
            TokenKind::Dbrp => "dbrp",
            TokenKind::True => "TRUE",
            TokenKind::False => "FALSE",
            TokenKind::And => "AND",
            TokenKind::Or => "OR",
            TokenKind::Lambda => "lambda:",
            TokenKind::Star => "*",
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::LBracket => "[",
            TokenKind::RBracket => "]",
            TokenKind::Comma => ",",
            TokenKind::Dot => ".",
            TokenKind::Pipe => "|",
            TokenKind::At => "@",
            TokenKind::Assign => "=",
            TokenKind::Plus => "+",
            TokenKind::Minus => "-",
            TokenKind::Slash => "/",
            TokenKind::Percent => "%",
            TokenKind::Eq => "==",
            TokenKind::NotEq => "!=",
            TokenKind::Less => "<",
            TokenKind::LessEq => "<=",
            TokenKind::Greater => ">",
            TokenKind::GreaterEq => ">=",
            TokenKind::RegexMatch => "=~",
            TokenKind::RegexNotMatch => "!~",
            TokenKind::Not => "!",
            TokenKind::Invalid => "<invalid>",
        };
        f.write_str(text)
    }
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
    /// Whether a newline separates it from the previous token (used for error recovery).
    pub line_start: bool,
}

/// Splits `source` into tokens (comments included) and lexical diagnostics.
pub fn lex(source: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lexer = Lexer {
        source,
        bytes: source.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        diagnostics: Vec::new(),
        newline: true,
    };
    lexer.run();
    (lexer.tokens, lexer.diagnostics)
}

struct Lexer<'a> {
    source: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    diagnostics: Vec<Diagnostic>,
    newline: bool,
}

impl Lexer<'_> {
    fn run(&mut self) {
        while let Some(ch) = self.peek_char() {
            let start = self.pos;
            if ch == '\n' {
                self.newline = true;
                self.pos += 1;
                continue;
            }
            if ch.is_whitespace() {
                self.pos += ch.len_utf8();
                continue;
            }
            if ch.is_alphabetic() {
                self.ident(start);
                continue;
            }
            if ch.is_ascii_digit()
                || (ch == '.'
                    && self
                        .byte_at(self.pos + 1)
                        .is_some_and(|b| b.is_ascii_digit()))
            {
                self.number(start);
                continue;
            }
            match ch {
                '\'' => self.string(start),
                '"' => self.reference(start),
                '`' => self.backtick(start),
                '/' if self.byte_at(self.pos + 1) == Some(b'/') => self.comment(start),
                '/' if self.regex_allowed() => self.regex(start),
                _ => self.punct(start, ch),
            }
        }
    }

    fn peek_char(&self) -> Option<char> {
        self.source[self.pos..].chars().next()
    }

    fn byte_at(&self, index: usize) -> Option<u8> {
        self.bytes.get(index).copied()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let line_start = std::mem::take(&mut self.newline);
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
            line_start,
        });
    }

    /// Reports a malformed token and leaves an [`TokenKind::Invalid`] in its place, so the
    /// parser sees a value there and adds no errors of its own.
    fn error(&mut self, code: &'static str, message: String, span: Span) {
        self.invalid(Diagnostic::error(code, message, span));
    }

    fn invalid(&mut self, diagnostic: Diagnostic) {
        let line_start = std::mem::take(&mut self.newline);
        self.tokens.push(Token {
            kind: TokenKind::Invalid,
            span: diagnostic.span(),
            line_start,
        });
        self.diagnostics.push(diagnostic);
    }

    /// A `/` starts a regex where a value may start: at the start, after an operator, `(`,
    /// `,`, `[`, `=` or `lambda:`; after an operand it is division.
    fn regex_allowed(&self) -> bool {
        let previous = self
            .tokens
            .iter()
            .rev()
            .find(|token| !matches!(token.kind, TokenKind::Comment(_)));
        match previous.map(|token| &token.kind) {
            None => true,
            Some(kind) => !matches!(
                kind,
                TokenKind::Ident(_)
                    | TokenKind::Int(_)
                    | TokenKind::Float(_)
                    | TokenKind::Duration(_)
                    | TokenKind::Str(_)
                    | TokenKind::Reference(_)
                    | TokenKind::Regex(_)
                    | TokenKind::RParen
                    | TokenKind::RBracket
                    | TokenKind::True
                    | TokenKind::False
                    | TokenKind::Star
            ),
        }
    }

    fn ident(&mut self, start: usize) {
        let rest = &self.source[start..];
        let len = rest
            .char_indices()
            .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
            .map_or(rest.len(), |(index, _)| index);
        self.pos = start + len;
        let word = &self.source[start..self.pos];
        let kind = match word {
            "var" => TokenKind::Var,
            "dbrp" => TokenKind::Dbrp,
            "TRUE" => TokenKind::True,
            "FALSE" => TokenKind::False,
            "AND" => TokenKind::And,
            "OR" => TokenKind::Or,
            "lambda" if self.byte_at(self.pos) == Some(b':') => {
                self.pos += 1;
                TokenKind::Lambda
            }
            _ => TokenKind::Ident(word.to_owned()),
        };
        self.push(kind, start);
    }

    fn number(&mut self, start: usize) {
        let mut seen_dot = false;
        while let Some(byte) = self.byte_at(self.pos) {
            if byte.is_ascii_digit() {
                self.pos += 1;
            } else if byte == b'.'
                && !seen_dot
                && self
                    .byte_at(self.pos + 1)
                    .is_some_and(|b| b.is_ascii_digit())
            {
                seen_dot = true;
                self.pos += 1;
            } else {
                break;
            }
        }
        let digits = &self.source[start..self.pos];
        let span = Span::new(start, self.pos);
        if seen_dot {
            let rest = &self.source[self.pos..];
            let unit = ["ms", "u", "µ", "s", "m", "h", "d", "w"]
                .into_iter()
                .find(|unit| {
                    rest.starts_with(unit)
                        && !rest[unit.len()..]
                            .chars()
                            .next()
                            .is_some_and(|ch| ch.is_alphanumeric())
                });
            if let Some(unit) = unit {
                self.pos += unit.len();
                let text = &self.source[start..self.pos];
                let smaller = match unit {
                    "w" => "d",
                    "d" => "h",
                    "h" => "m",
                    "m" => "s",
                    "s" => "ms",
                    _ => "u",
                };
                let diagnostic = Diagnostic::error(
                    codes::BAD_NUMBER,
                    format!("durations cannot have a fraction: `{text}`"),
                    Span::new(start, self.pos),
                )
                .with_note(format!("use a smaller unit, in `{smaller}`"));
                self.invalid(diagnostic);
                return;
            }
            match digits.parse::<f64>() {
                Ok(value) => self.push(TokenKind::Float(value), start),
                Err(err) => self.error(
                    codes::BAD_NUMBER,
                    format!("invalid float `{digits}`: {err}"),
                    span,
                ),
            }
            return;
        }
        // Duration units directly after the integer.
        let rest = &self.source[self.pos..];
        let unit = ["ms", "u", "µ", "s", "m", "h", "d", "w"]
            .into_iter()
            .find(|unit| {
                rest.starts_with(unit)
                    && !rest[unit.len()..]
                        .chars()
                        .next()
                        .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
            });
        let parsed = if digits.len() > 1 && digits.starts_with('0') {
            i64::from_str_radix(&digits[1..], 8)
                .map_err(|err| format!("invalid octal integer `{digits}`: {err}"))
        } else {
            digits
                .parse::<i64>()
                .map_err(|err| format!("invalid integer `{digits}`: {err}"))
        };
        let value = match parsed {
            Ok(value) => value,
            Err(message) => {
                self.pos += unit.map_or(0, str::len);
                self.error(codes::BAD_NUMBER, message, Span::new(start, self.pos));
                return;
            }
        };
        let Some(unit) = unit else {
            self.push(TokenKind::Int(value), start);
            return;
        };
        self.pos += unit.len();
        let multiplier: i64 = match unit {
            "u" | "µ" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            _ => 604_800_000_000_000,
        };
        match value.checked_mul(multiplier) {
            Some(nanos) => self.push(TokenKind::Duration(nanos), start),
            None => self.error(
                codes::BAD_NUMBER,
                format!("duration `{}` is too large", &self.source[start..self.pos]),
                Span::new(start, self.pos),
            ),
        }
    }

    fn string(&mut self, start: usize) {
        if self.source[start..].starts_with("'''") {
            let body_start = start + 3;
            match self.source[body_start..].find("'''") {
                Some(end) => {
                    self.pos = body_start + end + 3;
                    let body = self.source[body_start..body_start + end].to_owned();
                    self.push(TokenKind::Str(body), start);
                }
                None => {
                    self.pos = self.source.len();
                    self.error(
                        codes::UNTERMINATED,
                        "unterminated triple-quoted string".to_owned(),
                        Span::new(start, start + 3),
                    );
                }
            }
            return;
        }
        match self.quoted(start, '\'') {
            Some(body) => self.push(TokenKind::Str(body), start),
            None => self.error(
                codes::UNTERMINATED,
                "unterminated string".to_owned(),
                Span::new(start, start + 1),
            ),
        }
    }

    fn reference(&mut self, start: usize) {
        match self.quoted(start, '"') {
            Some(body) => self.push(TokenKind::Reference(body), start),
            None => self.error(
                codes::UNTERMINATED,
                "unterminated reference".to_owned(),
                Span::new(start, start + 1),
            ),
        }
    }

    /// Reads `q...q` where only `\q` is an escape (other backslashes stay). Newlines are part of
    /// the body, as in Kapacitor. Returns `None` when unterminated; the lexer then resumes at the
    /// end of the opening line so the rest of the script is still checked.
    fn quoted(&mut self, start: usize, quote: char) -> Option<String> {
        let mut body = String::new();
        let mut chars = self.source[start + 1..].char_indices();
        while let Some((offset, ch)) = chars.next() {
            if ch == '\\' {
                let next = self.source[start + 1 + offset + 1..].chars().next();
                if next == Some(quote) {
                    body.push(quote);
                    chars.next();
                    continue;
                }
                body.push('\\');
                continue;
            }
            if ch == quote {
                self.pos = start + 1 + offset + 1;
                return Some(body);
            }
            body.push(ch);
        }
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |end| start + end);
        self.pos = line_end;
        None
    }

    /// `` `text` ``: a common slip for a string; reported with the fix, kept as one token.
    fn backtick(&mut self, start: usize) {
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |end| start + end);
        let close = self.source[start + 1..line_end]
            .find('`')
            .map(|end| start + 1 + end);
        let Some(close) = close else {
            self.pos = start + 1;
            let span = Span::new(start, self.pos);
            self.diagnostics.push(Diagnostic::error(
                codes::UNEXPECTED_CHAR,
                "unexpected character `` ` ``",
                span,
            ));
            return;
        };
        self.pos = close + 1;
        let text = &self.source[start + 1..close];
        let diagnostic = Diagnostic::error(
            codes::UNEXPECTED_CHAR,
            "backticks do not quote anything in TICKscript",
            Span::new(start, self.pos),
        )
        .with_note(format!(
            "strings use single quotes: '{text}'; field and tag references double quotes: \"{text}\""
        ));
        self.invalid(diagnostic);
    }

    fn regex(&mut self, start: usize) {
        match self.quoted(start, '/') {
            Some(body) => self.push(TokenKind::Regex(body), start),
            None => self.error(
                codes::UNTERMINATED,
                "unterminated regex".to_owned(),
                Span::new(start, start + 1),
            ),
        }
    }

    fn comment(&mut self, start: usize) {
        let end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |end| start + end);
        self.pos = end;
        let text = self.source[start + 2..end]
            .trim_end_matches('\r')
            .to_owned();
        self.push(TokenKind::Comment(text), start);
    }

    fn punct(&mut self, start: usize, ch: char) {
        let next = self.byte_at(self.pos + 1);
        let (kind, len) = match (ch, next) {
            ('=', Some(b'=')) => (TokenKind::Eq, 2),
            ('=', Some(b'~')) => (TokenKind::RegexMatch, 2),
            ('!', Some(b'=')) => (TokenKind::NotEq, 2),
            ('!', Some(b'~')) => (TokenKind::RegexNotMatch, 2),
            ('<', Some(b'=')) => (TokenKind::LessEq, 2),
            ('>', Some(b'=')) => (TokenKind::GreaterEq, 2),
            ('=', _) => (TokenKind::Assign, 1),
            ('!', _) => (TokenKind::Not, 1),
            ('<', _) => (TokenKind::Less, 1),
            ('>', _) => (TokenKind::Greater, 1),
            ('(', _) => (TokenKind::LParen, 1),
            (')', _) => (TokenKind::RParen, 1),
            ('[', _) => (TokenKind::LBracket, 1),
            (']', _) => (TokenKind::RBracket, 1),
            (',', _) => (TokenKind::Comma, 1),
            ('.', _) => (TokenKind::Dot, 1),
            ('|', _) => (TokenKind::Pipe, 1),
            ('@', _) => (TokenKind::At, 1),
            ('+', _) => (TokenKind::Plus, 1),
            ('-', _) => (TokenKind::Minus, 1),
            ('*', _) => (TokenKind::Star, 1),
            ('/', _) => (TokenKind::Slash, 1),
            ('%', _) => (TokenKind::Percent, 1),
            _ => {
                self.pos += ch.len_utf8();
                let span = Span::new(start, self.pos);
                let mut diagnostic = Diagnostic::error(
                    codes::UNEXPECTED_CHAR,
                    format!("unexpected character `{ch}`"),
                    span,
                );
                if ch == ';' {
                    diagnostic =
                        diagnostic.with_note("statements need no terminator: remove the `;`");
                } else if ch == '`' {
                    diagnostic = diagnostic.with_note(
                        "strings use single quotes ('...'), references double quotes (\"...\")",
                    );
                } else if ch == '&' || ch == '|' {
                    diagnostic =
                        diagnostic.with_note("logical operators are written `AND` and `OR`");
                } else if ch == ':' {
                    // `lamda:`, `Lambda:`: a misspelt `lambda:` keyword just before the colon.
                    let before = &self.source[..start];
                    let word_start = before
                        .char_indices()
                        .rev()
                        .find(|(_, ch)| !(ch.is_alphanumeric() || *ch == '_'))
                        .map_or(0, |(index, ch)| index + ch.len_utf8());
                    let word = &before[word_start..];
                    if !word.is_empty() && strsim::levenshtein(&word.to_lowercase(), "lambda") <= 2
                    {
                        diagnostic = diagnostic
                            .with_note(format!("did you mean `lambda:` instead of `{word}:`?"));
                    }
                }
                self.diagnostics.push(diagnostic);
                return;
            }
        };
        self.pos += len;
        self.push(kind, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        let (tokens, diagnostics) = lex(source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        tokens.into_iter().map(|token| token.kind).collect()
    }

    #[test]
    fn numbers_durations_and_octal() {
        assert_eq!(
            kinds("10 010 .5 1.25 10s 5m 1ms 2u 3µ 1w"),
            vec![
                TokenKind::Int(10),
                TokenKind::Int(8),
                TokenKind::Float(0.5),
                TokenKind::Float(1.25),
                TokenKind::Duration(10_000_000_000),
                TokenKind::Duration(300_000_000_000),
                TokenKind::Duration(1_000_000),
                TokenKind::Duration(2_000),
                TokenKind::Duration(3_000),
                TokenKind::Duration(604_800_000_000_000),
            ]
        );
    }

    #[test]
    fn strings_references_and_escapes() {
        assert_eq!(
            kinds(r#"'it\'s' 'a\b' "x\"y" '''raw 'q' \n'''"#),
            vec![
                TokenKind::Str("it's".into()),
                TokenKind::Str("a\\b".into()),
                TokenKind::Reference("x\"y".into()),
                TokenKind::Str("raw 'q' \\n".into()),
            ]
        );
    }

    #[test]
    fn regex_versus_division() {
        assert_eq!(
            kinds(r#""a" / 2 =~ /x\/y/"#),
            vec![
                TokenKind::Reference("a".into()),
                TokenKind::Slash,
                TokenKind::Int(2),
                TokenKind::RegexMatch,
                TokenKind::Regex("x/y".into()),
            ]
        );
        assert_eq!(kinds("var r = /^a/")[3], TokenKind::Regex("^a".into()));
    }

    #[test]
    fn keywords_are_case_sensitive_and_lambda_needs_a_colon() {
        assert_eq!(
            kinds("TRUE true AND and lambda: lambda"),
            vec![
                TokenKind::True,
                TokenKind::Ident("true".into()),
                TokenKind::And,
                TokenKind::Ident("and".into()),
                TokenKind::Lambda,
                TokenKind::Ident("lambda".into()),
            ]
        );
    }

    #[test]
    fn comments_are_kept_and_spans_are_bytes() {
        let (tokens, _) = lex("// hi\nstream");
        assert_eq!(tokens[0].kind, TokenKind::Comment(" hi".into()));
        assert_eq!(tokens[1].span, Span::new(6, 12));
        assert!(tokens[1].line_start);
    }

    #[test]
    fn fractional_durations_are_explained() {
        let (tokens, diagnostics) = lex("1.5s x");
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0].kind, TokenKind::Invalid);
        assert_eq!(
            diagnostics[0].message,
            "durations cannot have a fraction: `1.5s`"
        );
        assert_eq!(diagnostics[0].notes, ["use a smaller unit, in `ms`"]);
    }

    #[test]
    fn a_misspelt_lambda_keyword_gets_a_hint() {
        // The last one has a multi-byte character before the word (found by fuzzing).
        let (_, diagnostics) = lex("f(lamda: 1) g(é: 1) h(\u{60f}amda: 1)");
        let colons: Vec<_> = diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.message == "unexpected character `:`")
            .collect();
        assert_eq!(colons.len(), 3);
        assert_eq!(
            colons[0].notes,
            ["did you mean `lambda:` instead of `lamda:`?"]
        );
        assert!(colons[1].notes.is_empty());
        assert_eq!(
            colons[2].notes,
            ["did you mean `lambda:` instead of `amda:`?"]
        );
    }

    #[test]
    fn strings_span_lines() {
        let (tokens, diagnostics) = lex("'a\nb' 'open\nx");
        assert_eq!(tokens[0].kind, TokenKind::Str("a\nb".into()));
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].message.contains("unterminated"));
    }

    #[test]
    fn bad_characters_are_reported_and_skipped() {
        let (tokens, diagnostics) = lex("a ; b 'open");
        assert_eq!(tokens.len(), 3);
        assert_eq!(tokens[2].kind, TokenKind::Invalid);
        assert_eq!(diagnostics.len(), 2);
        assert_eq!(diagnostics[0].span(), Span::new(2, 3));
        assert!(diagnostics[1].message.contains("unterminated"));
    }
}
