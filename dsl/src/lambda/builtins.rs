//! The lambda builtins (Kapacitor's `tick/stateful/functions.go` set): conversions, `if`,
//! math on floats, strings, time parts (UTC), `humanBytes`, and the stateful `count`,
//! `sigma` and `spread`.

use std::borrow::Cow;

use crate::lambda::EvalError;
use crate::lambda::expr::{StateSlot, V};

/// The most arguments any builtin takes.
pub(crate) const MAX_ARGS: usize = 4;

/// A parameter type, for arity and static type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Float,
    Int,
    Str,
    Bool,
    Time,
    Regex,
    /// Any scalar; checked at run time.
    Any,
}

impl Param {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Param::Float => "float",
            Param::Int => "int",
            Param::Str => "string",
            Param::Bool => "bool",
            Param::Time => "time",
            Param::Regex => "regex",
            Param::Any => "any",
        }
    }
}

/// What a builtin returns, for static type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Returns {
    Type(&'static str),
    /// The type of argument `n` (`if`).
    SameAs(usize),
}

macro_rules! builtins {
    ($( $variant:ident = $name:literal ( $($param:ident),* ) $(opt $optional:literal)? -> $ret:expr ; )*) => {
        /// A builtin function.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Builtin { $( $variant, )* }

        impl Builtin {
            /// Every builtin.
            pub(crate) const ALL: &'static [Builtin] = &[ $( Builtin::$variant, )* ];

            /// The TICKscript name.
            pub(crate) fn name(self) -> &'static str {
                match self { $( Builtin::$variant => $name, )* }
            }

            /// Parameter types.
            pub(crate) fn params(self) -> &'static [Param] {
                match self { $( Builtin::$variant => &[ $( Param::$param ),* ], )* }
            }

            /// How many trailing parameters may be left out.
            pub(crate) fn optional(self) -> usize {
                match self { $( Builtin::$variant => 0 $( + $optional )?, )* }
            }

            /// The result type.
            pub(crate) fn returns(self) -> Returns {
                match self { $( Builtin::$variant => $ret, )* }
            }
        }
    };
}

use Returns::{SameAs, Type as T};

builtins! {
    Bool = "bool"(Any) -> T("bool");
    Int = "int"(Any) -> T("int");
    Float = "float"(Any) -> T("float");
    String = "string"(Any) -> T("string");
    Duration = "duration"(Any, Any) opt 1 -> T("duration");
    If = "if"(Bool, Any, Any) -> SameAs(1);
    IsPresent = "isPresent"(Any) -> T("bool");
    Now = "now"() -> T("time");
    Abs = "abs"(Float) -> T("float");
    Acos = "acos"(Float) -> T("float");
    Acosh = "acosh"(Float) -> T("float");
    Asin = "asin"(Float) -> T("float");
    Asinh = "asinh"(Float) -> T("float");
    Atan = "atan"(Float) -> T("float");
    Atan2 = "atan2"(Float, Float) -> T("float");
    Atanh = "atanh"(Float) -> T("float");
    Cbrt = "cbrt"(Float) -> T("float");
    Ceil = "ceil"(Float) -> T("float");
    Cos = "cos"(Float) -> T("float");
    Cosh = "cosh"(Float) -> T("float");
    Erf = "erf"(Float) -> T("float");
    Erfc = "erfc"(Float) -> T("float");
    Exp = "exp"(Float) -> T("float");
    Exp2 = "exp2"(Float) -> T("float");
    Expm1 = "expm1"(Float) -> T("float");
    Floor = "floor"(Float) -> T("float");
    Gamma = "gamma"(Float) -> T("float");
    Hypot = "hypot"(Float, Float) -> T("float");
    J0 = "j0"(Float) -> T("float");
    J1 = "j1"(Float) -> T("float");
    Jn = "jn"(Int, Float) -> T("float");
    Log = "log"(Float) -> T("float");
    Log10 = "log10"(Float) -> T("float");
    Log1p = "log1p"(Float) -> T("float");
    Log2 = "log2"(Float) -> T("float");
    Logb = "logb"(Float) -> T("float");
    Max = "max"(Float, Float) -> T("float");
    Min = "min"(Float, Float) -> T("float");
    Mod = "mod"(Float, Float) -> T("float");
    Pow = "pow"(Float, Float) -> T("float");
    Pow10 = "pow10"(Int) -> T("float");
    Sin = "sin"(Float) -> T("float");
    Sinh = "sinh"(Float) -> T("float");
    Sqrt = "sqrt"(Float) -> T("float");
    Tan = "tan"(Float) -> T("float");
    Tanh = "tanh"(Float) -> T("float");
    Trunc = "trunc"(Float) -> T("float");
    Y0 = "y0"(Float) -> T("float");
    Y1 = "y1"(Float) -> T("float");
    Yn = "yn"(Int, Float) -> T("float");
    StrContains = "strContains"(Str, Str) -> T("bool");
    StrContainsAny = "strContainsAny"(Str, Str) -> T("bool");
    StrCount = "strCount"(Str, Str) -> T("int");
    StrHasPrefix = "strHasPrefix"(Str, Str) -> T("bool");
    StrHasSuffix = "strHasSuffix"(Str, Str) -> T("bool");
    StrIndex = "strIndex"(Str, Str) -> T("int");
    StrIndexAny = "strIndexAny"(Str, Str) -> T("int");
    StrLastIndex = "strLastIndex"(Str, Str) -> T("int");
    StrLastIndexAny = "strLastIndexAny"(Str, Str) -> T("int");
    StrLength = "strLength"(Str) -> T("int");
    StrReplace = "strReplace"(Str, Str, Str, Int) -> T("string");
    StrSubstring = "strSubstring"(Str, Int, Int) -> T("string");
    StrToLower = "strToLower"(Str) -> T("string");
    StrToUpper = "strToUpper"(Str) -> T("string");
    StrTrim = "strTrim"(Str, Str) -> T("string");
    StrTrimLeft = "strTrimLeft"(Str, Str) -> T("string");
    StrTrimRight = "strTrimRight"(Str, Str) -> T("string");
    StrTrimPrefix = "strTrimPrefix"(Str, Str) -> T("string");
    StrTrimSuffix = "strTrimSuffix"(Str, Str) -> T("string");
    StrTrimSpace = "strTrimSpace"(Str) -> T("string");
    RegexReplace = "regexReplace"(Regex, Str, Str) -> T("string");
    UnixNano = "unixNano"(Time) -> T("int");
    Minute = "minute"(Time) -> T("int");
    Hour = "hour"(Time) -> T("int");
    Weekday = "weekday"(Time) -> T("int");
    Day = "day"(Time) -> T("int");
    Month = "month"(Time) -> T("int");
    Year = "year"(Time) -> T("int");
    HumanBytes = "humanBytes"(Any) -> T("string");
    Sigma = "sigma"(Float) -> T("float");
    Count = "count"() -> T("int");
    Spread = "spread"(Float) -> T("float");
}

impl Builtin {
    /// Looks a builtin up by its TICKscript name.
    pub(crate) fn find(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .iter()
            .copied()
            .find(|builtin| builtin.name() == name)
    }

    /// Whether the function keeps per-group state.
    pub(crate) fn is_stateful(self) -> bool {
        matches!(self, Builtin::Sigma | Builtin::Count | Builtin::Spread)
    }

    /// `name(params)` for messages.
    pub(crate) fn signature(self) -> String {
        let params: Vec<&str> = self.params().iter().map(|param| param.name()).collect();
        format!("{}({})", self.name(), params.join(", "))
    }
}

fn wrong_args(function: Builtin, args: &[V<'_>]) -> EvalError {
    let given: Vec<&str> = args.iter().map(V::type_name).collect();
    let mut message = format!(
        "{} expects {}, got ({})",
        function.name(),
        function.signature(),
        given.join(", ")
    );
    if function.params().contains(&Param::Float) && args.iter().any(|arg| matches!(arg, V::Int(_)))
    {
        message.push_str(": convert ints with float()");
    }
    EvalError::Type(message)
}

fn float_arg(function: Builtin, args: &[V<'_>], index: usize) -> Result<f64, EvalError> {
    match args.get(index) {
        Some(V::Float(value)) => Ok(*value),
        _ => Err(wrong_args(function, args)),
    }
}

fn int_arg(function: Builtin, args: &[V<'_>], index: usize) -> Result<i64, EvalError> {
    match args.get(index) {
        Some(V::Int(value)) => Ok(*value),
        _ => Err(wrong_args(function, args)),
    }
}

fn str_arg<'v>(function: Builtin, args: &'v [V<'_>], index: usize) -> Result<&'v str, EvalError> {
    match args.get(index) {
        Some(V::Str(value)) => Ok(value),
        _ => Err(wrong_args(function, args)),
    }
}

fn owned<'a>(text: impl Into<String>) -> V<'a> {
    V::Str(Cow::Owned(text.into()))
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64, max: bool) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if max { a.max(b) } else { a.min(b) }
}

/// Go's `math.Logb`: the binary exponent.
fn logb(x: f64) -> f64 {
    if x == 0.0 {
        f64::NEG_INFINITY
    } else if x.is_infinite() {
        f64::INFINITY
    } else if x.is_nan() {
        x
    } else {
        f64::from(libm::ilogb(x))
    }
}

/// Calls a stateless builtin on evaluated arguments.
pub(crate) fn call<'a>(function: Builtin, args: &mut [V<'a>]) -> Result<V<'a>, EvalError> {
    use Builtin as B;
    let unary =
        |f: fn(f64) -> f64, args: &[V<'_>]| float_arg(function, args, 0).map(|x| V::Float(f(x)));
    let binary = |f: fn(f64, f64) -> f64, args: &[V<'_>]| {
        Ok(V::Float(f(
            float_arg(function, args, 0)?,
            float_arg(function, args, 1)?,
        )))
    };
    match function {
        B::Bool => match &args[0] {
            V::Bool(value) => Ok(V::Bool(*value)),
            V::Str(text) => match text.as_ref() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(V::Bool(true)),
                "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(V::Bool(false)),
                other => Err(EvalError::Other(format!(
                    "bool: cannot parse {other:?} as a bool"
                ))),
            },
            V::Int(0) => Ok(V::Bool(false)),
            V::Int(1) => Ok(V::Bool(true)),
            V::Float(value) if *value == 0.0 => Ok(V::Bool(false)),
            V::Float(value) if *value == 1.0 => Ok(V::Bool(true)),
            V::Int(_) | V::Float(_) => Err(EvalError::Other(
                "bool: only 0 and 1 convert to a bool".to_owned(),
            )),
            _ => Err(wrong_args(function, args)),
        },
        B::Int => match &args[0] {
            V::Int(value) => Ok(V::Int(*value)),
            V::Float(value) => Ok(V::Int(*value as i64)),
            V::Bool(value) => Ok(V::Int(i64::from(*value))),
            V::Duration(value) => Ok(V::Int(*value)),
            V::Str(text) => text
                .parse::<i64>()
                .map(V::Int)
                .map_err(|err| EvalError::Other(format!("int: cannot parse {text:?}: {err}"))),
            _ => Err(wrong_args(function, args)),
        },
        B::Float => match &args[0] {
            V::Float(value) => Ok(V::Float(*value)),
            V::Int(value) => Ok(V::Float(*value as f64)),
            V::Bool(value) => Ok(V::Float(if *value { 1.0 } else { 0.0 })),
            V::Str(text) => text
                .parse::<f64>()
                .map(V::Float)
                .map_err(|err| EvalError::Other(format!("float: cannot parse {text:?}: {err}"))),
            _ => Err(wrong_args(function, args)),
        },
        B::String => match &args[0] {
            V::Str(text) => Ok(V::Str(text.clone())),
            V::Int(value) => Ok(owned(value.to_string())),
            V::Float(value) => Ok(owned(value.to_string())),
            V::Bool(value) => Ok(owned(value.to_string())),
            V::Duration(value) => Ok(owned(crate::value::Duration(*value).to_string())),
            _ => Err(wrong_args(function, args)),
        },
        B::Duration => {
            let unit = match args.get(1) {
                None => None,
                Some(V::Duration(unit)) => Some(*unit),
                Some(_) => return Err(wrong_args(function, args)),
            };
            match (&args[0], unit) {
                (V::Duration(value), _) => Ok(V::Duration(*value)),
                (V::Int(value), Some(unit)) => Ok(V::Duration(value.wrapping_mul(unit))),
                (V::Float(value), Some(unit)) => Ok(V::Duration((*value * unit as f64) as i64)),
                (V::Int(_) | V::Float(_), None) => Err(EvalError::Other(
                    "duration: a number needs a unit, e.g. duration(5, 1s)".to_owned(),
                )),
                (V::Str(text), _) => crate::value::parse_duration(text)
                    .map(V::Duration)
                    .ok_or_else(|| EvalError::Other(format!("duration: cannot parse {text:?}"))),
                _ => Err(wrong_args(function, args)),
            }
        }
        B::If => {
            let V::Bool(condition) = args[0] else {
                return Err(wrong_args(function, args));
            };
            if args[1].type_name() != args[2].type_name() {
                return Err(EvalError::Type(format!(
                    "if: both branches must have the same type, got {} and {}",
                    args[1].type_name(),
                    args[2].type_name()
                )));
            }
            let chosen = if condition { 1 } else { 2 };
            Ok(std::mem::replace(&mut args[chosen], V::Bool(false)))
        }
        B::IsPresent | B::Now | B::Sigma | B::Count | B::Spread => Err(EvalError::Other(format!(
            "{} cannot be called here",
            function.name()
        ))),
        B::Abs => unary(f64::abs, args),
        B::Acos => unary(f64::acos, args),
        B::Acosh => unary(f64::acosh, args),
        B::Asin => unary(f64::asin, args),
        B::Asinh => unary(f64::asinh, args),
        B::Atan => unary(f64::atan, args),
        B::Atan2 => binary(f64::atan2, args),
        B::Atanh => unary(f64::atanh, args),
        B::Cbrt => unary(f64::cbrt, args),
        B::Ceil => unary(f64::ceil, args),
        B::Cos => unary(f64::cos, args),
        B::Cosh => unary(f64::cosh, args),
        B::Erf => unary(libm::erf, args),
        B::Erfc => unary(libm::erfc, args),
        B::Exp => unary(f64::exp, args),
        B::Exp2 => unary(f64::exp2, args),
        B::Expm1 => unary(f64::exp_m1, args),
        B::Floor => unary(f64::floor, args),
        B::Gamma => unary(libm::tgamma, args),
        B::Hypot => binary(f64::hypot, args),
        B::J0 => unary(libm::j0, args),
        B::J1 => unary(libm::j1, args),
        B::Jn | B::Yn => {
            let order = int_arg(function, args, 0)?;
            let x = float_arg(function, args, 1)?;
            let order = i32::try_from(order).map_err(|_| {
                EvalError::Other(format!("{}: order {order} is too large", function.name()))
            })?;
            Ok(V::Float(if function == B::Jn {
                libm::jn(order, x)
            } else {
                libm::yn(order, x)
            }))
        }
        B::Log => unary(f64::ln, args),
        B::Log10 => unary(f64::log10, args),
        B::Log1p => unary(f64::ln_1p, args),
        B::Log2 => unary(f64::log2, args),
        B::Logb => unary(logb, args),
        B::Max => binary(|a, b| go_max(a, b, true), args),
        B::Min => binary(|a, b| go_max(a, b, false), args),
        B::Mod => binary(|a, b| a % b, args),
        B::Pow => binary(f64::powf, args),
        B::Pow10 => {
            let exponent = int_arg(function, args, 0)?;
            Ok(V::Float(10f64.powi(exponent.clamp(-400, 400) as i32)))
        }
        B::Sin => unary(f64::sin, args),
        B::Sinh => unary(f64::sinh, args),
        B::Sqrt => unary(f64::sqrt, args),
        B::Tan => unary(f64::tan, args),
        B::Tanh => unary(f64::tanh, args),
        B::Trunc => unary(f64::trunc, args),
        B::Y0 => unary(libm::y0, args),
        B::Y1 => unary(libm::y1, args),
        B::StrContains => Ok(V::Bool(
            str_arg(function, args, 0)?.contains(str_arg(function, args, 1)?),
        )),
        B::StrContainsAny => {
            let chars = str_arg(function, args, 1)?;
            Ok(V::Bool(
                str_arg(function, args, 0)?
                    .chars()
                    .any(|ch| chars.contains(ch)),
            ))
        }
        B::StrCount => {
            let (text, needle) = (str_arg(function, args, 0)?, str_arg(function, args, 1)?);
            // Go's strings.Count: an empty needle counts the code points plus one.
            let count = if needle.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(needle).count()
            };
            Ok(V::Int(count as i64))
        }
        B::StrHasPrefix => Ok(V::Bool(
            str_arg(function, args, 0)?.starts_with(str_arg(function, args, 1)?),
        )),
        B::StrHasSuffix => Ok(V::Bool(
            str_arg(function, args, 0)?.ends_with(str_arg(function, args, 1)?),
        )),
        B::StrIndex | B::StrLastIndex | B::StrIndexAny | B::StrLastIndexAny => {
            let (text, needle) = (str_arg(function, args, 0)?, str_arg(function, args, 1)?);
            let found = match function {
                B::StrIndex => text.find(needle),
                B::StrLastIndex => text.rfind(needle),
                B::StrIndexAny => text.find(|ch| needle.contains(ch)),
                _ => text.rfind(|ch| needle.contains(ch)),
            };
            Ok(V::Int(found.map_or(-1, |index| index as i64)))
        }
        B::StrLength => Ok(V::Int(str_arg(function, args, 0)?.len() as i64)),
        B::StrReplace => {
            let (text, old, new) = (
                str_arg(function, args, 0)?,
                str_arg(function, args, 1)?,
                str_arg(function, args, 2)?,
            );
            let n = int_arg(function, args, 3)?;
            Ok(owned(if n < 0 {
                text.replace(old, new)
            } else {
                text.replacen(old, new, n as usize)
            }))
        }
        B::StrSubstring => {
            let text = str_arg(function, args, 0)?;
            let (start, stop) = (int_arg(function, args, 1)?, int_arg(function, args, 2)?);
            if start < 0 || stop < 0 {
                return Err(EvalError::Other(
                    "strSubstring: indexes must not be negative".to_owned(),
                ));
            }
            if start > stop || stop as usize >= text.len() {
                return Err(EvalError::Other(format!(
                    "strSubstring: indexes {start}..{stop} out of range for a string of {} bytes",
                    text.len()
                )));
            }
            text.get(start as usize..stop as usize)
                .map(owned)
                .ok_or_else(|| {
                    EvalError::Other("strSubstring: indexes split a character".to_owned())
                })
        }
        B::StrToLower => Ok(owned(str_arg(function, args, 0)?.to_lowercase())),
        B::StrToUpper => Ok(owned(str_arg(function, args, 0)?.to_uppercase())),
        B::StrTrim | B::StrTrimLeft | B::StrTrimRight => {
            let (text, cutset) = (str_arg(function, args, 0)?, str_arg(function, args, 1)?);
            let is_cut = |ch: char| cutset.contains(ch);
            Ok(owned(match function {
                B::StrTrim => text.trim_matches(is_cut),
                B::StrTrimLeft => text.trim_start_matches(is_cut),
                _ => text.trim_end_matches(is_cut),
            }))
        }
        B::StrTrimPrefix => {
            let (text, prefix) = (str_arg(function, args, 0)?, str_arg(function, args, 1)?);
            Ok(owned(text.strip_prefix(prefix).unwrap_or(text)))
        }
        B::StrTrimSuffix => {
            let (text, suffix) = (str_arg(function, args, 0)?, str_arg(function, args, 1)?);
            Ok(owned(text.strip_suffix(suffix).unwrap_or(text)))
        }
        B::StrTrimSpace => Ok(owned(str_arg(function, args, 0)?.trim())),
        B::RegexReplace => {
            let V::Regex(regex) = &args[0] else {
                return Err(wrong_args(function, args));
            };
            let (text, replacement) = (str_arg(function, args, 1)?, str_arg(function, args, 2)?);
            Ok(owned(regex.replace_all(text, replacement).into_owned()))
        }
        B::UnixNano | B::Minute | B::Hour | B::Weekday | B::Day | B::Month | B::Year => {
            let V::Time(nanos) = args[0] else {
                return Err(wrong_args(function, args));
            };
            Ok(V::Int(time_part(function, nanos)))
        }
        B::HumanBytes => match args[0] {
            V::Int(value) => Ok(owned(human_bytes(value.max(0) as u64))),
            V::Float(value) => Ok(owned(human_bytes(value.max(0.0) as u64))),
            _ => Err(wrong_args(function, args)),
        },
    }
}

/// Calls a stateful builtin, updating its slot.
pub(crate) fn call_stateful<'a>(
    function: Builtin,
    args: &[V<'a>],
    slot: &mut StateSlot,
) -> Result<V<'a>, EvalError> {
    match function {
        Builtin::Count => {
            let count = match slot {
                StateSlot::Count(count) => count,
                other => {
                    *other = StateSlot::Count(0);
                    let StateSlot::Count(count) = other else {
                        return Err(EvalError::Other("count: bad state".to_owned()));
                    };
                    count
                }
            };
            *count += 1;
            Ok(V::Int(*count))
        }
        Builtin::Sigma => {
            let x = float_arg(function, args, 0)?;
            if !matches!(slot, StateSlot::Sigma { .. }) {
                *slot = StateSlot::Sigma {
                    n: 0.0,
                    mean: 0.0,
                    m2: 0.0,
                };
            }
            let StateSlot::Sigma { n, mean, m2 } = slot else {
                return Err(EvalError::Other("sigma: bad state".to_owned()));
            };
            *n += 1.0;
            let delta = x - *mean;
            *mean += delta / *n;
            *m2 += delta * (x - *mean);
            if *n < 2.0 {
                return Ok(V::Float(0.0));
            }
            let stddev = (*m2 / (*n - 1.0)).sqrt();
            Ok(V::Float(if stddev == 0.0 {
                0.0
            } else {
                (x - *mean).abs() / stddev
            }))
        }
        Builtin::Spread => {
            let x = float_arg(function, args, 0)?;
            if !matches!(slot, StateSlot::Spread { .. }) {
                *slot = StateSlot::Spread { min: x, max: x };
            }
            let StateSlot::Spread { min, max } = slot else {
                return Err(EvalError::Other("spread: bad state".to_owned()));
            };
            *min = min.min(x);
            *max = max.max(x);
            Ok(V::Float(*max - *min))
        }
        other => Err(EvalError::Other(format!("{} keeps no state", other.name()))),
    }
}

/// Go humanize's `Bytes`: SI units, one decimal below 10.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 10 {
        return format!("{bytes} B");
    }
    let value = bytes as f64;
    let exponent = (value.ln() / 1000f64.ln()).floor();
    let suffix = SIZES[(exponent as usize).min(SIZES.len() - 1)];
    let scaled = (value / 1000f64.powf(exponent) * 10.0 + 0.5).floor() / 10.0;
    if scaled < 10.0 {
        format!("{scaled:.1} {suffix}")
    } else {
        format!("{scaled:.0} {suffix}")
    }
}

/// A part of a UTC time.
fn time_part(function: Builtin, nanos: i64) -> i64 {
    let seconds = nanos.div_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    match function {
        Builtin::UnixNano => nanos,
        Builtin::Minute => (second_of_day / 60) % 60,
        Builtin::Hour => second_of_day / 3600,
        // 1970-01-01 was a Thursday (4).
        Builtin::Weekday => (days + 4).rem_euclid(7),
        _ => {
            let (year, month, day) = civil_from_days(days);
            match function {
                Builtin::Day => day,
                Builtin::Month => month,
                _ => year,
            }
        }
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(function: Builtin, mut args: Vec<V<'static>>) -> Result<crate::Value, EvalError> {
        call(function, &mut args).map(V::into_value)
    }

    #[test]
    fn time_parts_are_utc() {
        // 2024-02-29T13:45:00Z, a Thursday.
        let nanos = 1_709_214_300_000_000_000;
        assert_eq!(time_part(Builtin::Year, nanos), 2024);
        assert_eq!(time_part(Builtin::Month, nanos), 2);
        assert_eq!(time_part(Builtin::Day, nanos), 29);
        assert_eq!(time_part(Builtin::Hour, nanos), 13);
        assert_eq!(time_part(Builtin::Minute, nanos), 45);
        assert_eq!(time_part(Builtin::Weekday, nanos), 4);
        assert_eq!(time_part(Builtin::Weekday, 0), 4);
        assert_eq!(time_part(Builtin::Year, -1), 1969);
    }

    #[test]
    fn human_bytes_like_go_humanize() {
        assert_eq!(human_bytes(5), "5 B");
        assert_eq!(human_bytes(1_200_000), "1.2 MB");
        assert_eq!(human_bytes(82_854_982), "83 MB");
        assert_eq!(human_bytes(1000), "1.0 kB");
    }

    #[test]
    fn conversions() {
        assert_eq!(
            run(Builtin::Int, vec![V::Float(2.9)]),
            Ok(crate::Value::Int(2))
        );
        assert_eq!(
            run(Builtin::Float, vec![V::Str("1.5".into())]),
            Ok(crate::Value::Float(1.5))
        );
        assert_eq!(
            run(Builtin::Bool, vec![V::Str("T".into())]),
            Ok(crate::Value::Bool(true))
        );
        assert!(run(Builtin::Bool, vec![V::Int(2)]).is_err());
        assert_eq!(
            run(Builtin::String, vec![V::Duration(90_000_000_000)]),
            Ok(crate::Value::String("1m30s".into()))
        );
        assert_eq!(
            run(
                Builtin::Duration,
                vec![V::Int(5), V::Duration(1_000_000_000)]
            ),
            Ok(crate::Value::Duration(crate::Duration(5_000_000_000)))
        );
    }

    #[test]
    fn math_wants_floats() {
        assert_eq!(
            run(Builtin::Abs, vec![V::Float(-2.0)]),
            Ok(crate::Value::Float(2.0))
        );
        let err = run(Builtin::Sqrt, vec![V::Int(4)]).unwrap_err();
        assert!(err.to_string().contains("float()"), "{err}");
        assert_eq!(
            run(Builtin::Logb, vec![V::Float(8.0)]),
            Ok(crate::Value::Float(3.0))
        );
        assert_eq!(
            run(Builtin::Pow10, vec![V::Int(2)]),
            Ok(crate::Value::Float(100.0))
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            run(
                Builtin::StrSubstring,
                vec![V::Str("abcdef".into()), V::Int(1), V::Int(3)]
            ),
            Ok(crate::Value::String("bc".into()))
        );
        assert!(
            run(
                Builtin::StrSubstring,
                vec![V::Str("abc".into()), V::Int(0), V::Int(3)]
            )
            .is_err()
        );
        assert_eq!(
            run(
                Builtin::StrIndex,
                vec![V::Str("abc".into()), V::Str("z".into())]
            ),
            Ok(crate::Value::Int(-1))
        );
        assert_eq!(
            run(
                Builtin::StrReplace,
                vec![
                    V::Str("aaa".into()),
                    V::Str("a".into()),
                    V::Str("b".into()),
                    V::Int(2)
                ]
            ),
            Ok(crate::Value::String("bba".into()))
        );
        assert_eq!(
            run(
                Builtin::StrTrim,
                vec![V::Str("xxhixx".into()), V::Str("x".into())]
            ),
            Ok(crate::Value::String("hi".into()))
        );
        let regex = regex::Regex::new("(a+)").unwrap();
        assert_eq!(
            run(
                Builtin::RegexReplace,
                vec![
                    V::Regex(Cow::Owned(regex)),
                    V::Str("baab".into()),
                    V::Str("<$1>".into())
                ]
            ),
            Ok(crate::Value::String("b<aa>b".into()))
        );
    }

    #[test]
    fn if_needs_matching_branches() {
        assert_eq!(
            run(Builtin::If, vec![V::Bool(false), V::Int(1), V::Int(2)]),
            Ok(crate::Value::Int(2))
        );
        assert!(run(Builtin::If, vec![V::Bool(true), V::Int(1), V::Float(2.0)]).is_err());
    }

    #[test]
    fn stateful_functions_keep_state() {
        let mut slot = StateSlot::Empty;
        for expected in 1..=3 {
            let value = call_stateful(Builtin::Count, &[], &mut slot).map(V::into_value);
            assert_eq!(value, Ok(crate::Value::Int(expected)));
        }
        let mut slot = StateSlot::Empty;
        let mut last = crate::Value::Missing;
        for x in [1.0, 5.0, 3.0] {
            last = call_stateful(Builtin::Spread, &[V::Float(x)], &mut slot)
                .map(V::into_value)
                .unwrap();
        }
        assert_eq!(last, crate::Value::Float(4.0));
        let mut slot = StateSlot::Empty;
        let first = call_stateful(Builtin::Sigma, &[V::Float(10.0)], &mut slot).map(V::into_value);
        assert_eq!(first, Ok(crate::Value::Float(0.0)));
        let second = call_stateful(Builtin::Sigma, &[V::Float(20.0)], &mut slot)
            .map(V::into_value)
            .unwrap();
        // mean 15, sample stddev 7.07..., |20 - 15| / 7.07 = 0.707...
        let crate::Value::Float(sigma) = second else {
            panic!("not a float")
        };
        assert!(
            (sigma - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9,
            "{sigma}"
        );
    }
}
