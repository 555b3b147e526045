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
//!
//! # Entry points
//!
//! | Function | Use |
//! |---|---|
//! | [`compile`] | script + [`CompileOptions`] → `(Option<Program>, Vec<Diagnostic>)`; every problem in one pass |
//! | [`render`], [`to_json`] | diagnostics as rustc-style text (codespan-reporting) or JSON for the API |
//! | [`format`] | canonical formatting (`weir fmt`), tickfmt style |
//! | [`template_vars`], [`decode_vars`] | the templates API: a script's vars, and Kapacitor's `vars` JSON |
//! | [`Lambda::eval`] | per-point evaluation against a [`Scope`], with per-group [`LambdaState`] |
//!
//! The layers are public for tools and tests: [`lexer`], [`parser`] ([`ast`]), then the
//! checker behind [`compile`]; diagnostic codes are listed in [`codes`].
//!
//! ```
//! let source = "stream|from()|window().perod(10s)";
//! let (program, diagnostics) = weir_dsl::compile(source, &Default::default());
//! assert!(program.is_none());
//! let text = weir_dsl::render(&diagnostics, source, "cpu.tick", false);
//! assert!(text.contains("did you mean `period`?"));
//! ```
#![warn(missing_docs)]

pub mod alert_match;
pub mod ast;
mod check;
pub mod codes;
pub mod cron;
pub mod diagnostic;
mod format;
pub mod lambda;
pub mod lexer;
pub mod nodes;
pub mod parser;
pub mod program;
mod render;
mod schema;
pub mod span;
mod task_template;
pub mod value;

pub use alert_match::compile_match;
pub use diagnostic::{Diagnostic, Label, Severity};
pub use format::format;
pub use lambda::{EvalError, Lambda, LambdaState, Scope};
pub use nodes::NodeSpec;
pub use program::{CompileOptions, NodeId, Program, ProgramNode, TaskType, compile};
pub use render::{render, to_json};
pub use span::Span;
pub use task_template::{TemplateVar, decode_vars, template_vars};
pub use value::{Duration, Value};
