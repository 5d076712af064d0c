//! Rate limits keyed by a string (a client address, a remote host): each key
//! may spend `per_period` requests at once, refilled evenly over `period`.
//! `governor`'s keyed GCRA limiter does the counting (a token bucket of
//! `per_period` cells, one cell back every `period / per_period`). Kept in
//! memory: a restart forgets them, which errs on the side of serving.

use governor::{
    Quota,
    clock::{Clock, DefaultClock},
    middleware::NoOpMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use std::{num::NonZeroU32, time::Duration};

/// How many requests a key may make per period; `per_period == 0` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_period: u32,
    pub period: Duration,
}

impl RateLimit {
    pub const fn per_minute(per_period: u32) -> RateLimit {
        RateLimit {
            per_period,
            period: Duration::from_secs(60),
        }
    }

    pub fn is_off(&self) -> bool {
        self.per_period == 0 || self.period.is_zero()
    }

    /// The same limit as a `governor` quota; `None` when it is off.
    fn quota(&self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.per_period)?;
        Quota::with_period(self.period / burst.get()).map(|quota| quota.allow_burst(burst))
    }
}

/// Keys are forgotten once this many are held and their buckets are full.
const MAX_KEYS: usize = 100_000;

type Keyed<C> =
    governor::RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The clock is a parameter for the tests, which move a fake one.
pub struct RateLimiter<C: Clock + Clone = DefaultClock> {
    /// `None`: no limit.
    limiter: Option<Keyed<C>>,
    clock: C,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("keys", &self.limiter.as_ref().map_or(0, |l| l.len()))
            .finish()
    }
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter::with_clock(limit, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    fn with_clock(limit: RateLimit, clock: C) -> RateLimiter<C> {
        let limiter = limit
            .quota()
            .map(|quota| governor::RateLimiter::new(quota, DefaultKeyedStateStore::default(), clock.clone()));
        RateLimiter { limiter, clock }
    }

    /// Spend one request of `key`; when none is left, how long until one is.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() >= MAX_KEYS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Whole seconds for a `Retry-After` header, never 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_key_spends_its_burst_then_waits_for_a_refill() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::with_clock(RateLimit::per_minute(3), clock.clone());
        for _ in 0..3 {
            assert_eq!(limiter.check("10.0.0.1"), Ok(()));
        }
        let wait = limiter.check("10.0.0.1").expect_err("limited");
        assert_eq!(retry_after_secs(wait), 20);
        assert_eq!(limiter.check("10.0.0.2"), Ok(()), "keys are separate");
        clock.advance(Duration::from_secs(20));
        assert_eq!(limiter.check("10.0.0.1"), Ok(()));
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(RateLimit::per_minute(0));
        for _ in 0..1000 {
            assert_eq!(limiter.check("anyone"), Ok(()));
        }
    }
}
