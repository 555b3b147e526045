//! Canonical formatting (`weir fmt`), in the style of Kapacitor's tickfmt: one statement per
//! paragraph, each `|node` on its own line indented four spaces, each `.property` indented
//! under its node, canonical spacing inside expressions, comments kept.

use std::fmt::Write as _;

use crate::ast::{Ast, ChainKind, Expr, ExprKind, Statement, StatementKind, UnaryOp};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::lexer::TokenKind;

/// Formats a script; fails with the syntax errors when it does not parse.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (ast, diagnostics) = crate::parser::parse(source);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    if let Some(lost) = lost_comment(source, &ast) {
        return Err(vec![lost]);
    }
    let mut out = String::new();
    let mut previous_simple = None;
    for statement in &ast.statements {
        let simple = is_simple(statement);
        if let Some(previous_simple) = previous_simple {
            // Runs of one-line declarations stay together; anything else gets a blank line.
            if !(previous_simple && simple && statement.comments.is_empty()) {
                out.push('\n');
            }
        }
        for comment in &statement.comments {
            let _ = writeln!(out, "//{comment}");
        }
        match &statement.kind {
            StatementKind::Dbrp {
                database,
                retention_policy,
            } => {
                let _ = writeln!(
                    out,
                    "dbrp {}.{}",
                    reference(&database.0),
                    reference(&retention_policy.0)
                );
            }
            StatementKind::TypedVar { name, ty } => {
                let _ = writeln!(out, "var {} {}", name.name, ty.name);
            }
            StatementKind::Var { name, value } => {
                let _ = write!(out, "var {} = ", name.name);
                pipeline(&mut out, value);
                out.push('\n');
            }
            StatementKind::Expr(expr) => {
                pipeline(&mut out, expr);
                out.push('\n');
            }
        }
        previous_simple = Some(simple);
    }
    if !ast.trailing_comments.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        for comment in &ast.trailing_comments {
            let _ = writeln!(out, "//{comment}");
        }
    }
    Ok(out)
}

/// The first comment the tree does not keep (one inside an expression): formatting would
/// drop it, so the formatter refuses instead.
fn lost_comment(source: &str, ast: &Ast) -> Option<Diagnostic> {
    let mut kept: Vec<&str> = Vec::new();
    for statement in &ast.statements {
        kept.extend(statement.comments.iter().map(String::as_str));
        let expr = match &statement.kind {
            StatementKind::Var { value, .. } => value,
            StatementKind::Expr(expr) => expr,
            _ => continue,
        };
        let mut links = Vec::new();
        let mut head = expr;
        while let ExprKind::Chain {
            target, comments, ..
        } = &head.kind
        {
            links.push(comments);
            head = target;
        }
        for comments in links.into_iter().rev() {
            kept.extend(comments.iter().map(String::as_str));
        }
    }
    kept.extend(ast.trailing_comments.iter().map(String::as_str));
    let (tokens, _) = crate::lexer::lex(source);
    let mut kept = kept.into_iter().peekable();
    for token in tokens {
        let TokenKind::Comment(text) = &token.kind else {
            continue;
        };
        if kept.peek() == Some(&text.as_str()) {
            kept.next();
            continue;
        }
        let diagnostic = Diagnostic::error(
            codes::UNFORMATTABLE_COMMENT,
            "this comment is inside an expression, where the formatter cannot keep it",
            token.span,
        )
        .with_note("move it above the statement or above a `|node` or `.property` line");
        return Some(diagnostic);
    }
    None
}

fn is_simple(statement: &Statement) -> bool {
    match &statement.kind {
        StatementKind::Dbrp { .. } | StatementKind::TypedVar { .. } => true,
        StatementKind::Var { value, .. } => !matches!(value.kind, ExprKind::Chain { .. }),
        StatementKind::Expr(_) => false,
    }
}

/// A statement-level expression: chains are broken over lines.
fn pipeline(out: &mut String, expr: &Expr) {
    let mut links = Vec::new();
    let mut head = expr;
    while let ExprKind::Chain { target, .. } = &head.kind {
        links.push(head);
        head = target;
    }
    links.reverse();
    inline(out, head);
    let mut seen_pipe = false;
    for link in links {
        let ExprKind::Chain {
            kind,
            name,
            args,
            comments,
            ..
        } = &link.kind
        else {
            continue;
        };
        let indent = match kind {
            ChainKind::Dot if seen_pipe => "        ",
            _ => "    ",
        };
        seen_pipe |= *kind != ChainKind::Dot;
        out.push('\n');
        for comment in comments {
            let _ = writeln!(out, "{indent}//{comment}");
        }
        let _ = write!(out, "{indent}{}{}", kind.symbol(), name.name);
        if let Some(args) = args {
            arguments(out, args);
        }
    }
}

fn arguments(out: &mut String, args: &[Expr]) {
    out.push('(');
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        inline(out, arg);
    }
    out.push(')');
}

fn reference(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\\\""))
}

fn string(text: &str) -> String {
    // Triple quotes have no escapes: they cannot hold `'''` or end with a quote. Single quotes
    // escape only `\'`, so they cannot end with a backslash (the closing quote would be
    // escaped). Multi-line text prefers triple quotes.
    let triple_ok = !text.contains("'''") && !text.ends_with('\'');
    let single_ok = !text.ends_with('\\');
    if triple_ok && (text.contains('\n') || !single_ok) {
        return format!("'''{text}'''");
    }
    format!("'{}'", text.replace('\'', "\\'"))
}

fn duration(nanos: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (604_800_000_000_000, "w"),
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    for (size, unit) in UNITS {
        if nanos % size == 0 {
            return format!("{}{unit}", nanos / size);
        }
    }
    // The lexer only produces whole microseconds; keep the value readable anyway.
    format!("{nanos}u")
}

fn float(value: f64) -> String {
    let text = value.to_string();
    if text.contains('.') || !value.is_finite() {
        text
    } else {
        format!("{text}.0")
    }
}

/// An expression on one line.
fn inline(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Int(value) => {
            let _ = write!(out, "{value}");
        }
        ExprKind::Float(value) => out.push_str(&float(*value)),
        ExprKind::Duration(value) => out.push_str(&duration(*value)),
        ExprKind::Str(value) => out.push_str(&string(value)),
        ExprKind::Reference(name) => out.push_str(&reference(name)),
        ExprKind::Regex(pattern) => {
            let _ = write!(out, "/{}/", pattern.replace('/', "\\/"));
        }
        ExprKind::Bool(value) => out.push_str(if *value { "TRUE" } else { "FALSE" }),
        ExprKind::Star => out.push('*'),
        // Scripts with syntax errors are never formatted.
        ExprKind::Error => {}
        ExprKind::Ident(name) => out.push_str(name),
        ExprKind::List(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                inline(out, item);
            }
            out.push(']');
        }
        ExprKind::Lambda(body) => {
            out.push_str("lambda: ");
            inline(out, body);
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            inline(out, inner);
            out.push(')');
        }
        ExprKind::Unary { op, operand } => {
            out.push(if *op == UnaryOp::Neg { '-' } else { '!' });
            inline(out, operand);
        }
        ExprKind::Binary { op, left, right } => {
            inline(out, left);
            let _ = write!(out, " {} ", op.symbol());
            inline(out, right);
        }
        ExprKind::Call { name, args } => {
            out.push_str(&name.name);
            arguments(out, args);
        }
        ExprKind::Chain {
            target,
            kind,
            name,
            args,
            ..
        } => {
            inline(out, target);
            let _ = write!(out, "{}{}", kind.symbol(), name.name);
            if let Some(args) = args {
                arguments(out, args);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_keep_their_text() {
        // The first one was found by the fuzz target: a multi-line string ending in a quote.
        for text in ["a\n'b'", "x\\", "'''", "it's\n", "a\\'b", "\\\n"] {
            let written = string(text);
            let (tokens, diagnostics) = crate::lexer::lex(&written);
            assert!(
                diagnostics.is_empty(),
                "{text:?} as {written}: {diagnostics:?}"
            );
            assert_eq!(
                tokens[0].kind,
                crate::lexer::TokenKind::Str(text.to_owned()),
                "{written}"
            );
        }
    }

    #[test]
    fn formats_like_tickfmt() {
        let source = "dbrp \"telegraf\".\"autogen\"\nvar  crit=90.0\n// cpu usage\nstream|from( ).measurement( 'cpu' ).where(lambda:\"host\"=~/^web\\/x/ AND (\"usage\">crit))|window().period(600s).every(1m)|mean('usage').as('usage')";
        let expected = "dbrp \"telegraf\".\"autogen\"\nvar crit = 90.0\n\n// cpu usage\nstream\n    |from()\n        .measurement('cpu')\n        .where(lambda: \"host\" =~ /^web\\/x/ AND (\"usage\" > crit))\n    |window()\n        .period(10m)\n        .every(1m)\n    |mean('usage')\n        .as('usage')\n";
        assert_eq!(format(source).unwrap(), expected);
        assert_eq!(format(expected).unwrap(), expected);
    }

    #[test]
    fn keeps_comments_on_links_and_at_the_end() {
        let source = "var w = stream\n    // the source\n    |from()\nw\n    .quiet()\n// end";
        let formatted = format(source).unwrap();
        assert_eq!(
            formatted,
            "var w = stream\n    // the source\n    |from()\n\nw\n    .quiet()\n\n// end\n"
        );
    }

    #[test]
    fn refuses_to_drop_comments_inside_expressions() {
        let source = "stream\n    |eval(\n        // inside\n        lambda: 1\n    )\n";
        let errors = format(source).unwrap_err();
        assert_eq!(errors[0].code, codes::UNFORMATTABLE_COMMENT);
        assert_eq!(errors[0].span().line_col(source), (3, 9));
    }

    #[test]
    fn refuses_broken_scripts() {
        assert!(format("stream|from(").is_err());
    }
}
