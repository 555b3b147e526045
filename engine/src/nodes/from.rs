//! `from()`: selects points by database, retention policy, measurement and predicate,
//! rounds or truncates their times and sets their group.

use weir_dsl::nodes::{FromSpec, GroupDimensions};
use weir_dsl::{Lambda, LambdaState};

use crate::message::{GroupInterner, Message, PointScope, TaskPoint};
use crate::nodes::{Context, Node, NodeError};
use crate::point::Point;

/// Runtime state of `from()`.
pub struct From {
    database: Option<String>,
    retention_policy: Option<String>,
    measurement: Option<String>,
    predicate: Option<Lambda>,
    predicate_state: LambdaState,
    dimensions: GroupDimensions,
    truncate: i64,
    round: i64,
    groups: GroupInterner,
}

impl From {
    /// Build from the spec.
    pub fn new(spec: &FromSpec) -> From {
        let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        From {
            database: non_empty(&spec.database),
            retention_policy: non_empty(&spec.retention_policy),
            measurement: non_empty(&spec.measurement),
            predicate: spec.where_.clone(),
            predicate_state: LambdaState::default(),
            dimensions: spec.group_by.clone(),
            truncate: spec.truncate.map(|d| d.nanos()).unwrap_or(0),
            round: spec.round.map(|d| d.nanos()).unwrap_or(0),
            groups: GroupInterner::default(),
        }
    }

    /// Whether points written to `database`.`retention_policy` are for this node.
    pub fn reads(&self, database: &str, retention_policy: &str) -> bool {
        self.database
            .as_deref()
            .is_none_or(|wanted| wanted == database)
            && self
                .retention_policy
                .as_deref()
                .is_none_or(|wanted| wanted == retention_policy)
    }

    /// Whether a point (of a database it [`From::reads`]) is selected by its measurement and
    /// predicate; a failing predicate is an error.
    pub fn matches(&mut self, point: &Point) -> Result<bool, NodeError> {
        if self
            .measurement
            .as_deref()
            .is_some_and(|wanted| wanted != point.name)
        {
            return Ok(false);
        }
        match &self.predicate {
            None => Ok(true),
            Some(predicate) => predicate
                .eval_bool(&PointScope::new(point), &mut self.predicate_state)
                .map_err(|error| NodeError(format!("where: {error}"))),
        }
    }

    /// Adjust the time of a selected point and give it its group.
    pub fn admit(&mut self, mut point: Point) -> Message {
        if self.truncate > 0 {
            point.time -= point.time.rem_euclid(self.truncate);
        } else if self.round > 0 {
            point.time = round_time(point.time, self.round);
        }
        let group = self.groups.intern(&point, &self.dimensions);
        Message::Point(TaskPoint { point, group })
    }
}

/// Go's `Time.Round`: to the nearest multiple, halves away from zero.
pub fn round_time(time: i64, step: i64) -> i64 {
    if step <= 0 {
        return time;
    }
    let remainder = time.rem_euclid(step);
    let down = time - remainder;
    if remainder + remainder < step {
        down
    } else {
        down.saturating_add(step)
    }
}

impl Node for From {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        match message {
            Message::Point(task_point) => match self.matches(&task_point.point) {
                Ok(true) => {
                    let admitted = self.admit(task_point.point);
                    ctx.emit(admitted);
                }
                Ok(false) => {}
                Err(error) => ctx.error(error),
            },
            Message::Batch(_) => ctx.error("from() cannot take batches"),
        }
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_dsl::Duration;

    #[test]
    fn filters_rounds_and_groups() {
        let spec = FromSpec {
            database: Some("db".into()),
            measurement: Some("cpu".into()),
            group_by: GroupDimensions {
                tags: vec!["host".into()],
                ..Default::default()
            },
            round: Some(Duration(10)),
            ..Default::default()
        };
        let mut from = From::new(&spec);
        let mut tags = crate::point::Tags::new();
        tags.insert("host".into(), "a".into());
        let point = Point::gauge("cpu", tags, 1.0, 15);
        assert!(from.reads("db", "rp") && from.matches(&point).unwrap());
        assert!(!from.reads("other", "rp"));
        assert!(
            !from
                .matches(&Point::gauge("mem", Default::default(), 1.0, 1))
                .unwrap()
        );
        let Message::Point(admitted) = from.admit(point) else {
            panic!()
        };
        assert_eq!(admitted.point.time, 20);
        assert_eq!(admitted.group.id, "host=a");
    }

    #[test]
    fn rounds_like_go() {
        assert_eq!(round_time(12, 5), 10);
        assert_eq!(round_time(13, 5), 15);
        assert_eq!(round_time(9, 5), 10);
        assert_eq!(round_time(7, 0), 7);
    }
}
