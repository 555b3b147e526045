//! `window()`: buffers each group's points and emits batches on time or count boundaries,
//! with Kapacitor's exact boundary rules (reference §2.3.1).

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;

use weir_dsl::nodes::WindowSpec;

use crate::message::{Barrier, Batch, Group, Message, TaskPoint};
use crate::nodes::{Context, Node};
use crate::point::Point;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Time {
        period: i64,
        every: i64,
        align: bool,
        fill_period: bool,
    },
    Count {
        period: usize,
        every: usize,
        fill_period: bool,
    },
}

struct GroupWindow {
    name: crate::point::Name,
    group: Group,
    buffer: VecDeque<Point>,
    next_emit: i64,
    seen: usize,
    /// Clock time of the group's latest point (for `flushIdle` and `groupTTL`).
    last_seen: i64,
    /// The open window was flushed for idleness and no point arrived since.
    flushed: bool,
}

/// Runtime state of `window()`.
pub struct Window {
    mode: Mode,
    groups: HashMap<String, GroupWindow>,
    flush_idle: Option<i64>,
    group_ttl: Option<i64>,
}

fn truncate(time: i64, step: i64) -> i64 {
    if step <= 0 {
        time
    } else {
        time - time.rem_euclid(step)
    }
}

impl Window {
    /// Build from the spec; a window needs a period or a period count.
    pub fn new(spec: &WindowSpec) -> Result<Window, String> {
        let mode = match (spec.period, spec.period_count) {
            (Some(period), _) if period.nanos() > 0 => {
                // Kapacitor's default for a missing `every` is 0: every point emits.
                let every = spec.every.map(|every| every.nanos()).unwrap_or(0);
                if every < 0 {
                    return Err("window every must not be negative".to_owned());
                }
                Mode::Time {
                    period: period.nanos(),
                    every,
                    align: spec.align,
                    fill_period: spec.fill_period,
                }
            }
            (_, Some(count)) if count > 0 => {
                let every = spec.every_count.unwrap_or(count);
                if every <= 0 {
                    return Err("window everyCount must be positive".to_owned());
                }
                Mode::Count {
                    period: usize::try_from(count).unwrap_or(usize::MAX),
                    every: usize::try_from(every).unwrap_or(usize::MAX),
                    fill_period: spec.fill_period,
                }
            }
            _ => return Err("window needs a positive period or periodCount".to_owned()),
        };
        let positive = |duration: Option<weir_dsl::Duration>| {
            duration
                .map(|duration| duration.nanos())
                .filter(|nanos| *nanos > 0)
        };
        Ok(Window {
            mode,
            groups: HashMap::default(),
            flush_idle: positive(spec.flush_idle),
            group_ttl: positive(spec.group_ttl),
        })
    }

    fn initial_emit(&self, t0: i64) -> i64 {
        match self.mode {
            Mode::Time {
                period,
                every,
                align,
                fill_period,
            } => {
                if fill_period {
                    let boundary = t0.saturating_add(period);
                    if align && every > 0 {
                        let aligned = truncate(boundary, every);
                        if aligned < boundary {
                            aligned.saturating_add(every)
                        } else {
                            aligned
                        }
                    } else {
                        boundary
                    }
                } else if align && every > 0 {
                    truncate(t0.saturating_add(every), every)
                } else {
                    t0.saturating_add(every)
                }
            }
            Mode::Count {
                period,
                every,
                fill_period,
            } => (if fill_period { period } else { every }) as i64,
        }
    }
}

impl Node for Window {
    fn process(&mut self, _port: usize, message: Message, ctx: &mut Context<'_>) {
        let TaskPoint { point, group } = match message {
            Message::Point(task_point) => task_point,
            Message::Batch(_) => {
                ctx.error("window() needs a stream, got a batch");
                return;
            }
        };
        if let Some(state) = self.groups.get_mut(group.id.as_str()) {
            state.last_seen = ctx.now();
            step(self.mode, state, point, ctx);
            return;
        }
        let mut state = GroupWindow {
            name: point.name.clone(),
            group: group.clone(),
            buffer: VecDeque::new(),
            next_emit: self.initial_emit(point.time),
            seen: 0,
            last_seen: ctx.now(),
            flushed: false,
        };
        step(self.mode, &mut state, point, ctx);
        self.groups.insert(group.id.clone(), state);
    }

    fn tick(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        if let Some(ttl) = self.group_ttl {
            self.groups
                .retain(|_, state| now.saturating_sub(state.last_seen) < ttl);
        }
        let (Some(idle), Mode::Time { period, every, .. }) = (self.flush_idle, self.mode) else {
            return;
        };
        if every == 0 {
            return;
        }
        let mut idle_groups: Vec<&mut GroupWindow> = self
            .groups
            .values_mut()
            .filter(|state| {
                !state.flushed
                    && !state.buffer.is_empty()
                    && now.saturating_sub(state.last_seen) >= idle
            })
            .collect();
        // Emit in a stable order (group ids) so runs are reproducible.
        idle_groups.sort_by(|a, b| a.group.id.cmp(&b.group.id));
        for state in idle_groups {
            let start = state.next_emit.saturating_sub(period);
            while state.buffer.front().is_some_and(|p| p.time < start) {
                state.buffer.pop_front();
            }
            let points: Vec<Point> = if period <= every {
                state.buffer.drain(..).collect()
            } else {
                state.buffer.iter().cloned().collect()
            };
            state.flushed = true;
            ctx.emit(Message::Batch(Batch {
                name: state.name.clone(),
                group: state.group.clone(),
                tmax: state.next_emit,
                points,
            }));
        }
    }

    fn barrier(&mut self, barrier: &Barrier, ctx: &mut Context<'_>) -> bool {
        if let (
            Some(state),
            Mode::Time {
                period,
                every,
                align,
                ..
            },
        ) = (self.groups.get_mut(barrier.group.id.as_str()), self.mode)
        {
            at_barrier(state, barrier.time, period, every, align, ctx);
        }
        if barrier.delete {
            self.groups.remove(barrier.group.id.as_str());
        }
        true
    }

    fn cardinality(&self) -> usize {
        self.groups.len()
    }

    fn retained_since(&self) -> Option<i64> {
        // Buffers are not always in time order (late points): look at every point.
        self.groups
            .values()
            .flat_map(|window| window.buffer.iter().map(|point| point.time))
            .min()
    }
}

/// Kapacitor's `windowByTime.Barrier`: emit the window that is due at the barrier's time,
/// as a point at that time would, without adding a point.
fn at_barrier(
    state: &mut GroupWindow,
    time: i64,
    period: i64,
    every: i64,
    align: bool,
    ctx: &mut Context<'_>,
) {
    if time < state.next_emit {
        return;
    }
    if every == 0 {
        // Right-closed window (time - period, time].
        while state
            .buffer
            .front()
            .is_some_and(|p| p.time <= time.saturating_sub(period))
        {
            state.buffer.pop_front();
        }
        ctx.emit(Message::Batch(Batch {
            name: state.name.clone(),
            group: state.group.clone(),
            tmax: time,
            points: state.buffer.iter().cloned().collect(),
        }));
        state.next_emit = time;
        return;
    }
    let start = state.next_emit.saturating_sub(period);
    while state.buffer.front().is_some_and(|p| p.time < start) {
        state.buffer.pop_front();
    }
    if !std::mem::take(&mut state.flushed) {
        ctx.emit(Message::Batch(Batch {
            name: state.name.clone(),
            group: state.group.clone(),
            tmax: state.next_emit,
            points: state.buffer.iter().cloned().collect(),
        }));
    }
    state.next_emit = if align {
        truncate(time.saturating_add(every), every)
    } else {
        time.saturating_add(every)
    };
}

/// Add `point` to its group's window and emit what is due.
fn step(mode: Mode, state: &mut GroupWindow, point: Point, ctx: &mut Context<'_>) {
    match mode {
        Mode::Time {
            period, every: 0, ..
        } => {
            let time = point.time;
            state.buffer.push_back(point);
            while state
                .buffer
                .front()
                .is_some_and(|p| p.time <= time.saturating_sub(period))
            {
                state.buffer.pop_front();
            }
            ctx.emit(Message::Batch(Batch {
                name: state.name.clone(),
                group: state.group.clone(),
                tmax: time,
                points: state.buffer.iter().cloned().collect(),
            }));
        }
        Mode::Time {
            period,
            every,
            align,
            ..
        } => {
            if point.time >= state.next_emit && std::mem::take(&mut state.flushed) {
                // The window was already emitted by an idle flush: only move on.
                let start = point.time.saturating_add(every).saturating_sub(period);
                while state.buffer.front().is_some_and(|p| p.time < start) {
                    state.buffer.pop_front();
                }
                state.next_emit = if align {
                    truncate(point.time.saturating_add(every), every)
                } else {
                    point.time.saturating_add(every)
                };
            } else if point.time >= state.next_emit {
                let start = state.next_emit.saturating_sub(period);
                while state.buffer.front().is_some_and(|p| p.time < start) {
                    state.buffer.pop_front();
                }
                let next_emit = if align {
                    truncate(point.time.saturating_add(every), every)
                } else {
                    point.time.saturating_add(every)
                };
                let points: Vec<Point> = if next_emit.saturating_sub(period) >= state.next_emit {
                    // The next window starts after this one: hand the buffer over.
                    state.buffer.drain(..).collect()
                } else {
                    state.buffer.iter().cloned().collect()
                };
                ctx.emit(Message::Batch(Batch {
                    name: state.name.clone(),
                    group: state.group.clone(),
                    tmax: state.next_emit,
                    points,
                }));
                state.next_emit = next_emit;
            }
            state.flushed = false;
            state.buffer.push_back(point);
        }
        Mode::Count { period, every, .. } => {
            let time = point.time;
            state.buffer.push_back(point);
            if state.buffer.len() > period {
                state.buffer.pop_front();
            }
            state.seen += 1;
            if state.seen as i64 >= state.next_emit {
                state.next_emit = state.next_emit.saturating_add(every as i64);
                ctx.emit(Message::Batch(Batch {
                    name: state.name.clone(),
                    group: state.group.clone(),
                    tmax: time,
                    points: state.buffer.iter().cloned().collect(),
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodes::test_support::*;
    use weir_dsl::Duration;

    const S: i64 = 1_000_000_000;

    fn windows(spec: WindowSpec, times: &[i64]) -> Vec<(i64, Vec<i64>)> {
        let mut node = Window::new(&spec).unwrap();
        let recorder = Recorder::default();
        let nil = group(&[]);
        let inputs = times
            .iter()
            .map(|t| (0, value_point(*t, 1.0, &nil)))
            .collect();
        let (out, errors) = run(&mut node, inputs, &recorder, true);
        assert_eq!(errors, 0);
        out.into_iter()
            .map(|message| match message {
                Message::Batch(batch) => (
                    batch.tmax / S,
                    batch.points.iter().map(|p| p.time / S).collect(),
                ),
                Message::Point(_) => panic!("window emits batches"),
            })
            .collect()
    }

    fn time_spec(period: i64, every: i64) -> WindowSpec {
        WindowSpec {
            period: Some(Duration(period * S)),
            every: Some(Duration(every * S)),
            ..Default::default()
        }
    }

    #[test]
    fn window_missing_recomputes_boundaries_from_the_trigger() {
        let got = windows(time_spec(3, 2), &[0, 7, 8, 9, 10, 11]);
        assert_eq!(
            got,
            vec![(2, vec![0]), (9, vec![7, 8]), (11, vec![8, 9, 10])]
        );
    }

    #[test]
    fn aligned_windows() {
        let spec = WindowSpec {
            align: true,
            ..time_spec(3, 2)
        };
        let got = windows(spec, &[0, 7, 8, 9, 10, 11]);
        assert_eq!(got, vec![(2, vec![0]), (8, vec![7]), (10, vec![7, 8, 9])]);
    }

    #[test]
    fn every_zero_emits_each_point() {
        let got = windows(time_spec(3, 0), &[0, 1, 2, 5]);
        assert_eq!(
            got,
            vec![
                (0, vec![0]),
                (1, vec![0, 1]),
                (2, vec![0, 1, 2]),
                (5, vec![5])
            ]
        );
    }

    #[test]
    fn fill_period_waits_for_a_full_window() {
        let spec = WindowSpec {
            fill_period: true,
            ..time_spec(14, 10)
        };
        let times: Vec<i64> = (0..=15).collect();
        let got = windows(spec, &times);
        assert_eq!(got[0].0, 14);
        assert_eq!(got[0].1.len(), 14);
        let overlapping = windows(time_spec(14, 10), &times);
        assert_eq!(overlapping[0], (10, (0..10).collect()));
    }

    #[test]
    fn idle_windows_flush_and_idle_groups_expire() {
        let spec = WindowSpec {
            flush_idle: Some(Duration(5 * S)),
            group_ttl: Some(Duration(60 * S)),
            ..time_spec(10, 10)
        };
        let mut node = Window::new(&spec).unwrap();
        let recorder = Recorder::default();
        let g = group(&[]);
        let stats = crate::stats::NodeStats::default();
        let mut error_log = crate::nodes::ErrorLog::default();
        let mut out = Vec::new();
        let mut ctx = Context {
            out: &mut out,
            outputs: &recorder,
            task: "test",
            node: "window1",
            stats: &stats,
            error_log: &mut error_log,
            now: 0,
        };
        for t in [0, 1, 2] {
            ctx.now = t * S;
            node.process(0, value_point(t, 1.0, &g), &mut ctx);
        }
        ctx.now = 6 * S;
        node.tick(&mut ctx);
        assert!(ctx.out.is_empty(), "not idle for 5s yet");
        ctx.now = 7 * S;
        node.tick(&mut ctx);
        node.tick(&mut ctx);
        assert_eq!(ctx.out.len(), 1, "flushed once");
        assert_eq!(ctx.out[0].time(), 10 * S);
        // The boundary point does not re-emit the flushed window.
        ctx.now = 12 * S;
        node.process(0, value_point(12, 1.0, &g), &mut ctx);
        assert_eq!(ctx.out.len(), 1);
        ctx.now = 23 * S;
        node.process(0, value_point(23, 1.0, &g), &mut ctx);
        assert_eq!(ctx.out.len(), 2);
        let Message::Batch(batch) = &ctx.out[1] else {
            panic!()
        };
        assert_eq!((batch.tmax, batch.points.len()), (22 * S, 1));
        assert_eq!(node.cardinality(), 1);
        ctx.now = 100 * S;
        node.tick(&mut ctx);
        assert_eq!(node.cardinality(), 0, "forgotten after groupTTL");
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let g = group(&[]);
        for spec in [
            time_spec(3, 2),
            time_spec(3, 0),
            WindowSpec {
                align: true,
                fill_period: true,
                ..time_spec(3, 2)
            },
        ] {
            let mut node = Window::new(&spec).unwrap();
            let mut inputs = Vec::new();
            for time in [i64::MIN + 1, -1, i64::MAX - 1, i64::MAX] {
                let Message::Point(mut point) = value_point(0, 1.0, &g) else {
                    panic!()
                };
                point.point.time = time;
                inputs.push((0, Message::Point(point)));
            }
            let (out, _) = run(&mut node, inputs, &Recorder::default(), true);
            assert!(!out.is_empty());
        }
    }

    #[test]
    fn count_windows() {
        let spec = WindowSpec {
            period_count: Some(3),
            every_count: Some(2),
            ..Default::default()
        };
        let got = windows(spec, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(
            got,
            vec![(2, vec![1, 2]), (4, vec![2, 3, 4]), (6, vec![4, 5, 6])]
        );
        assert!(Window::new(&WindowSpec::default()).is_err());
    }
}
