//! What `stateCount()` and `stateDuration()` share: per group, a predicate evaluated on each
//! point and a measure of how long it has held, added to the point as a field (`.as`).
//!
//! As in Kapacitor: a point whose predicate fails to evaluate is dropped and counted as an
//! error (the measure keeps its value), a false predicate adds the measure's "not in the
//! state" value (-1) and starts the measure over, and on batch edges the measure restarts
//! with every batch. The two nodes differ only in their [`Measure`].

use weir_dsl::{Lambda, LambdaState};

use crate::message::{Message, PointScope};
use crate::nodes::{Context, GroupStates, LastSeen, Node};
use crate::point::{FieldValue, Point};

/// How a state-tracking node measures a state.
pub trait Measure: Send + 'static {
    /// The node's name in error messages (`stateCount`).
    const NODE: &'static str;
    /// One group's running measure; its default is "not in the state".
    type State: Default + Send + 'static;

    /// The value for a point at `time` while the predicate holds, advancing `state`.
    fn in_state(&self, state: &mut Self::State, time: i64) -> FieldValue;

    /// The value for a point where the predicate is false.
    fn not_in_state(&self) -> FieldValue;
}

/// One group's state: the lambda's own state and the running measure.
struct GroupState<S> {
    lambda: LambdaState,
    measure: S,
    /// When the group was last seen (the task's clock).
    last_seen: i64,
}

impl<S: Default> Default for GroupState<S> {
    fn default() -> Self {
        GroupState {
            lambda: LambdaState::default(),
            measure: S::default(),
            last_seen: 0,
        }
    }
}

impl<S> LastSeen for GroupState<S> {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

/// Runtime state of a state-tracking node.
pub struct StateTracker<M: Measure> {
    predicate: Lambda,
    as_: crate::point::Name,
    measure: M,
    groups: GroupStates<GroupState<M::State>>,
}

impl<M: Measure> StateTracker<M> {
    /// A node adding `measure` as the field `as_` while `predicate` holds.
    pub(crate) fn with(
        predicate: &Lambda,
        as_: &str,
        group_ttl: Option<weir_dsl::Duration>,
        measure: M,
    ) -> Self {
        StateTracker {
            predicate: predicate.clone(),
            as_: as_.into(),
            measure,
            groups: GroupStates::new(group_ttl),
        }
    }

    /// Evaluate the predicate on `point` and add the measure; false when it failed.
    fn track(
        &self,
        state: &mut GroupState<M::State>,
        point: &mut Point,
        ctx: &mut Context<'_>,
    ) -> bool {
        match self
            .predicate
            .eval_bool(&PointScope::new(point), &mut state.lambda)
        {
            Ok(in_state) => {
                let value = if in_state {
                    self.measure.in_state(&mut state.measure, point.time)
                } else {
                    state.measure = M::State::default();
                    self.measure.not_in_state()
                };
                point.fields.insert(self.as_.clone(), value);
                true
            }
            Err(error) => {
                ctx.error(format!("{}: {error}", M::NODE));
                false
            }
        }
    }
}

impl<M: Measure> Node for StateTracker<M> {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let group_id = message.group().id.clone();
        let mut state = self.groups.remove(&group_id).unwrap_or_default();
        state.last_seen = ctx.now();
        match message {
            Message::Point(mut task_point) => {
                if self.track(&mut state, &mut task_point.point, ctx) {
                    ctx.emit(Message::Point(task_point));
                }
            }
            Message::Batch(mut batch) => {
                state.measure = M::State::default();
                batch
                    .points
                    .retain_mut(|point| self.track(&mut state, point, ctx));
                ctx.emit(Message::Batch(batch));
            }
        }
        self.groups.insert(group_id, state);
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        self.groups.expire(ctx.now());
    }

    fn barrier(&mut self, barrier: &crate::message::Barrier, _ctx: &mut Context<'_>) -> bool {
        self.groups.on_barrier(barrier);
        true
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }
}
