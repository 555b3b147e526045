//! The syntax tree: what the parser produces, with a byte span on every node.

use std::fmt::{self, Write as _};

use crate::span::Span;

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ast {
    /// Statements in source order.
    pub statements: Vec<Statement>,
    /// Comments after the last statement.
    pub trailing_comments: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// What it is.
    pub kind: StatementKind,
    /// From its first to its last token.
    pub span: Span,
    /// The `//` comment lines right before it (text after the slashes).
    pub comments: Vec<String>,
}

/// The statement forms.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `var name = value`.
    Var {
        /// The variable.
        name: Ident,
        /// Its value.
        value: Expr,
    },
    /// `var name type`: a template variable whose value comes from the task's vars.
    TypedVar {
        /// The variable.
        name: Ident,
        /// The declared type (`int`, `float`, `lambda`, ...).
        ty: Ident,
    },
    /// `dbrp "db"."rp"`.
    Dbrp {
        /// Database.
        database: (String, Span),
        /// Retention policy.
        retention_policy: (String, Span),
    },
    /// A bare expression, usually a pipeline.
    Expr(Expr),
}

/// A name with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// From its first to its last token.
    pub span: Span,
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`.
    Neg,
    /// `!`.
    Not,
}

/// Binary operators, with Kapacitor's precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    NotEq,
    /// `=~`.
    RegexMatch,
    /// `!~`.
    RegexNotMatch,
    /// `<`.
    Less,
    /// `<=`.
    LessEq,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterEq,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Mod,
}

impl BinaryOp {
    /// Precedence level: OR 0, AND 1, equality 2, ordering 3, additive 4, multiplicative 5.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 0,
            BinaryOp::And => 1,
            BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::RegexMatch | BinaryOp::RegexNotMatch => 2,
            BinaryOp::Less | BinaryOp::LessEq | BinaryOp::Greater | BinaryOp::GreaterEq => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
        }
    }

    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "OR",
            BinaryOp::And => "AND",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::RegexMatch => "=~",
            BinaryOp::RegexNotMatch => "!~",
            BinaryOp::Less => "<",
            BinaryOp::LessEq => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterEq => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }
}

/// How a chain link calls its method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainKind {
    /// `|name(args)`: creates a child node.
    Pipe,
    /// `.name(args)`: sets a property.
    Dot,
    /// `@name(args)`: a UDF.
    At,
}

impl ChainKind {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            ChainKind::Pipe => "|",
            ChainKind::Dot => ".",
            ChainKind::At => "@",
        }
    }
}

/// The expression forms.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// Integer literal.
    Int(i64),
    /// Float literal.
    Float(f64),
    /// Duration literal (nanoseconds).
    Duration(i64),
    /// `'string'`.
    Str(String),
    /// `"reference"`.
    Reference(String),
    /// `/regex/`.
    Regex(String),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `*`.
    Star,
    /// A bare name: a variable, `stream`, `batch`.
    Ident(String),
    /// `[a, 'b', *]`.
    List(Vec<Expr>),
    /// `lambda: expr`.
    Lambda(Box<Expr>),
    /// `( expr )`.
    Paren(Box<Expr>),
    /// `-x`, `!x`.
    Unary {
        /// Operator.
        op: UnaryOp,
        /// Operand.
        operand: Box<Expr>,
    },
    /// `a op b`.
    Binary {
        /// Operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `name(args)`: a function call (`time(1m)`, lambda builtins).
    Call {
        /// Function name.
        name: Ident,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `target|name(args)`, `target.name(args)`, `target.name`, `target@name(args)`.
    Chain {
        /// What the method is called on.
        target: Box<Expr>,
        /// `|`, `.` or `@`.
        kind: ChainKind,
        /// Method name.
        name: Ident,
        /// Arguments; `None` for `.name` without parentheses.
        args: Option<Vec<Expr>>,
        /// `//` comments on the lines before this link.
        comments: Vec<String>,
    },
    /// Arguments that failed to parse (already reported); the checker skips it silently.
    Error,
}

impl Ast {
    /// A compact tree dump for golden tests; with `spans`, each node shows its byte range.
    pub fn dump(&self, spans: bool) -> String {
        let mut out = String::new();
        for statement in &self.statements {
            for comment in &statement.comments {
                let _ = writeln!(out, "//{comment}");
            }
            let span = if spans {
                format!(" @{}..{}", statement.span.start, statement.span.end)
            } else {
                String::new()
            };
            match &statement.kind {
                StatementKind::Var { name, value } => {
                    let _ = writeln!(out, "var {}{span}", name.name);
                    dump_expr(&mut out, value, 1, spans);
                }
                StatementKind::TypedVar { name, ty } => {
                    let _ = writeln!(out, "var {} {}{span}", name.name, ty.name);
                }
                StatementKind::Dbrp {
                    database,
                    retention_policy,
                } => {
                    let _ = writeln!(out, "dbrp {:?}.{:?}{span}", database.0, retention_policy.0);
                }
                StatementKind::Expr(expr) => {
                    let _ = writeln!(out, "expr{span}");
                    dump_expr(&mut out, expr, 1, spans);
                }
            }
        }
        for comment in &self.trailing_comments {
            let _ = writeln!(out, "//{comment}");
        }
        out
    }
}

fn dump_expr(out: &mut String, expr: &Expr, depth: usize, spans: bool) {
    let indent = "  ".repeat(depth);
    let span = if spans {
        format!(" @{}..{}", expr.span.start, expr.span.end)
    } else {
        String::new()
    };
    let _ = match &expr.kind {
        ExprKind::Int(value) => writeln!(out, "{indent}int {value}{span}"),
        ExprKind::Float(value) => writeln!(out, "{indent}float {value:?}{span}"),
        ExprKind::Duration(value) => writeln!(
            out,
            "{indent}duration {}{span}",
            crate::value::Duration(*value)
        ),
        ExprKind::Str(value) => writeln!(out, "{indent}string {value:?}{span}"),
        ExprKind::Reference(value) => writeln!(out, "{indent}reference {value:?}{span}"),
        ExprKind::Regex(value) => writeln!(out, "{indent}regex /{value}/{span}"),
        ExprKind::Bool(value) => writeln!(out, "{indent}bool {value}{span}"),
        ExprKind::Star => writeln!(out, "{indent}star{span}"),
        ExprKind::Error => writeln!(out, "{indent}error{span}"),
        ExprKind::Ident(name) => writeln!(out, "{indent}ident {name}{span}"),
        ExprKind::List(items) => {
            let _ = writeln!(out, "{indent}list{span}");
            for item in items {
                dump_expr(out, item, depth + 1, spans);
            }
            Ok(())
        }
        ExprKind::Lambda(body) => {
            let _ = writeln!(out, "{indent}lambda{span}");
            dump_expr(out, body, depth + 1, spans);
            Ok(())
        }
        ExprKind::Paren(inner) => {
            let _ = writeln!(out, "{indent}paren{span}");
            dump_expr(out, inner, depth + 1, spans);
            Ok(())
        }
        ExprKind::Unary { op, operand } => {
            let symbol = if *op == UnaryOp::Neg { "-" } else { "!" };
            let _ = writeln!(out, "{indent}unary {symbol}{span}");
            dump_expr(out, operand, depth + 1, spans);
            Ok(())
        }
        ExprKind::Binary { op, left, right } => {
            let _ = writeln!(out, "{indent}binary {}{span}", op.symbol());
            dump_expr(out, left, depth + 1, spans);
            dump_expr(out, right, depth + 1, spans);
            Ok(())
        }
        ExprKind::Call { name, args } => {
            let _ = writeln!(out, "{indent}call {}{span}", name.name);
            for arg in args {
                dump_expr(out, arg, depth + 1, spans);
            }
            Ok(())
        }
        ExprKind::Chain {
            target,
            kind,
            name,
            args,
            comments,
        } => {
            dump_expr(out, target, depth, spans);
            for comment in comments {
                let _ = writeln!(out, "{indent}//{comment}");
            }
            let parens = if args.is_some() { "()" } else { "" };
            let _ = writeln!(out, "{indent}{}{}{parens}{span}", kind.symbol(), name.name);
            for arg in args.iter().flatten() {
                dump_expr(out, arg, depth + 1, spans);
            }
            Ok(())
        }
    };
}

impl fmt::Display for Ast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dump(false))
    }
}
