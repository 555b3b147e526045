//! `join(other...)`: joins the messages of several parents that share a rounded time, per
//! group, with Kapacitor's emission rules (reference §2.3.4): sets at the oldest pending
//! time are emitted once every parent has moved past it (incomplete ones dropped or
//! filled), complete ones as soon as they are complete; the rest is flushed on stop.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::{JoinFill, JoinSpec};

use crate::message::{Batch, GroupInfo, Message, TaskPoint};
use crate::nodes::from::round_time;
use crate::nodes::{Context, Node};
use crate::point::{FieldValue, Fields, Point};

struct JoinSet {
    time: i64,
    members: Vec<Option<Message>>,
}

impl JoinSet {
    fn is_complete(&self) -> bool {
        self.members.iter().all(Option::is_some)
    }
}

#[derive(Default)]
struct JoinGroup {
    sets: BTreeMap<i64, Vec<JoinSet>>,
    heads: Vec<Option<i64>>,
    oldest: Option<i64>,
}

/// Runtime state of `join()`.
pub struct Join {
    prefixes: Vec<String>,
    delimiter: String,
    tolerance: i64,
    fill: JoinFill,
    stream_name: Option<crate::point::Name>,
    groups: HashMap<String, JoinGroup>,
    group_order: Vec<String>,
    on: Option<OnMatcher>,
}

/// `.on(dims...)`: pairs points of parents grouped by more dimensions ("specific") with
/// points of parents grouped by just the `on` dimensions ("match" points), per rounded time.
struct OnMatcher {
    dimensions: Vec<String>,
    reported: Vec<bool>,
    low_marks: HashMap<(usize, String), i64>,
    matches: HashMap<String, Vec<(usize, Message)>>,
    specifics: HashMap<String, Vec<(usize, Message)>>,
}

impl OnMatcher {
    fn key(&self, message: &Message) -> String {
        let group = message.group();
        let tags = self
            .dimensions
            .iter()
            .map(|dim| {
                (
                    dim.clone(),
                    group.tags.get(dim).cloned().unwrap_or_default(),
                )
            })
            .collect();
        GroupInfo::new(tags, group.measurement.clone()).id.clone()
    }

    fn all_reported(&self) -> bool {
        self.reported.iter().all(|reported| *reported)
    }
}

/// The matched message as the specific one's partner: it takes the specific group.
fn adopt_group(matched: &Message, specific: &Message) -> Message {
    let group = specific.group().clone();
    match matched.clone() {
        Message::Point(mut point) => {
            point.point.tags = group.tags.clone();
            Message::Point(TaskPoint {
                point: point.point,
                group,
            })
        }
        Message::Batch(batch) => Message::Batch(Batch { group, ..batch }),
    }
}

impl Join {
    /// Build from the spec; `as()` needs one name per parent.
    pub fn new(spec: &JoinSpec, n_parents: usize) -> Result<Join, String> {
        if spec.as_.len() != n_parents {
            return Err(format!(
                "join has {n_parents} parents but {} names in as()",
                spec.as_.len()
            ));
        }
        Ok(Join {
            prefixes: spec.as_.clone(),
            delimiter: spec.delimiter.clone(),
            tolerance: spec.tolerance.nanos(),
            fill: spec.fill.clone(),
            stream_name: spec.stream_name.as_deref().map(Into::into),
            groups: HashMap::default(),
            group_order: Vec::new(),
            on: (!spec.on.is_empty()).then(|| OnMatcher {
                dimensions: spec.on.clone(),
                reported: vec![false; n_parents],
                low_marks: HashMap::default(),
                matches: HashMap::default(),
                specifics: HashMap::default(),
            }),
        })
    }

    fn prefixed(&self, member: usize, field: &str) -> crate::point::Name {
        compact_str::format_compact!("{}{}{}", self.prefixes[member], self.delimiter, field)
    }

    /// Joined fields of one row; `None` when an absent member cannot be filled.
    fn join_fields(&self, members: &[Option<&Fields>]) -> Option<Fields> {
        let first = members.iter().flatten().next()?;
        let mut fields = crate::vec_map::VecMap::new();
        for (idx, member) in members.iter().enumerate() {
            match (member, &self.fill) {
                (Some(member_fields), _) => {
                    for (key, value) in member_fields.iter() {
                        fields.insert(self.prefixed(idx, key), value.clone());
                    }
                }
                (None, JoinFill::None) => return None,
                // Kapacitor's `nil`, named after the first present member's fields.
                (None, JoinFill::Null) => {
                    for key in first.keys() {
                        fields.insert(self.prefixed(idx, key), FieldValue::Null);
                    }
                }
                (None, JoinFill::Number(number)) => {
                    for key in first.keys() {
                        fields.insert(self.prefixed(idx, key), FieldValue::Float(*number));
                    }
                }
            }
        }
        Some(Fields::from(fields))
    }

    fn emit_set(&self, set: JoinSet, ctx: &mut Context<'_>) {
        let Some(first) = set.members.iter().flatten().next() else {
            return;
        };
        let name = self
            .stream_name
            .clone()
            .unwrap_or_else(|| first.name().into());
        let group = first.group().clone();
        match first {
            Message::Point(_) => {
                let fields: Vec<Option<&Fields>> = set
                    .members
                    .iter()
                    .map(|member| match member {
                        Some(Message::Point(point)) => Some(&point.point.fields),
                        _ => None,
                    })
                    .collect();
                let Some(fields) = self.join_fields(&fields) else {
                    return;
                };
                let point = Point {
                    name,
                    tags: group.tags.clone(),
                    fields,
                    time: set.time,
                };
                ctx.emit(Message::Point(TaskPoint { point, group }));
            }
            Message::Batch(_) => {
                let mut by_time: BTreeMap<i64, Vec<Option<&Point>>> = BTreeMap::new();
                for (idx, member) in set.members.iter().enumerate() {
                    let Some(Message::Batch(batch)) = member else {
                        continue;
                    };
                    for point in &batch.points {
                        let slot = by_time
                            .entry(round_time(point.time, self.tolerance))
                            .or_insert_with(|| vec![None; set.members.len()]);
                        if slot[idx].is_none() {
                            slot[idx] = Some(point);
                        }
                    }
                }
                let points = by_time
                    .into_iter()
                    .filter_map(|(time, row)| {
                        let fields: Vec<Option<&Fields>> =
                            row.iter().map(|point| point.map(|p| &p.fields)).collect();
                        let fields = self.join_fields(&fields)?;
                        Some(Point {
                            name: name.clone(),
                            tags: group.tags.clone(),
                            fields,
                            time,
                        })
                    })
                    .collect();
                ctx.emit(Message::Batch(Batch {
                    name,
                    group,
                    tmax: set.time,
                    points,
                }));
            }
        }
    }

    /// Emit the sets at the oldest time (only complete ones when `only_ready`). After a
    /// forced emission the next oldest time is tried again, so sets whose parents have all
    /// moved on leave at once instead of waiting for the next message.
    fn emit_oldest(&self, group: &mut JoinGroup, mut only_ready: bool, ctx: &mut Context<'_>) {
        loop {
            if let Some(oldest) = group.oldest {
                if let Some(sets) = group.sets.remove(&oldest) {
                    let mut sets = sets.into_iter();
                    let mut kept = Vec::new();
                    for set in sets.by_ref() {
                        if only_ready && !set.is_complete() {
                            kept.push(set);
                            break;
                        }
                        self.emit_set(set, ctx);
                    }
                    kept.extend(sets);
                    if !kept.is_empty() {
                        group.sets.insert(oldest, kept);
                    }
                }
            }
            group.oldest = group.sets.keys().next().copied();
            if only_ready || group.sets.is_empty() {
                return;
            }
            only_ready = group.only_ready();
        }
    }
}

impl Join {
    fn emit_forced(&self, group: &mut JoinGroup, ctx: &mut Context<'_>) {
        if let Some(oldest) = group.oldest {
            for set in group.sets.remove(&oldest).unwrap_or_default() {
                self.emit_set(set, ctx);
            }
        }
        group.oldest = group.sets.keys().next().copied();
    }
}

impl JoinGroup {
    /// Whether some parent has not moved past the oldest pending time.
    fn only_ready(&self) -> bool {
        let Some(oldest) = self.oldest else {
            return true;
        };
        self.heads
            .iter()
            .any(|head| head.is_none_or(|head| head <= oldest))
    }
}

impl Join {
    /// Put a message into its group's join sets and emit what is due.
    fn collect(&mut self, port: usize, message: Message, ctx: &mut Context<'_>) {
        let n_members = self.prefixes.len();
        let time = round_time(message.time(), self.tolerance);
        let group_id = message.group().id.clone();
        let mut group = match self.groups.remove(&group_id) {
            Some(group) => group,
            None => {
                self.group_order.push(group_id.clone());
                JoinGroup {
                    heads: vec![None; n_members],
                    ..JoinGroup::default()
                }
            }
        };
        if group.oldest.is_none_or(|oldest| time < oldest) {
            group.oldest = Some(time);
        }
        let sets = group.sets.entry(time).or_default();
        let slot = match sets.iter_mut().position(|set| set.members[port].is_none()) {
            Some(idx) => idx,
            None => {
                sets.push(JoinSet {
                    time,
                    members: (0..n_members).map(|_| None).collect(),
                });
                sets.len() - 1
            }
        };
        sets[slot].members[port] = Some(message);
        group.heads[port] = Some(time);
        let only_ready = group.only_ready();
        self.emit_oldest(&mut group, only_ready, ctx);
        self.groups.insert(group_id, group);
    }

    /// Kapacitor's matching of specific and match points for `.on()`.
    fn match_on(
        &mut self,
        on: &mut OnMatcher,
        port: usize,
        message: Message,
        ctx: &mut Context<'_>,
    ) {
        on.reported[port] = true;
        let all_reported = on.all_reported();
        let time = round_time(message.time(), self.tolerance);
        let key = on.key(&message);
        on.low_marks.insert((port, key.clone()), time);
        let low_mark = if all_reported {
            (0..on.reported.len())
                .map(|src| {
                    on.low_marks
                        .get(&(src, key.clone()))
                        .copied()
                        .unwrap_or(i64::MIN)
                })
                .min()
                .unwrap_or(i64::MIN)
        } else {
            i64::MIN
        };
        let tolerance = self.tolerance;
        let rounded = |message: &Message| round_time(message.time(), tolerance);
        if all_reported {
            let buffered = on.specifics.entry(key.clone()).or_default();
            let n_old = buffered
                .iter()
                .take_while(|(_, m)| rounded(m) < low_mark)
                .count();
            let alone: Vec<(usize, Message)> = buffered.drain(..n_old).collect();
            for (src, specific) in alone {
                self.collect(src, specific, ctx);
            }
        }
        if message.group().tags.len() > on.dimensions.len() {
            let matches = on.matches.entry(key.clone()).or_default();
            let mut partners = Vec::new();
            let mut idx = 0;
            while idx < matches.len() {
                let match_time = rounded(&matches[idx].1);
                if match_time == time {
                    partners.push((matches[idx].0, adopt_group(&matches[idx].1, &message)));
                }
                if match_time >= low_mark {
                    break;
                }
                idx += 1;
            }
            if all_reported {
                matches.drain(..idx);
            }
            if partners.is_empty() {
                if all_reported && time < low_mark {
                    self.collect(port, message, ctx);
                } else {
                    on.specifics.entry(key).or_default().push((port, message));
                }
            } else {
                for (src, partner) in partners {
                    self.collect(port, message.clone(), ctx);
                    self.collect(src, partner, ctx);
                }
            }
        } else {
            let buffered = on.specifics.entry(key.clone()).or_default();
            let n_same = buffered
                .iter()
                .take_while(|(_, m)| rounded(m) == time)
                .count();
            let specifics: Vec<(usize, Message)> = buffered.drain(..n_same).collect();
            for (src, specific) in specifics {
                let partner = adopt_group(&message, &specific);
                self.collect(src, specific, ctx);
                self.collect(port, partner, ctx);
            }
            on.matches.entry(key).or_default().push((port, message));
        }
    }
}

impl Node for Join {
    fn process(&mut self, port: usize, message: Message, ctx: &mut Context<'_>) {
        if port >= self.prefixes.len() {
            ctx.error(format!("join: message from unknown parent {port}"));
            return;
        }
        match self.on.take() {
            Some(mut on) => {
                self.match_on(&mut on, port, message, ctx);
                self.on = Some(on);
            }
            None => self.collect(port, message, ctx),
        }
    }

    fn stop(&mut self, ctx: &mut Context<'_>) {
        for group_id in std::mem::take(&mut self.group_order) {
            let Some(mut group) = self.groups.remove(&group_id) else {
                continue;
            };
            while !group.sets.is_empty() {
                group.oldest = group.sets.keys().next().copied();
                // Emit everything, oldest first, whatever the parents' heads say.
                self.emit_forced(&mut group, ctx);
            }
        }
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::Duration;

    const S: i64 = 1_000_000_000;

    fn spec(fill: JoinFill) -> JoinSpec {
        JoinSpec {
            as_: vec!["r".into(), "e".into()],
            on: vec![],
            tolerance: Duration(5 * S),
            fill,
            stream_name: Some("joined".into()),
            delimiter: ".".into(),
        }
    }

    fn times(out: &[Message]) -> Vec<i64> {
        out.iter().map(|m| m.time() / S).collect()
    }

    #[test]
    fn inner_join_follows_kapacitor_emission() {
        let mut node = Join::new(&spec(JoinFill::None), 2).unwrap();
        let a = group(&[("host", "a")]);
        let inputs = vec![
            (0, value_point(10, 100.0, &a)),
            (1, value_point(9, 5.0, &a)),
            (1, value_point(12, 7.0, &a)),
            (0, value_point(20, 200.0, &a)),
            (1, value_point(22, 10.0, &a)),
            (0, value_point(30, 300.0, &a)),
            (1, value_point(33, 30.0, &a)),
            (0, value_point(40, 400.0, &a)),
            (1, value_point(38, 1.0, &a)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), false);
        assert_eq!(
            times(&out),
            vec![10, 20, 40],
            "40s leaves once both parents passed 35s"
        );
        assert_eq!(float(&out[0], "r.value"), 100.0);
        assert_eq!(float(&out[0], "e.value"), 5.0);
        let Message::Point(point) = &out[0] else {
            panic!()
        };
        assert_eq!(point.point.name, "joined");
        assert_eq!(point.point.tags.len(), 1, "group tags only");
        let inputs = vec![
            (0, value_point(50, 500.0, &a)),
            (0, value_point(60, 600.0, &a)),
        ];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), true);
        assert!(out.is_empty(), "incomplete sets are dropped, also on stop");
    }

    #[test]
    fn fill_numbers_for_absent_members() {
        let mut node = Join::new(&spec(JoinFill::Number(0.0)), 2).unwrap();
        let a = group(&[]);
        let inputs = vec![(0, value_point(10, 1.0, &a)), (0, value_point(20, 2.0, &a))];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), true);
        assert_eq!(times(&out), vec![10, 20]);
        assert_eq!(float(&out[0], "e.value"), 0.0);
        assert!(Join::new(&spec(JoinFill::None), 3).is_err());
    }

    #[test]
    fn fill_null_names_the_absent_members_fields_after_the_present_one() {
        let mut node = Join::new(&spec(JoinFill::Null), 2).unwrap();
        let a = group(&[]);
        // Only the second parent (e) delivers: the first parent's (r) fields are null.
        let inputs = vec![(1, value_point(10, 1.0, &a)), (1, value_point(20, 2.0, &a))];
        let (out, _) = run(&mut node, inputs, &Recorder::default(), true);
        assert_eq!(times(&out), vec![10, 20]);
        let Message::Point(point) = &out[0] else {
            panic!("expected a point")
        };
        let fields: Vec<(&str, &FieldValue)> = point
            .point
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("e.value", &FieldValue::Float(1.0)),
                ("r.value", &FieldValue::Null)
            ]
        );
        let row = crate::json::point_row(&point.point);
        assert!(row.to_string().contains("null"), "{row}");
    }
}
