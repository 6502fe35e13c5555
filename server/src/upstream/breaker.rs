//! A small circuit breaker: after `threshold` consecutive failed requests it
//! opens and refuses calls for `cooldown`; then it lets one probe through
//! (half-open). A successful probe closes it, a failed one opens it again.
//! It recovers by itself: no one has to reset it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use scoreboard_core::api::BreakerState;

#[derive(Debug)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is in flight; everyone else waits for its verdict. A probe
    /// whose verdict never comes (its task was dropped) is replaced after a
    /// cool-down, so the breaker cannot stay stuck here.
    HalfOpen {
        since: Instant,
    },
}

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

/// The breaker refused a call; it will let one through after `retry_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_in: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to make a call now.
    pub fn acquire(&self) -> Result<(), Refused> {
        let mut s = self.lock();
        match *s {
            Inner::Closed { .. } => Ok(()),
            Inner::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *s = Inner::HalfOpen { since: now };
                    Ok(())
                } else {
                    Err(Refused {
                        retry_in: until - now,
                    })
                }
            }
            Inner::HalfOpen { since } => {
                let now = Instant::now();
                if now.duration_since(since) >= self.cooldown {
                    *s = Inner::HalfOpen { since: now };
                    Ok(())
                } else {
                    Err(Refused {
                        retry_in: self.cooldown - now.duration_since(since),
                    })
                }
            }
        }
    }

    pub fn on_success(&self) {
        *self.lock() = Inner::Closed { failures: 0 };
    }

    /// A failure that says the upstream is unwell (timeout, 5xx, 429, connection).
    pub fn on_failure(&self) {
        let mut s = self.lock();
        let next = match *s {
            Inner::Closed { failures } if failures + 1 < self.threshold => Inner::Closed {
                failures: failures + 1,
            },
            Inner::Open { until } => Inner::Open { until },
            _ => Inner::Open {
                until: Instant::now() + self.cooldown,
            },
        };
        *s = next;
    }

    /// A call that got an answer which says nothing about the upstream's
    /// health (a 4xx): a half-open probe ends, counting as alive.
    pub fn on_neutral(&self) {
        let mut s = self.lock();
        if matches!(*s, Inner::HalfOpen { .. }) {
            *s = Inner::Closed { failures: 0 };
        }
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_half_opens_after_cooldown() {
        let b = Breaker::new(2, Duration::from_millis(30));
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.acquire().is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.acquire().is_ok(), "one probe after the cool-down");
        assert!(b.acquire().is_err(), "only one probe at a time");
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.acquire().is_ok());
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.acquire().is_ok());
    }
}
