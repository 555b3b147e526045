//! The parser: tokens to [`Ast`], built from nom combinators over the token slice.
//!
//! It never gives up: when a statement fails to parse, the error is recorded and parsing
//! resumes at the next statement start (`var`, `dbrp`, or a name at the start of a line), so
//! one pass reports every syntax error. Inside a pipeline, a link whose arguments do not parse
//! becomes an [`ExprKind::Error`] placeholder and parsing resumes at the next link.
//!
//! The grammar (Kapacitor's, with its precedence):
//!
//! ```text
//! Program     = { Statement } .
//! Statement   = "var" name "=" Expr | "var" name Type | "dbrp" Reference "." Reference | Expr .
//! Expr        = Or .
//! Or          = And { "OR" And } .
//! And         = Equality { "AND" Equality } .
//! Equality    = Ordering { ( "==" | "!=" | "=~" | "!~" ) Ordering } .
//! Ordering    = Additive { ( "<" | "<=" | ">" | ">=" ) Additive } .
//! Additive    = Mult { ( "+" | "-" ) Mult } .
//! Mult        = Unary { ( "*" | "/" | "%" ) Unary } .
//! Unary       = ( "-" | "!" ) Unary | Chain .
//! Chain       = Primary { "|" name Args | "." name [ Args ] | "@" name Args } .
//! Primary     = number | duration | string | Reference | regex | "TRUE" | "FALSE" | "*"
//!             | "lambda:" Expr | "(" Expr ")" | "[" [ Expr { "," Expr } ] "]" | name [ Args ] .
//! Args        = "(" [ Expr { "," Expr } ] ")" .
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::iter::Enumerate;
use std::slice::Iter;

use nom::branch::alt;
use nom::combinator::{cut, opt};
use nom::error::{ErrorKind, ParseError};
use nom::multi::separated_list0;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Input, Needed, Parser};

use crate::ast::{
    Ast, BinaryOp, ChainKind, Expr, ExprKind, Ident, Statement, StatementKind, UnaryOp,
};
use crate::codes;
use crate::diagnostic::{Diagnostic, Label};
use crate::lexer::{self, Token, TokenKind};
use crate::span::Span;

/// The deepest nesting of parentheses, lists, arguments, lambdas and unary operators the
/// parser accepts. Deeper input is refused with [`codes::TOO_DEEP`] instead of exhausting the
/// stack; real scripts nest a handful of levels.
pub const MAX_NESTING: usize = 32;

/// The deepest expression tree the parser builds: every binary operator of a chain such as
/// `a AND b AND c …` and every link of a pipeline (`|node()` or `.property()`) is one level.
/// Everything that walks the tree afterwards (checker, formatter, evaluator) recurses at most
/// this deep.
pub const MAX_DEPTH: usize = 160;

/// Parses a whole script: the tree (possibly partial) and every lexical and syntax error.
pub fn parse(source: &str) -> (Ast, Vec<Diagnostic>) {
    let (all_tokens, mut diagnostics) = lexer::lex(source);
    let mut tokens = Vec::with_capacity(all_tokens.len());
    let mut comments: HashMap<usize, Vec<String>> = HashMap::new();
    let mut pending = Vec::new();
    for token in all_tokens {
        match token.kind {
            TokenKind::Comment(text) => pending.push(text),
            _ => {
                if !pending.is_empty() {
                    comments.insert(token.span.start, std::mem::take(&mut pending));
                }
                tokens.push(token);
            }
        }
    }
    let context = Context {
        comments,
        source_len: source.len(),
        errors: RefCell::new(Vec::new()),
        nesting: Cell::new(0),
    };
    let mut ast = Ast {
        statements: Vec::new(),
        trailing_comments: pending,
    };
    let mut input = Tokens(&tokens);
    while !input.0.is_empty() {
        let leading = context.comments_before(&input.0[0]);
        match statement(&context, input) {
            Ok((rest, mut parsed)) => {
                parsed.comments = leading;
                ast.statements.push(parsed);
                input = rest;
                // A statement ends at a new line (or where `var`/`dbrp` starts another one).
                if let Some(next) = rest.0.first() {
                    if !next.line_start && !matches!(next.kind, TokenKind::Var | TokenKind::Dbrp) {
                        let mut err = SyntaxError::expected(rest, "an operator");
                        err.expected.push("`|`, `.` or a new line");
                        diagnostics.push(err.into_diagnostic(context.source_len));
                        input = recover(rest, rest);
                    }
                }
            }
            Err(nom::Err::Error(err) | nom::Err::Failure(err)) => {
                let failed_at = err.input;
                diagnostics.push(err.into_diagnostic(context.source_len));
                input = recover(input, failed_at);
            }
            Err(nom::Err::Incomplete(_)) => break,
        }
    }
    diagnostics.extend(context.errors.into_inner());
    (ast, diagnostics)
}

/// Skips past a broken chain link to the next link (`|`, `.` or `@` starting a line) or the
/// next statement.
fn skip_to_link(input: Tokens<'_>) -> Tokens<'_> {
    let mut index = 1;
    while let Some(token) = input.0.get(index) {
        let boundary = token.line_start
            && matches!(
                token.kind,
                TokenKind::Pipe
                    | TokenKind::Dot
                    | TokenKind::At
                    | TokenKind::Var
                    | TokenKind::Dbrp
                    | TokenKind::Ident(_)
            );
        if boundary || matches!(token.kind, TokenKind::Var | TokenKind::Dbrp) {
            break;
        }
        index += 1;
    }
    Tokens(&input.0[index.min(input.0.len())..])
}

/// Skips to the next token that can start a statement, always past the failure point.
fn recover<'a>(start: Tokens<'a>, failed_at: Tokens<'a>) -> Tokens<'a> {
    let failed_index = start.0.len() - failed_at.0.len();
    let mut index = failed_index.max(1);
    // A failure right at a statement start must still make progress.
    if failed_index == 0 {
        index = 1;
    }
    while let Some(token) = start.0.get(index) {
        let statement_start = matches!(token.kind, TokenKind::Var | TokenKind::Dbrp)
            || (token.line_start && matches!(token.kind, TokenKind::Ident(_)));
        if statement_start {
            break;
        }
        index += 1;
    }
    Tokens(&start.0[index.min(start.0.len())..])
}

pub(crate) struct Context {
    comments: HashMap<usize, Vec<String>>,
    source_len: usize,
    /// Errors recovered from inside a statement.
    errors: RefCell<Vec<Diagnostic>>,
    /// How many [`expr`] and unary levels are open right now.
    nesting: Cell<usize>,
}

/// The depth of an expression tree, walked with an explicit stack (the tree may be deeper than
/// a recursive walk could go, which is what this is for).
fn depth_of(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 1)];
    while let Some((expr, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match &expr.kind {
            ExprKind::List(items) | ExprKind::Call { args: items, .. } => {
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            ExprKind::Lambda(inner) | ExprKind::Paren(inner) => stack.push((inner, depth + 1)),
            ExprKind::Unary { operand, .. } => stack.push((operand, depth + 1)),
            ExprKind::Binary { left, right, .. } => {
                stack.push((left, depth + 1));
                stack.push((right, depth + 1));
            }
            ExprKind::Chain { target, args, .. } => {
                stack.push((target, depth + 1));
                stack.extend(args.iter().flatten().map(|arg| (arg, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The error for input nested deeper than `limit`, at the token where it happened.
fn too_deep<'a>(
    input: Tokens<'a>,
    at: Span,
    what: &str,
    limit: usize,
) -> nom::Err<SyntaxError<'a>> {
    let mut diagnostic = Diagnostic::error(
        codes::TOO_DEEP,
        format!("{what} nested deeper than {limit} levels"),
        at,
    );
    diagnostic.labels = vec![Label {
        span: at,
        text: format!("more than {limit} levels deep here"),
        primary: true,
    }];
    diagnostic.notes.push(
        "split the expression with `var` statements, or the pipeline into several".to_owned(),
    );
    nom::Err::Failure(SyntaxError {
        input,
        expected: Expected::default(),
        note: None,
        diagnostic: Some(Box::new(diagnostic)),
    })
}

/// Counts one level of nesting for as long as it lives.
struct Nested<'c>(&'c Cell<usize>);

impl Drop for Nested<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

impl Context {
    /// Enter one more level, or refuse with a located error beyond [`MAX_NESTING`].
    fn enter<'a>(&self, input: Tokens<'a>) -> Result<Nested<'_>, nom::Err<SyntaxError<'a>>> {
        let level = self.nesting.get() + 1;
        if level > MAX_NESTING {
            let at = input
                .0
                .first()
                .map_or(Span::new(self.source_len, self.source_len), |t| t.span);
            return Err(too_deep(input, at, "expression", MAX_NESTING));
        }
        self.nesting.set(level);
        Ok(Nested(&self.nesting))
    }
}

impl Context {
    fn comments_before(&self, token: &Token) -> Vec<String> {
        self.comments
            .get(&token.span.start)
            .cloned()
            .unwrap_or_default()
    }
}

/// The parser input: a slice of non-comment tokens.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a>(pub &'a [Token]);

impl<'a> Input for Tokens<'a> {
    type Item = &'a Token;
    type Iter = Iter<'a, Token>;
    type IterIndices = Enumerate<Iter<'a, Token>>;

    fn input_len(&self) -> usize {
        self.0.len()
    }

    fn take(&self, index: usize) -> Self {
        Tokens(&self.0[..index])
    }

    fn take_from(&self, index: usize) -> Self {
        Tokens(&self.0[index..])
    }

    fn take_split(&self, index: usize) -> (Self, Self) {
        let (prefix, suffix) = self.0.split_at(index);
        (Tokens(suffix), Tokens(prefix))
    }

    fn position<P>(&self, predicate: P) -> Option<usize>
    where
        P: Fn(Self::Item) -> bool,
    {
        self.0.iter().position(predicate)
    }

    fn iter_elements(&self) -> Self::Iter {
        self.0.iter()
    }

    fn iter_indices(&self) -> Self::IterIndices {
        self.0.iter().enumerate()
    }

    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        if self.0.len() >= count {
            Ok(count)
        } else {
            Err(Needed::new(count - self.0.len()))
        }
    }
}

/// A syntax error: where, and what would have been accepted there.
#[derive(Debug, Clone)]
pub struct SyntaxError<'a> {
    input: Tokens<'a>,
    expected: Expected,
    note: Option<String>,
    /// A complete diagnostic that replaces "expected …, found …" (nesting too deep).
    diagnostic: Option<Box<Diagnostic>>,
}

/// What would have been accepted. The parser builds (and drops) one of these for every
/// alternative that does not match, so the first entry lives inline: no allocation.
#[derive(Debug, Clone, Default)]
struct Expected {
    first: Option<&'static str>,
    more: Vec<&'static str>,
}

impl Expected {
    fn push(&mut self, what: &'static str) {
        if self.first.is_none() {
            self.first = Some(what);
        } else {
            self.more.push(what);
        }
    }

    fn extend(&mut self, other: Expected) {
        for what in other.first.into_iter().chain(other.more) {
            self.push(what);
        }
    }

    fn into_vec(self) -> Vec<String> {
        self.first
            .into_iter()
            .chain(self.more)
            .map(str::to_owned)
            .collect()
    }
}

impl<'a> SyntaxError<'a> {
    fn expected(input: Tokens<'a>, what: &'static str) -> SyntaxError<'a> {
        SyntaxError {
            input,
            expected: Expected {
                first: Some(what),
                more: Vec::new(),
            },
            note: None,
            diagnostic: None,
        }
    }

    fn into_diagnostic(self, source_len: usize) -> Diagnostic {
        if let Some(diagnostic) = self.diagnostic {
            return *diagnostic;
        }
        let mut expected = self.expected.into_vec();
        expected.dedup();
        let wanted = match expected.len() {
            0 => "something else".to_owned(),
            1 => expected[0].clone(),
            _ => {
                let last = expected.pop().unwrap_or_default();
                format!("{} or {last}", expected.join(", "))
            }
        };
        let (found, span) = match self.input.0.first() {
            Some(token) => (token.kind.describe(), token.span),
            None => (
                "the end of the script".to_owned(),
                Span::new(source_len, source_len),
            ),
        };
        let mut diagnostic = Diagnostic::error(
            codes::SYNTAX,
            format!("expected {wanted}, found {found}"),
            span,
        );
        diagnostic.labels = vec![Label {
            span,
            text: format!("expected {wanted}"),
            primary: true,
        }];
        if let Some(note) = self.note {
            diagnostic.notes.push(note);
        }
        if let Some(token) = self.input.0.first() {
            if token.kind == TokenKind::Assign && wanted != "a name" {
                diagnostic
                    .notes
                    .push("to compare, write `==`: `=` only assigns in `var x = ...`".to_owned());
            }
            if let TokenKind::Ident(name) = &token.kind {
                if matches!(name.as_str(), "and" | "or" | "true" | "false") {
                    diagnostic.notes.push(format!(
                        "keywords are upper case: write `{}`",
                        name.to_uppercase()
                    ));
                }
            }
        }
        diagnostic
    }
}

impl<'a> ParseError<Tokens<'a>> for SyntaxError<'a> {
    fn from_error_kind(input: Tokens<'a>, _kind: ErrorKind) -> Self {
        SyntaxError {
            input,
            expected: Expected::default(),
            note: None,
            diagnostic: None,
        }
    }

    fn append(_input: Tokens<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Keep the error that got further; merge expectations at the same place.
        match self.input.0.len().cmp(&other.input.0.len()) {
            std::cmp::Ordering::Less => self,
            std::cmp::Ordering::Greater => other,
            std::cmp::Ordering::Equal => {
                let mut expected = self.expected;
                expected.extend(other.expected);
                SyntaxError {
                    input: self.input,
                    expected,
                    note: self.note.or(other.note),
                    diagnostic: self.diagnostic.or(other.diagnostic),
                }
            }
        }
    }
}

type PResult<'a, T> = IResult<Tokens<'a>, T, SyntaxError<'a>>;

/// The span from the first token of `before` to the last token consumed before `after`.
fn consumed(before: Tokens<'_>, after: Tokens<'_>) -> Span {
    let count = before.0.len() - after.0.len();
    match (
        before.0.first(),
        count.checked_sub(1).and_then(|last| before.0.get(last)),
    ) {
        (Some(first), Some(last)) => Span::new(first.span.start, last.span.end),
        _ => Span::default(),
    }
}

/// Matches one token for which `select` returns a value.
fn token<'a, T>(
    what: &'static str,
    select: impl Fn(&'a Token) -> Option<T>,
) -> impl Fn(Tokens<'a>) -> PResult<'a, T> {
    move |input: Tokens<'a>| match input.0.first().and_then(&select) {
        Some(value) => Ok((Tokens(&input.0[1..]), value)),
        None => Err(nom::Err::Error(SyntaxError::expected(input, what))),
    }
}

/// Matches one token of exactly this kind; returns its span.
fn punct<'a>(kind: TokenKind, what: &'static str) -> impl Fn(Tokens<'a>) -> PResult<'a, Span> {
    token(what, move |token: &'a Token| {
        (token.kind == kind).then_some(token.span)
    })
}

fn ident(input: Tokens<'_>) -> PResult<'_, Ident> {
    token("a name", |token: &Token| match &token.kind {
        TokenKind::Ident(name) => Some(Ident {
            name: name.clone(),
            span: token.span,
        }),
        _ => None,
    })(input)
}

fn statement<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, Statement> {
    let start = input;
    let (rest, kind) = alt((
        |i| var_statement(context, i),
        dbrp_statement,
        |i| expr(context, i).map(|(rest, value)| (rest, StatementKind::Expr(value))),
    ))
    .parse(input)?;
    Ok((
        rest,
        Statement {
            kind,
            span: consumed(start, rest),
            comments: Vec::new(),
        },
    ))
}

fn var_statement<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, StatementKind> {
    let (input, _) = punct(TokenKind::Var, "`var`")(input)?;
    let (input, name) = cut(ident).parse(input)?;
    if let Ok((input, _)) = punct(TokenKind::Assign, "`=`")(input) {
        let (input, value) = cut(|i| expr(context, i)).parse(input)?;
        return Ok((input, StatementKind::Var { name, value }));
    }
    match ident(input) {
        Ok((input, ty)) => Ok((input, StatementKind::TypedVar { name, ty })),
        Err(_) => {
            let mut err = SyntaxError::expected(input, "`=`");
            err.expected.push("a type name");
            Err(nom::Err::Failure(err))
        }
    }
}

fn dbrp_statement(input: Tokens<'_>) -> PResult<'_, StatementKind> {
    let quoted = |i| {
        token("a double-quoted name", |token: &Token| match &token.kind {
            TokenKind::Reference(name) => Some((name.clone(), token.span)),
            _ => None,
        })(i)
    };
    let (input, _) = punct(TokenKind::Dbrp, "`dbrp`")(input)?;
    let (input, database) = cut(quoted).parse(input)?;
    let (input, _) = cut(punct(TokenKind::Dot, "`.`")).parse(input)?;
    let (input, retention_policy) = cut(quoted).parse(input)?;
    Ok((
        input,
        StatementKind::Dbrp {
            database,
            retention_policy,
        },
    ))
}

/// A full expression (lowest precedence: `OR`).
pub(crate) fn expr<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, Expr> {
    let _level = context.enter(input)?;
    binary(context, 0, input)
}

fn binary_op(level: u8) -> impl Fn(Tokens<'_>) -> PResult<'_, BinaryOp> {
    move |input: Tokens<'_>| {
        token("an operator", |token: &Token| {
            let op = match token.kind {
                TokenKind::Or => BinaryOp::Or,
                TokenKind::And => BinaryOp::And,
                TokenKind::Eq => BinaryOp::Eq,
                TokenKind::NotEq => BinaryOp::NotEq,
                TokenKind::RegexMatch => BinaryOp::RegexMatch,
                TokenKind::RegexNotMatch => BinaryOp::RegexNotMatch,
                TokenKind::Less => BinaryOp::Less,
                TokenKind::LessEq => BinaryOp::LessEq,
                TokenKind::Greater => BinaryOp::Greater,
                TokenKind::GreaterEq => BinaryOp::GreaterEq,
                TokenKind::Plus => BinaryOp::Add,
                TokenKind::Minus => BinaryOp::Sub,
                TokenKind::Star => BinaryOp::Mul,
                TokenKind::Slash => BinaryOp::Div,
                TokenKind::Percent => BinaryOp::Mod,
                _ => return None,
            };
            (op.precedence() == level).then_some(op)
        })(input)
    }
}

/// Left-associative binary operators of precedence `level` and above.
fn binary<'a>(context: &Context, level: u8, input: Tokens<'a>) -> PResult<'a, Expr> {
    if level > 5 {
        return unary(context, input);
    }
    let start = input;
    let (mut input, mut left) = binary(context, level + 1, input)?;
    let mut depth = None;
    while let Ok((rest, op)) = binary_op(level)(input) {
        let (after, right) = cut(|i| binary(context, level + 1, i)).parse(rest)?;
        let left_depth = *depth.get_or_insert_with(|| depth_of(&left));
        let new_depth = left_depth.max(depth_of(&right)) + 1;
        if new_depth > MAX_DEPTH {
            let at = rest.0.first().map_or_else(Span::default, |t| t.span);
            return Err(too_deep(rest, at, "operators", MAX_DEPTH));
        }
        depth = Some(new_depth);
        let rest = after;
        left = Expr {
            span: consumed(start, rest),
            kind: ExprKind::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
        };
        input = rest;
    }
    Ok((input, left))
}

fn unary<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, Expr> {
    let start = input;
    let op = alt((
        |i| punct(TokenKind::Minus, "`-`")(i).map(|(rest, _)| (rest, UnaryOp::Neg)),
        |i| punct(TokenKind::Not, "`!`")(i).map(|(rest, _)| (rest, UnaryOp::Not)),
    ))
    .parse(input);
    match op {
        Ok((rest, op)) => {
            let _level = context.enter(input)?;
            let (rest, operand) = cut(|i| unary(context, i)).parse(rest)?;
            Ok((
                rest,
                Expr {
                    span: consumed(start, rest),
                    kind: ExprKind::Unary {
                        op,
                        operand: Box::new(operand),
                    },
                },
            ))
        }
        Err(_) => chain(context, input),
    }
}

fn arguments<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, Vec<Expr>> {
    delimited(
        punct(TokenKind::LParen, "`(`"),
        separated_list0(punct(TokenKind::Comma, "`,`"), |i| expr(context, i)),
        cut(punct(TokenKind::RParen, "`)` or `,`")),
    )
    .parse(input)
}

/// A primary expression followed by `|name(args)`, `.name(args)`, `.name` and `@name(args)`.
fn chain<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, Expr> {
    let start = input;
    let (mut input, mut target) = primary(context, input)?;
    let mut depth = None;
    loop {
        let kind = input.0.first().and_then(|token| match token.kind {
            TokenKind::Pipe => Some(ChainKind::Pipe),
            TokenKind::Dot => Some(ChainKind::Dot),
            TokenKind::At => Some(ChainKind::At),
            _ => None,
        });
        let Some(kind) = kind else { break };
        let target_depth = *depth.get_or_insert_with(|| depth_of(&target));
        if target_depth + 1 > MAX_DEPTH {
            return Err(too_deep(
                input,
                input.0[0].span,
                "pipeline links",
                MAX_DEPTH,
            ));
        }
        depth = Some(target_depth + 1);
        let comments = context.comments_before(&input.0[0]);
        let rest = Tokens(&input.0[1..]);
        let (rest, name) = cut(ident).parse(rest)?;
        let has_parens = rest
            .0
            .first()
            .is_some_and(|token| token.kind == TokenKind::LParen);
        if kind != ChainKind::Dot && !has_parens {
            // `|alert` without `()`: say so, and go on with the node as if it had no arguments.
            let symbol = if kind == ChainKind::Pipe { "|" } else { "@" };
            let mut diagnostic = Diagnostic::error(
                codes::SYNTAX,
                format!("`{symbol}{}` needs parentheses", name.name),
                name.span,
            );
            diagnostic.labels = vec![Label {
                span: name.span,
                text: "chaining method call without `()`".to_owned(),
                primary: true,
            }];
            diagnostic
                .notes
                .push(format!("write `{symbol}{}()`", name.name));
            context.errors.borrow_mut().push(diagnostic);
            target = Expr {
                span: consumed(start, rest),
                kind: ExprKind::Chain {
                    target: Box::new(target),
                    kind,
                    name,
                    args: Some(Vec::new()),
                    comments,
                },
            };
            input = rest;
            continue;
        }
        let parsed = if kind == ChainKind::Dot {
            opt(|i| arguments(context, i)).parse(rest)
        } else {
            arguments(context, rest).map(|(rest, args)| (rest, Some(args)))
        };
        let (rest, args) = match parsed {
            Ok(parsed) => parsed,
            Err(nom::Err::Error(err) | nom::Err::Failure(err)) => {
                // Record the error and resume at the next chain link, so the rest of the
                // pipeline is still parsed and checked.
                context
                    .errors
                    .borrow_mut()
                    .push(err.into_diagnostic(context.source_len));
                let rest = skip_to_link(rest);
                let placeholder = Expr {
                    kind: ExprKind::Error,
                    span: name.span,
                };
                (rest, Some(vec![placeholder]))
            }
            Err(incomplete) => return Err(incomplete),
        };
        let args_depth = args.iter().flatten().map(depth_of).max().unwrap_or(0);
        if args_depth + 1 > MAX_DEPTH {
            return Err(too_deep(input, name.span, "arguments", MAX_DEPTH));
        }
        depth = Some(target_depth.max(args_depth) + 1);
        target = Expr {
            span: consumed(start, rest),
            kind: ExprKind::Chain {
                target: Box::new(target),
                kind,
                name,
                args,
                comments,
            },
        };
        input = rest;
    }
    Ok((input, target))
}

fn primary<'a>(context: &Context, input: Tokens<'a>) -> PResult<'a, Expr> {
    let start = input;
    let literal = token("a value", |token: &Token| {
        let kind = match &token.kind {
            TokenKind::Int(value) => ExprKind::Int(*value),
            TokenKind::Float(value) => ExprKind::Float(*value),
            TokenKind::Duration(value) => ExprKind::Duration(*value),
            TokenKind::Str(value) => ExprKind::Str(value.clone()),
            TokenKind::Reference(value) => ExprKind::Reference(value.clone()),
            TokenKind::Regex(value) => ExprKind::Regex(value.clone()),
            TokenKind::True => ExprKind::Bool(true),
            TokenKind::False => ExprKind::Bool(false),
            TokenKind::Star => ExprKind::Star,
            TokenKind::Invalid => ExprKind::Error,
            _ => return None,
        };
        Some(Expr {
            kind,
            span: token.span,
        })
    });
    let lambda = |i| {
        let (rest, body) = preceded(
            punct(TokenKind::Lambda, "`lambda:`"),
            cut(|i| expr(context, i)),
        )
        .parse(i)?;
        Ok((
            rest,
            Expr {
                span: consumed(start, rest),
                kind: ExprKind::Lambda(Box::new(body)),
            },
        ))
    };
    let paren = |i| {
        let (rest, inner) = delimited(
            punct(TokenKind::LParen, "`(`"),
            cut(|i| expr(context, i)),
            cut(punct(TokenKind::RParen, "`)`")),
        )
        .parse(i)?;
        Ok((
            rest,
            Expr {
                span: consumed(start, rest),
                kind: ExprKind::Paren(Box::new(inner)),
            },
        ))
    };
    let list = |i| {
        let (rest, items) = delimited(
            punct(TokenKind::LBracket, "`[`"),
            separated_list0(punct(TokenKind::Comma, "`,`"), |i| expr(context, i)),
            cut(punct(TokenKind::RBracket, "`]` or `,`")),
        )
        .parse(i)?;
        Ok((
            rest,
            Expr {
                span: consumed(start, rest),
                kind: ExprKind::List(items),
            },
        ))
    };
    let name_or_call = |i| {
        let (rest, name) = ident(i)?;
        match arguments(context, rest) {
            Ok((rest, args)) => Ok((
                rest,
                Expr {
                    span: consumed(start, rest),
                    kind: ExprKind::Call { name, args },
                },
            )),
            Err(nom::Err::Error(_)) => Ok((
                rest,
                Expr {
                    span: name.span,
                    kind: ExprKind::Ident(name.name),
                },
            )),
            Err(err) => Err(err),
        }
    };
    alt((literal, lambda, paren, list, name_or_call)).parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(source: &str) -> String {
        let (ast, diagnostics) = parse(source);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        ast.dump(false)
    }

    #[test]
    fn precedence_is_kapacitors() {
        let out = dump("var x = 1 + 2 * 3 > 4 AND TRUE OR FALSE");
        let expected = "var x\n  binary OR\n    binary AND\n      binary >\n        binary +\n          int 1\n          binary *\n            int 2\n            int 3\n        int 4\n      bool true\n    bool false\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn left_associative() {
        let out = dump("var x = 8 - 4 - 2");
        assert_eq!(
            out,
            "var x\n  binary -\n    binary -\n      int 8\n      int 4\n    int 2\n"
        );
    }

    #[test]
    fn chains_and_spans() {
        let source = "stream|from().measurement('cpu')\n    |window().period(10s)";
        let (ast, diagnostics) = parse(source);
        assert!(diagnostics.is_empty());
        let StatementKind::Expr(expr) = &ast.statements[0].kind else {
            panic!("not an expr")
        };
        assert_eq!(expr.span, Span::new(0, source.len()));
        let ExprKind::Chain { name, kind, .. } = &expr.kind else {
            panic!("not a chain")
        };
        assert_eq!((name.name.as_str(), *kind), ("period", ChainKind::Dot));
    }

    #[test]
    fn statements_templates_and_dbrp() {
        let out = dump(
            "dbrp \"db\".\"rp\"\n// the threshold\nvar crit float\nvar w = stream|window()\nw.period(1m)",
        );
        assert!(
            out.starts_with("dbrp \"db\".\"rp\"\n// the threshold\nvar crit float\nvar w\n"),
            "{out}"
        );
        assert!(
            out.ends_with("  ident w\n  .period()\n    duration 1m0s\n"),
            "{out}"
        );
    }

    #[test]
    fn every_error_is_reported_in_one_pass() {
        let (ast, diagnostics) =
            parse("var = 5\nstream|from(\nvar ok = 1\nstream|window(]\nvar ok2 = 2");
        assert_eq!(diagnostics.len(), 3, "{diagnostics:?}");
        assert_eq!(diagnostics[0].message, "expected a name, found `=`");
        // The broken pipelines are kept, with an error placeholder for the bad arguments.
        assert_eq!(ast.statements.len(), 4);
        assert!(
            ast.dump(false).contains("  |from()\n    error\n"),
            "{}",
            ast.dump(false)
        );
    }

    #[test]
    fn a_broken_link_does_not_hide_the_rest_of_the_chain() {
        let (ast, diagnostics) =
            parse("stream\n    |from(]\n        .measurement('cpu')\n    |window()\n");
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert!(
            ast.dump(false)
                .ends_with("  .measurement()\n    string \"cpu\"\n  |window()\n"),
            "{}",
            ast.dump(false)
        );
    }

    #[test]
    fn lowercase_keywords_get_a_note() {
        let (_, diagnostics) = parse("var x = TRUE and FALSE");
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].notes[0].contains("`AND`"), "{diagnostics:?}");
    }

    #[test]
    fn lambdas_lists_and_unary() {
        let out = dump("x.groupBy(['a', *]).where(lambda: !(\"a\" =~ /b/)).shift(-1h)");
        assert!(out.contains("list\n"), "{out}");
        assert!(
            out.contains("lambda\n      unary !\n        paren\n          binary =~"),
            "{out}"
        );
        assert!(out.contains("unary -\n      duration 1h0m0s"), "{out}");
    }
}
