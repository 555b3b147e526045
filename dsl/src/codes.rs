//! Every diagnostic code, in one place. A code is never reused for a different problem.
//!
//! `E0xx` lexical, `E1xx` syntax, `E2xx` nodes and properties, `E3xx` values and types,
//! `E4xx` variables and templates, `E5xx` lambdas, `W6xx` warnings.

/// A character that starts no token.
pub const UNEXPECTED_CHAR: &str = "E001";
/// An unterminated string, reference or regex.
pub const UNTERMINATED: &str = "E002";
/// A number or duration that does not fit or parse.
pub const BAD_NUMBER: &str = "E003";
/// An invalid regular expression.
pub const BAD_REGEX: &str = "E004";

/// The parser expected something else.
pub const SYNTAX: &str = "E101";
/// A comment inside an expression, where the formatter cannot keep it.
pub const UNFORMATTABLE_COMMENT: &str = "E103";
/// Nesting deeper than the parser accepts ([`crate::parser::MAX_NESTING`],
/// [`crate::parser::MAX_DEPTH`]).
pub const TOO_DEEP: &str = "E104";

/// An unknown chaining method (`|name()`).
pub const UNKNOWN_NODE: &str = "E201";
/// An unknown property method (`.name()`).
pub const UNKNOWN_PROPERTY: &str = "E202";
/// A property called with `|` instead of `.`.
pub const PROPERTY_AS_CHAIN: &str = "E203";
/// A chaining method called with `.` instead of `|`.
pub const CHAIN_AS_PROPERTY: &str = "E204";
/// A required property is missing (`eval` without `.as`).
pub const MISSING_PROPERTY: &str = "E205";
/// The parent's edge type does not match what the node wants.
pub const EDGE_MISMATCH: &str = "E206";
/// More than one root, or stream and batch mixed.
pub const ROOT: &str = "E207";
/// A property value is out of range or inconsistent with another property.
pub const INVALID_PROPERTY: &str = "E208";
/// A UDF call (`@name`); weir has no UDFs yet.
pub const UDF: &str = "E209";
/// A method is called on something that is not a node.
pub const NOT_A_NODE: &str = "E210";
/// A node kind that exists in Kapacitor but not in weir.
pub const UNSUPPORTED_NODE: &str = "E211";

/// Wrong number of arguments.
pub const ARITY: &str = "E301";
/// An argument of the wrong type.
pub const ARG_TYPE: &str = "E302";
/// A constant expression could not be evaluated (type mismatch, division by zero).
pub const CONST_EVAL: &str = "E303";
/// A double-quoted reference used where a string is needed.
pub const REFERENCE_AS_STRING: &str = "E304";

/// An unknown variable.
pub const UNKNOWN_VAR: &str = "E401";
/// A variable defined twice.
pub const REDEFINED_VAR: &str = "E402";
/// A template variable without a value.
pub const MISSING_VAR_VALUE: &str = "E403";
/// A supplied template value of the wrong type.
pub const VAR_TYPE: &str = "E404";
/// An unknown type in `var name <type>`.
pub const UNKNOWN_VAR_TYPE: &str = "E405";

/// An unknown function inside a lambda.
pub const UNKNOWN_FUNCTION: &str = "E501";
/// An operator applied to types it does not accept (known at compile time).
pub const OPERATOR_TYPE: &str = "E502";
/// Something that is not allowed inside a lambda (a node, a list, a nested lambda).
pub const LAMBDA_VALUE: &str = "E503";

/// A supplied template value for a var the script does not declare.
pub const UNUSED_VAR_VALUE: &str = "W601";
/// A node whose output goes nowhere although it produces data.
pub const DANGLING: &str = "W602";
/// A property that weir accepts and ignores.
pub const IGNORED_PROPERTY: &str = "W603";
/// A statement that does nothing (a bare value that is not a node).
pub const USELESS_STATEMENT: &str = "W604";
/// A Kapacitor alert handler that weir accepts and does not deliver to.
pub const UNSUPPORTED_HANDLER: &str = "W605";
/// A lambda operator whose operand types make it fail on every point.
pub const OPERATOR_FAILS: &str = "W606";
/// A lambda function argument whose type makes the call fail on every point.
pub const ARGUMENT_FAILS: &str = "W607";
/// A predicate (`where`, alert levels, ...) that can never evaluate to a bool.
pub const NEVER_BOOL: &str = "W608";
/// A batch query with a time condition of its own (ANDed with the period's range).
pub const QUERY_TIME_CONDITION: &str = "W609";
/// A lambda operator between constants of types that have none: Kapacitor fails the task
/// when it starts.
pub const OPERATOR_FAILS_AT_START: &str = "W610";

/// Every code with a one-line summary, for `weir explain` and the docs.
pub const ALL: &[(&str, &str)] = &[
    (UNEXPECTED_CHAR, "a character that starts no token"),
    (UNTERMINATED, "an unterminated string, reference or regex"),
    (BAD_NUMBER, "a number or duration that does not parse"),
    (BAD_REGEX, "an invalid regular expression"),
    (SYNTAX, "a syntax error"),
    (UNFORMATTABLE_COMMENT, "a comment the formatter cannot keep"),
    (UNKNOWN_NODE, "an unknown chaining method"),
    (UNKNOWN_PROPERTY, "an unknown property method"),
    (PROPERTY_AS_CHAIN, "a property called with `|`"),
    (CHAIN_AS_PROPERTY, "a chaining method called with `.`"),
    (MISSING_PROPERTY, "a required property is missing"),
    (EDGE_MISMATCH, "the parent's edge type does not fit"),
    (ROOT, "a wrong or mixed root"),
    (INVALID_PROPERTY, "a property value out of range"),
    (UDF, "a UDF call"),
    (NOT_A_NODE, "a method called on a value that is not a node"),
    (UNSUPPORTED_NODE, "a Kapacitor node weir does not support"),
    (ARITY, "wrong number of arguments"),
    (ARG_TYPE, "an argument of the wrong type"),
    (CONST_EVAL, "a constant expression that fails"),
    (
        REFERENCE_AS_STRING,
        "a double-quoted reference where a string belongs",
    ),
    (UNKNOWN_VAR, "an unknown variable"),
    (REDEFINED_VAR, "a variable defined twice"),
    (MISSING_VAR_VALUE, "a template variable without a value"),
    (VAR_TYPE, "a template value of the wrong type"),
    (UNKNOWN_VAR_TYPE, "an unknown template variable type"),
    (UNKNOWN_FUNCTION, "an unknown lambda function"),
    (
        OPERATOR_TYPE,
        "an operator applied to the wrong types (now reported as W606)",
    ),
    (LAMBDA_VALUE, "a value not allowed in a lambda"),
    (
        UNUSED_VAR_VALUE,
        "a template value for an undeclared variable",
    ),
    (DANGLING, "a node whose output goes nowhere"),
    (IGNORED_PROPERTY, "a property weir ignores"),
    (USELESS_STATEMENT, "a statement that does nothing"),
    (
        UNSUPPORTED_HANDLER,
        "an alert handler weir does not deliver to",
    ),
    (OPERATOR_FAILS, "an operator that fails on every point"),
    (
        ARGUMENT_FAILS,
        "a function argument that fails on every point",
    ),
    (NEVER_BOOL, "a predicate that is never a bool"),
    (
        QUERY_TIME_CONDITION,
        "a query time condition ANDed with the period's range",
    ),
    (
        OPERATOR_FAILS_AT_START,
        "an operator between constants that fails the task when it starts",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn codes_are_unique() {
        let unique: BTreeSet<&str> = super::ALL.iter().map(|(code, _)| *code).collect();
        assert_eq!(unique.len(), super::ALL.len());
    }
}
