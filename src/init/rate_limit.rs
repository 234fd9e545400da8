//! The rate limit of the export WARN lines: counts accumulate on every
//! failure or drop, and a line (with the counts since the previous line) is
//! due at the first problem and then at most once per interval.
//!
//! Never blocks: counts are atomics, the next line's time is claimed with a
//! compare-and-swap (one thread wins a due line), and the last error is kept
//! only when its lock is free. The clock is injectable, so tests step time
//! instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The shortest time between two WARN lines of one signal.
pub(crate) const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// Time since a fixed origin; monotonic.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> Duration;
}

/// The process's monotonic clock.
struct Monotonic(Instant);

impl Clock for Monotonic {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// What one line reports: the problems since the previous line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Exports (batches, metric requests) that failed.
    pub(crate) failed_exports: u64,
    /// Spans in those batches.
    pub(crate) failed_spans: u64,
    /// Spans dropped from a full queue.
    pub(crate) dropped_spans: u64,
    /// The last failure's error, as given (the caller scrubs it).
    pub(crate) last_error: Option<String>,
}

/// Counts problems and says when a line is due. See the [module docs](self).
pub(crate) struct WarnLimiter {
    interval: Duration,
    clock: Arc<dyn Clock>,
    failed_exports: AtomicU64,
    failed_spans: AtomicU64,
    dropped_spans: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// When the next line may be logged, in ms since the clock's origin.
    next_line_ms: AtomicU64,
}

impl fmt::Debug for WarnLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WarnLimiter")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Default for WarnLimiter {
    fn default() -> Self {
        Self::new(WARN_INTERVAL, Arc::new(Monotonic(Instant::now())))
    }
}

impl WarnLimiter {
    /// At most one line per `interval` of `clock`.
    pub(crate) fn new(interval: Duration, clock: Arc<dyn Clock>) -> Self {
        WarnLimiter {
            interval,
            clock,
            failed_exports: AtomicU64::new(0),
            failed_spans: AtomicU64::new(0),
            dropped_spans: AtomicU64::new(0),
            last_error: Mutex::new(None),
            next_line_ms: AtomicU64::new(0),
        }
    }

    /// Adds `problem` to the counts; returns the counts to log (and starts
    /// over) when a line is due, `None` otherwise or when nothing is wrong.
    pub(crate) fn note(&self, problem: Counts) -> Option<Counts> {
        let Counts {
            failed_exports,
            failed_spans,
            dropped_spans,
            last_error,
        } = problem;
        self.failed_exports
            .fetch_add(failed_exports, Ordering::Relaxed);
        self.failed_spans.fetch_add(failed_spans, Ordering::Relaxed);
        self.dropped_spans
            .fetch_add(dropped_spans, Ordering::Relaxed);
        if let (Some(e), Ok(mut last)) = (last_error, self.last_error.try_lock()) {
            *last = Some(e);
        }
        if self.failed_exports.load(Ordering::Relaxed) == 0
            && self.dropped_spans.load(Ordering::Relaxed) == 0
        {
            return None;
        }
        let now = millis(self.clock.now());
        let due = self.next_line_ms.load(Ordering::Acquire);
        if now < due {
            return None;
        }
        let next = now.saturating_add(millis(self.interval));
        // One thread wins a due line; the others' counts go into the next.
        self.next_line_ms
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(Counts {
            failed_exports: self.failed_exports.swap(0, Ordering::Relaxed),
            failed_spans: self.failed_spans.swap(0, Ordering::Relaxed),
            dropped_spans: self.dropped_spans.swap(0, Ordering::Relaxed),
            last_error: self.last_error.try_lock().ok().and_then(|mut l| l.take()),
        })
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock the test moves by hand.
    #[derive(Default)]
    struct Manual(Mutex<Duration>);

    impl Manual {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for Manual {
        fn now(&self) -> Duration {
            *self.0.lock().unwrap()
        }
    }

    fn failure(spans: u64, error: &str) -> Counts {
        Counts {
            failed_exports: 1,
            failed_spans: spans,
            last_error: Some(error.to_owned()),
            ..Counts::default()
        }
    }

    fn drops(n: u64) -> Counts {
        Counts {
            dropped_spans: n,
            ..Counts::default()
        }
    }

    #[test]
    fn the_first_problem_is_reported_then_at_most_one_line_per_minute_with_counts() {
        let clock = Arc::new(Manual::default());
        let limiter = WarnLimiter::new(WARN_INTERVAL, clock.clone());

        assert_eq!(
            limiter.note(failure(10, "refused")),
            Some(failure(10, "refused"))
        );
        // A minute of failures and drops, one every second: no line.
        for _ in 0..59 {
            clock.advance(Duration::from_secs(1));
            assert_eq!(limiter.note(failure(2, "timed out")), None);
            assert_eq!(limiter.note(drops(3)), None);
        }
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            limiter.note(failure(5, "HTTP 503")),
            Some(Counts {
                failed_exports: 60,
                failed_spans: 59 * 2 + 5,
                dropped_spans: 59 * 3,
                last_error: Some("HTTP 503".into()),
            }),
            "everything since the previous line, once"
        );
        assert_eq!(limiter.note(drops(1)), None, "the next minute starts now");
    }

    #[test]
    fn nothing_wrong_is_no_line_and_a_quiet_spell_does_not_delay_the_next() {
        let clock = Arc::new(Manual::default());
        let limiter = WarnLimiter::new(WARN_INTERVAL, clock.clone());
        assert_eq!(limiter.note(Counts::default()), None);
        assert_eq!(limiter.note(drops(4)), Some(drops(4)));
        clock.advance(Duration::from_secs(3600));
        assert_eq!(limiter.note(Counts::default()), None);
        assert_eq!(limiter.note(drops(1)), Some(drops(1)));
    }
}
