//! When things become true in the simulated Ordoro, when that is not "at once": how long an
//! order's new version waits before `GET /v3/order` shows it (the list's index lag), and when a
//! create the client gave up on is applied after all (a late create). Both are drawn from one
//! seeded generator, apart from the fault dice, so turning them on leaves the fault sequence
//! of a seed unchanged, and the same seed gives the same lags.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// The seeded draws of list lags and late creates.
#[derive(Debug)]
pub(crate) struct Timing {
    rng: SmallRng,
    list_lag: Duration,
    late_create: f64,
    late_create_delay: Duration,
}

impl Timing {
    pub(crate) fn new(
        seed: u64,
        list_lag: Duration,
        late_create: f64,
        late_create_delay: Duration,
    ) -> Self {
        Timing { rng: SmallRng::seed_from_u64(seed), list_lag, late_create, late_create_delay }
    }

    /// True when the list lags (a new version is not listed at once).
    pub(crate) fn lags(&self) -> bool {
        !self.list_lag.is_zero()
    }

    /// When a version written at `now` becomes visible to the list: `now` plus a delay drawn
    /// uniformly in `0..=list_lag`.
    pub(crate) fn visible_at(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let max = self.list_lag;
        later(now, self.uniform(max))
    }

    /// Whether a create that timed out is applied anyway, and when: `gave_up` (its arrival plus
    /// the timeout) plus a delay drawn uniformly in `0..=late_create_delay`.
    pub(crate) fn late_create_at(&mut self, gave_up: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.late_create <= 0.0 || !self.rng.random_bool(self.late_create.min(1.0)) {
            return None;
        }
        let max = self.late_create_delay;
        Some(later(gave_up, self.uniform(max)))
    }

    /// A duration drawn uniformly in `0..=max`, to the millisecond.
    fn uniform(&mut self, max: Duration) -> chrono::Duration {
        let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        let drawn = if millis == 0 { 0 } else { self.rng.random_range(0..=millis) };
        let drawn = i64::try_from(drawn).unwrap_or(i64::MAX);
        chrono::Duration::try_milliseconds(drawn).unwrap_or(chrono::Duration::MAX)
    }
}

/// `at + by`, or the end of time when that overflows (a config may say "never").
pub(crate) fn later(at: DateTime<Utc>, by: chrono::Duration) -> DateTime<Utc> {
    at.checked_add_signed(by).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A create the client gave up on, waiting to be applied at `due`.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    pub(crate) due: DateTime<Utc>,
    pub(crate) body: Map<String, Value>,
}

/// The deferred creates, applied in the order they fall due (ties in the order they arrived).
#[derive(Debug, Default)]
pub(crate) struct DeferredCreates {
    queue: Vec<Deferred>,
}

impl DeferredCreates {
    pub(crate) fn push(&mut self, deferred: Deferred) {
        // Stable: an equal `due` goes after the ones already queued.
        let at = self.queue.partition_point(|d| d.due <= deferred.due);
        self.queue.insert(at, deferred);
    }

    /// Removes and returns the creates due at `now`, earliest first.
    pub(crate) fn take_due(&mut self, now: DateTime<Utc>) -> Vec<Deferred> {
        let due = self.queue.partition_point(|d| d.due <= now);
        self.queue.drain(..due).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn next_due(&self) -> Option<DateTime<Utc>> {
        self.queue.first().map(|d| d.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn lags_are_seeded_and_within_bounds() {
        let lag = Duration::from_secs(30);
        let now = at("2026-03-02T15:00:00Z");
        let draw = |seed| {
            let mut t = Timing::new(seed, lag, 0.0, Duration::ZERO);
            (0..50).map(|_| t.visible_at(now)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7), "same seed, same lags");
        assert_ne!(draw(7), draw(8), "another seed, other lags");
        let lags = draw(7);
        assert!(lags.iter().all(|v| *v >= now && *v <= now + chrono::Duration::seconds(30)));
        assert!(lags.iter().any(|v| *v > now), "some lag is drawn");
    }

    #[test]
    fn no_lag_is_visible_at_once() {
        let mut t = Timing::new(1, Duration::ZERO, 0.0, Duration::ZERO);
        let now = at("2026-03-02T15:00:00Z");
        assert!(!t.lags());
        assert_eq!(t.visible_at(now), now);
    }

    #[test]
    fn late_creates_follow_their_probability_and_delay() {
        let gave_up = at("2026-03-02T15:00:30Z");
        let mut never = Timing::new(1, Duration::ZERO, 0.0, Duration::from_secs(9));
        assert!((0..100).all(|_| never.late_create_at(gave_up).is_none()));
        let mut always = Timing::new(1, Duration::ZERO, 1.0, Duration::from_secs(9));
        let dues: Vec<_> = (0..100).map(|_| always.late_create_at(gave_up).unwrap()).collect();
        let latest = gave_up + chrono::Duration::seconds(9);
        assert!(dues.iter().all(|d| *d >= gave_up && *d <= latest));
        let mut half = Timing::new(3, Duration::ZERO, 0.5, Duration::ZERO);
        let applied = (0..1000).filter(|_| half.late_create_at(gave_up).is_some()).count();
        assert!((400..600).contains(&applied), "{applied} of 1000");
    }

    #[test]
    fn deferred_creates_fall_due_in_order() {
        let mut q = DeferredCreates::default();
        let body = |id: &str| {
            let mut m = Map::new();
            m.insert("order_id".into(), Value::from(id));
            m
        };
        q.push(Deferred { due: at("2026-03-02T15:00:09Z"), body: body("b") });
        q.push(Deferred { due: at("2026-03-02T15:00:05Z"), body: body("a") });
        q.push(Deferred { due: at("2026-03-02T15:00:09Z"), body: body("c") });
        assert_eq!(q.next_due(), Some(at("2026-03-02T15:00:05Z")));
        assert!(q.take_due(at("2026-03-02T15:00:04Z")).is_empty());
        let due = q.take_due(at("2026-03-02T15:00:09Z"));
        let ids: Vec<_> = due.iter().map(|d| d.body["order_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(q.len(), 0);
    }
}
