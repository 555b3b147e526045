//! The weir DSL: TICKscript-compatible text in, a checked [`Program`] out.
//!
//! Text → tokens → AST (byte spans) → checked [`Program`] (a typed node graph).
//! Invariant: this crate does no I/O and reads no clock.
//!
//! ```
//! let (program, diagnostics) = weir_dsl::compile(
//!     "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|window().period(10s).every(10s)|mean('usage')",
//!     &weir_dsl::CompileOptions::default(),
//! );
//! assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
//! assert_eq!(program.unwrap().nodes.len(), 4);
//! ```
#![warn(missing_docs)]

pub mod ast;
mod builtins;
mod check;
pub mod codes;
pub mod diagnostic;
mod format;
pub mod lambda;
mod lambda_compile;
mod lambda_expr;
pub mod lexer;
pub mod nodes;
pub mod parser;
pub mod program;
mod render;
mod schema;
pub mod span;
mod template;
pub mod value;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use format::format;
pub use lambda::{EvalError, Lambda, LambdaState, Scope};
pub use nodes::NodeSpec;
pub use program::{CompileOptions, NodeId, Program, ProgramNode, TaskType, compile};
pub use render::{render, to_json};
pub use span::Span;
pub use template::{TemplateVar, decode_vars, template_vars};
pub use value::{Duration, Value};
