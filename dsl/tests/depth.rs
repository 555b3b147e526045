//! Deep input: refused with a located diagnostic at the limit, never a stack overflow; input
//! just inside the limits compiles, formats and renders on an ordinary 2 MiB thread (the size
//! of the test harness's threads and of tokio's workers).

use weir_dsl::parser::{MAX_DEPTH, MAX_NESTING};
use weir_dsl::{CompileOptions, codes, compile, format};

/// Compile on a thread with a 2 MiB stack, as an async worker would.
fn compile_small_stack(source: String) -> Vec<(String, String, usize)> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let (_, diagnostics) = compile(&source, &CompileOptions::default());
            let _ = format(&source);
            diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| (d.code.to_owned(), d.message.clone(), d.span().start))
                .collect()
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

fn stream(where_clause: &str) -> String {
    format!(
        "dbrp \"db\".\"rp\"\nstream\n    |from()\n        .measurement('cpu')\n        .where(lambda: {where_clause})\n    |httpOut('x')\n"
    )
}

fn first_too_deep(errors: &[(String, String, usize)]) -> &(String, String, usize) {
    errors
        .iter()
        .find(|(code, ..)| code == codes::TOO_DEEP)
        .unwrap_or_else(|| panic!("no {} among {errors:?}", codes::TOO_DEEP))
}

#[test]
fn ten_thousand_nested_parentheses_are_refused_where_they_start_to_be_too_deep() {
    let source = stream(&format!(
        "{}\"value\" > 1{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    ));
    let errors = compile_small_stack(source.clone());
    let (_, message, at) = first_too_deep(&errors);
    assert!(message.contains(&MAX_NESTING.to_string()), "{message}");
    assert_eq!(&source[*at..*at + 1], "(");
}

#[test]
fn long_operator_chains_are_refused() {
    let terms: Vec<String> = (0..3_000).map(|i| format!("\"v{i}\" > 0")).collect();
    let errors = compile_small_stack(stream(&terms.join(" AND ")));
    let (_, message, _) = first_too_deep(&errors);
    assert!(message.contains(&MAX_DEPTH.to_string()), "{message}");
}

#[test]
fn long_pipelines_are_refused() {
    let mut source = "dbrp \"db\".\"rp\"\nstream\n    |from()\n".to_owned();
    for _ in 0..3_000 {
        source.push_str("    |window()\n        .period(10s)\n        .every(10s)\n");
    }
    let errors = compile_small_stack(source);
    first_too_deep(&errors);
}

#[test]
fn nested_lists_and_unary_operators_are_refused() {
    let lists = format!("var x = {}1{}\n", "[".repeat(1_000), "]".repeat(1_000));
    first_too_deep(&compile_small_stack(lists));
    let nots = stream(&format!("{}TRUE", "!".repeat(5_000)));
    first_too_deep(&compile_small_stack(nots));
}

#[test]
fn a_bad_statement_does_not_hide_the_next_one() {
    let source = format!(
        "var deep = {}1{}\nvar x = 1 +\n",
        "(".repeat(500),
        ")".repeat(500)
    );
    let errors = compile_small_stack(source);
    first_too_deep(&errors);
    assert!(
        errors.iter().any(|(code, ..)| code == codes::SYNTAX),
        "{errors:?}"
    );
}

#[test]
fn operators_just_inside_the_limit_compile_on_a_small_stack() {
    // Operator chain near the depth limit.
    let terms: Vec<String> = (0..MAX_DEPTH - 20)
        .map(|i| format!("\"v{}\" > 0", i % 7))
        .collect();
    let errors = compile_small_stack(stream(&terms.join(" AND ")));
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn nesting_just_inside_the_limit_compiles_on_a_small_stack() {
    // Parentheses near the nesting limit (a lambda and `where` take a few levels).
    let nested = MAX_NESTING - 4;
    let errors = compile_small_stack(stream(&format!(
        "{}\"value\" > 1{}",
        "(".repeat(nested),
        ")".repeat(nested)
    )));
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_pipeline_just_inside_the_limit_compiles_on_a_small_stack() {
    // A long pipeline: each node with two properties is three links.
    let mut source = "dbrp \"db\".\"rp\"\nstream\n    |from()\n".to_owned();
    for _ in 0..(MAX_DEPTH - 10) / 3 {
        source.push_str(
            "    |eval(lambda: \"value\" * 2.0)\n        .as('value')\n        .quiet()\n",
        );
    }
    source.push_str("    |httpOut('x')\n");
    let errors = compile_small_stack(source);
    assert!(errors.is_empty(), "{errors:?}");
}
