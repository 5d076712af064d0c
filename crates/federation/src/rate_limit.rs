//! Token buckets keyed by a string (a client address, a remote host): each
//! key may spend `burst` requests at once, refilled evenly over `period`.
//! Kept in memory: a restart forgets them, which errs on the side of serving.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

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
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Keys are forgotten once this many are held and their buckets are full.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spend one request of `key`; when none is left, how long until one is.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.limit.is_off() {
            return Ok(());
        }
        let capacity = f64::from(self.limit.per_period);
        let per_second = capacity / self.limit.period.as_secs_f64();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let refilled = now.duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refilled).min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(Duration::from_secs_f64(wait.max(0.0)))
        }
    }
}

/// Whole seconds for a `Retry-After` header, never 0.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_spends_its_burst_then_waits_for_a_refill() {
        let limiter = RateLimiter::new(RateLimit::per_minute(3));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at("10.0.0.1", start), Ok(()));
        }
        let wait = limiter.check_at("10.0.0.1", start).expect_err("limited");
        assert_eq!(retry_after_secs(wait), 20);
        assert_eq!(limiter.check_at("10.0.0.2", start), Ok(()), "keys are separate");
        assert_eq!(
            limiter.check_at("10.0.0.1", start + Duration::from_secs(20)),
            Ok(())
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = RateLimiter::new(RateLimit::per_minute(0));
        for _ in 0..1000 {
            assert_eq!(limiter.check("anyone"), Ok(()));
        }
    }
}
