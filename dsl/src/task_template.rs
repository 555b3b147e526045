//! Template variables: listing a script's vars for the templates API, and decoding
//! Kapacitor's `vars` JSON (`{"name": {"type": "int", "value": 5}}`).

use std::collections::BTreeMap;

use crate::program::CompileOptions;
use crate::value::{Value, parse_duration};

/// One `var` of a script, as the templates API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateVar {
    /// The var's name.
    pub name: String,
    /// `int`, `float`, `bool`, `string`, `regex`, `duration`, `lambda`, `list` or `star`.
    pub r#type: String,
    /// The default value; `None` for `var name type` declarations.
    pub value: Option<Value>,
    /// The `//` comment lines right above the declaration.
    pub description: String,
}

/// Every `var` of `source` that holds a value (not a node), in source order.
pub fn template_vars(source: &str) -> Vec<TemplateVar> {
    let (ast, _) = crate::parser::parse(source);
    let (_, _, vars) = crate::check::check(source, &ast, &CompileOptions::default(), false);
    vars.into_iter()
        .filter_map(|var| {
            let value = var.value.as_ref().and_then(crate::check::CValue::to_value);
            let r#type = match (&var.declared_type, &value) {
                (Some(declared), _) => declared.clone(),
                (None, Some(value)) => value.type_name().to_owned(),
                // A node, or a definition that failed.
                (None, None) => return None,
            };
            Some(TemplateVar {
                name: var.name,
                r#type,
                value,
                description: var.description,
            })
        })
        .collect()
}

/// Decodes Kapacitor's task `vars` JSON into values for [`CompileOptions::vars`].
pub fn decode_vars(json: &serde_json::Value) -> Result<BTreeMap<String, Value>, String> {
    let Some(object) = json.as_object() else {
        return Err(
            "vars must be a JSON object of {\"name\": {\"type\": ..., \"value\": ...}}".to_owned(),
        );
    };
    let mut vars = BTreeMap::new();
    for (name, var) in object {
        vars.insert(
            name.clone(),
            decode_var(var).map_err(|err| format!("var {name:?}: {err}"))?,
        );
    }
    Ok(vars)
}

fn decode_var(var: &serde_json::Value) -> Result<Value, String> {
    let ty = var
        .get("type")
        .and_then(serde_json::Value::as_str)
        .ok_or("missing \"type\"")?;
    let value = var.get("value").ok_or("missing \"value\"")?;
    let wrong = || format!("value {value} is not a valid {ty}");
    Ok(match ty {
        "int" => Value::Int(value.as_i64().ok_or_else(wrong)?),
        "float" => Value::Float(value.as_f64().ok_or_else(wrong)?),
        "bool" => Value::Bool(value.as_bool().ok_or_else(wrong)?),
        "string" => Value::String(value.as_str().ok_or_else(wrong)?.to_owned()),
        "duration" => {
            let nanos = match value {
                serde_json::Value::Number(number) => number.as_i64(),
                serde_json::Value::String(text) => parse_duration(text),
                _ => None,
            };
            Value::Duration(crate::Duration(nanos.ok_or_else(wrong)?))
        }
        "regex" => {
            let pattern = value.as_str().ok_or_else(wrong)?;
            Value::Regex(
                regex::Regex::new(pattern)
                    .map_err(|err| format!("invalid regex {pattern:?}: {err}"))?,
            )
        }
        "lambda" => Value::Lambda(value.as_str().ok_or_else(wrong)?.to_owned()),
        "star" => Value::Star,
        "list" => {
            let items = value.as_array().ok_or_else(wrong)?;
            Value::List(items.iter().map(decode_var).collect::<Result<_, _>>()?)
        }
        other => return Err(format!("unknown type {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, compile};

    const TEMPLATE: &str = "// The measurement to watch.\nvar measurement string\n// Critical above this.\nvar crit = 90.0\nvar where_filter = lambda: TRUE\nvar tags = ['host']\nvar window = 1m\n\nstream\n    |from()\n        .measurement(measurement)\n        .where(where_filter)\n        .groupBy(tags)\n    |window()\n        .period(window)\n        .every(window)\n    |mean('usage')\n    |alert()\n        .crit(lambda: \"mean\" > crit)\n        .log('/tmp/alerts.log')\n";

    #[test]
    fn lists_vars_with_types_defaults_and_descriptions() {
        let vars = template_vars(TEMPLATE);
        let summary: Vec<(&str, &str, &str)> = vars
            .iter()
            .map(|var| {
                (
                    var.name.as_str(),
                    var.r#type.as_str(),
                    var.description.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("measurement", "string", "The measurement to watch."),
                ("crit", "float", "Critical above this."),
                ("where_filter", "lambda", ""),
                ("tags", "list", ""),
                ("window", "duration", ""),
            ]
        );
        assert_eq!(vars[0].value, None);
        assert_eq!(vars[1].value, Some(Value::Float(90.0)));
        assert_eq!(vars[2].value, Some(Value::Lambda("TRUE".into())));
        assert_eq!(
            vars[3].value,
            Some(Value::List(vec![Value::String("host".into())]))
        );
    }

    #[test]
    fn decoded_vars_fill_and_override_a_template() {
        let json = serde_json::json!({
            "measurement": {"type": "string", "value": "cpu"},
            "crit": {"type": "float", "value": 95},
            "where_filter": {"type": "lambda", "value": "\"cpu\" == 'cpu-total'"},
            "tags": {"type": "list", "value": [{"type": "string", "value": "host"}, {"type": "string", "value": "dc"}]},
            "window": {"type": "duration", "value": "5m0s"}
        });
        let vars = decode_vars(&json).unwrap();
        assert_eq!(
            vars["window"],
            Value::Duration(crate::Duration(300_000_000_000))
        );
        let options = CompileOptions {
            vars,
            ..CompileOptions::default()
        };
        let (program, diagnostics) = compile(TEMPLATE, &options);
        assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
        let program = program.unwrap();
        let crate::NodeSpec::From(from) = &program.nodes[1].spec else {
            panic!("not from")
        };
        assert_eq!(from.measurement.as_deref(), Some("cpu"));
        assert_eq!(from.group_by.tags, ["dc", "host"]);
        assert_eq!(
            from.where_.as_ref().map(|l| l.source.as_str()),
            Some("\"cpu\" == 'cpu-total'")
        );
    }

    #[test]
    fn missing_and_mistyped_values_are_errors() {
        let (_, diagnostics) = compile(TEMPLATE, &CompileOptions::default());
        assert!(
            diagnostics
                .iter()
                .any(|d| d.code == crate::codes::MISSING_VAR_VALUE),
            "{diagnostics:?}"
        );
        let mut options = CompileOptions::default();
        options.vars.insert("measurement".into(), Value::Int(3));
        let (_, diagnostics) = compile(TEMPLATE, &options);
        assert!(
            diagnostics.iter().any(|d| d.code == crate::codes::VAR_TYPE),
            "{diagnostics:?}"
        );
    }

    #[test]
    fn bad_json_is_explained() {
        assert!(decode_vars(&serde_json::json!([])).is_err());
        let err =
            decode_vars(&serde_json::json!({"x": {"type": "int", "value": "5"}})).unwrap_err();
        assert!(err.starts_with("var \"x\""), "{err}");
        assert!(decode_vars(&serde_json::json!({"x": {"type": "nope", "value": 1}})).is_err());
    }
}
