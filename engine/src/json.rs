//! Kapacitor's JSON result shapes (`models.Row`, `{"series":[...]}`) and Go's RFC 3339 times.

use serde_json::{Map, Value as Json};

use crate::message::{Batch, Message};
use crate::point::{FieldValue, Point, Tags};

/// Format nanoseconds since the epoch like Go's `time.RFC3339Nano` in UTC.
pub fn format_time(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Format like Go's `time.Time.String()` in UTC: `2021-01-01 00:00:02 +0000 UTC`.
pub fn format_go_time(nanos: i64) -> String {
    let rfc = format_time(nanos);
    let without_zone = rfc.trim_end_matches('Z').replacen('T', " ", 1);
    format!("{without_zone} +0000 UTC")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A field value as JSON (non-finite floats become `null`, as Go cannot encode them).
pub fn field_json(value: &FieldValue) -> Json {
    match value {
        FieldValue::Float(value) => serde_json::Number::from_f64(*value)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        FieldValue::Int(value) => Json::from(*value),
        FieldValue::String(value) => Json::from(value.as_str()),
        FieldValue::Bool(value) => Json::Bool(*value),
        FieldValue::Null => Json::Null,
    }
}

/// JSON numbers as Go's encoder writes them: a float with an integral value (`75.0`) as an
/// integer (`75`), as Kapacitor's alert events carry them to handlers.
pub fn go_numbers(value: Json) -> Json {
    match value {
        Json::Number(number) if number.is_f64() => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Json::from(float as i64),
            _ => Json::Number(number),
        },
        Json::Array(items) => Json::Array(items.into_iter().map(go_numbers).collect()),
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(key, value)| (key, go_numbers(value)))
                .collect(),
        ),
        other => other,
    }
}

fn tags_json(tags: &Tags) -> Json {
    Json::Object(
        tags.iter()
            .map(|(k, v)| (k.clone(), Json::from(v.as_str())))
            .collect(),
    )
}

fn row(name: &str, tags: &Tags, columns: Option<Vec<String>>, values: Vec<Json>) -> Json {
    let mut out = Map::new();
    out.insert("name".to_owned(), Json::from(name));
    if !tags.is_empty() {
        out.insert("tags".to_owned(), tags_json(tags));
    }
    if let Some(columns) = columns {
        out.insert(
            "columns".to_owned(),
            columns.into_iter().map(Json::from).collect(),
        );
        out.insert("values".to_owned(), Json::Array(values));
    }
    Json::Object(out)
}

/// `models.PointToRow`: all the point's tags; columns `time` + sorted fields.
pub fn point_row(point: &Point) -> Json {
    let mut columns = Vec::with_capacity(point.fields.len() + 1);
    columns.push("time".to_owned());
    let mut values = Vec::with_capacity(point.fields.len() + 1);
    values.push(Json::from(format_time(point.time)));
    for (key, value) in &point.fields {
        columns.push(key.to_string());
        values.push(field_json(value));
    }
    row(
        &point.name,
        &point.tags,
        Some(columns),
        vec![Json::Array(values)],
    )
}

/// `models.BatchToRow`: group tags; columns `time` + the sorted fields and non-group tags of
/// the first point.
pub fn batch_row(batch: &Batch) -> Json {
    let Some(first) = batch.points.first() else {
        return row(&batch.name, &batch.group.tags, None, Vec::new());
    };
    let mut columns: Vec<String> = first.fields.keys().map(|key| key.to_string()).collect();
    columns.extend(
        first
            .tags
            .keys()
            .filter(|key| !batch.group.tags.contains_key(*key))
            .cloned(),
    );
    columns.sort();
    columns.dedup();
    let values = batch
        .points
        .iter()
        .map(|point| {
            let mut values = Vec::with_capacity(columns.len() + 1);
            values.push(Json::from(format_time(point.time)));
            for column in &columns {
                let value = match point.fields.get(column.as_str()) {
                    Some(value) => field_json(value),
                    None => point
                        .tags
                        .get(column)
                        .map(|t| Json::from(t.as_str()))
                        .unwrap_or_default(),
                };
                values.push(value);
            }
            Json::Array(values)
        })
        .collect();
    columns.insert(0, "time".to_owned());
    row(&batch.name, &batch.group.tags, Some(columns), values)
}

/// The row of a point or batch message.
pub fn message_row(message: &Message) -> Json {
    match message {
        Message::Point(point) => point_row(&point.point),
        Message::Batch(batch) => batch_row(batch),
    }
}

/// `{"series":[rows...]}`.
pub fn series(rows: Vec<Json>) -> Json {
    let mut out = Map::new();
    out.insert("series".to_owned(), Json::Array(rows));
    Json::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::GroupInfo;

    #[test]
    fn times_format_like_go() {
        assert_eq!(
            format_time(1_609_459_200_000_000_000),
            "2021-01-01T00:00:00Z"
        );
        assert_eq!(
            format_time(1_609_459_200_500_000_000),
            "2021-01-01T00:00:00.5Z"
        );
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(-1_000_000_000), "1969-12-31T23:59:59Z");
        assert_eq!(
            format_go_time(1_609_459_202_000_000_000),
            "2021-01-01 00:00:02 +0000 UTC"
        );
    }

    #[test]
    fn batch_rows_put_non_group_tags_in_columns() {
        let mut tags = Tags::new();
        tags.insert("room".into(), "k".into());
        let batch = Batch {
            name: "temp".into(),
            group: GroupInfo::nil(),
            tmax: 10,
            points: vec![Point::gauge("temp", tags, 2.0, 1_000_000_000)],
        };
        let json = batch_row(&batch).to_string();
        assert_eq!(
            json,
            r#"{"columns":["time","room","value"],"name":"temp","values":[["1970-01-01T00:00:01Z","k",2.0]]}"#
        );
        let empty = Batch {
            points: Vec::new(),
            ..batch
        };
        assert_eq!(batch_row(&empty).to_string(), r#"{"name":"temp"}"#);
    }
}
