//! Failed-login throttling per peer IP address.
//!
//! Each failed login from an address delays its error response (doubling
//! from `base_delay` up to `max_delay`), and after `max_failures` failures
//! the address is locked out for `lockout`: logins are refused before any
//! password exchange, even with the right password. The state is per
//! address, never per user name, so it says nothing about which users exist;
//! unknown users and wrong passwords count the same. A successful login
//! clears the address's record.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Throttling limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleOptions {
    /// Failed logins before the address is locked out (0 = never).
    pub max_failures: u32,
    /// How long a lockout lasts; failures older than this are forgotten.
    pub lockout: Duration,
    /// Delay of the first failure's error response; doubles per failure.
    pub base_delay: Duration,
    /// Upper bound of the delay.
    pub max_delay: Duration,
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            max_failures: 5,
            lockout: Duration::from_secs(300),
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Bound on remembered addresses, so a spray from many addresses cannot
/// grow memory without limit.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct LoginThrottle {
    options: ThrottleOptions,
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl LoginThrottle {
    pub fn new(options: ThrottleOptions) -> Self {
        Self { options, records: Mutex::default() }
    }

    /// `Err(remaining)` while `ip` is locked out.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut records = self.records.lock().expect("not poisoned");
        match records.get(&ip).and_then(|r| r.locked_until) {
            Some(until) if until > now => Err(until - now),
            Some(_) => {
                records.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records a failed login from `ip`; returns how long to delay the
    /// error response, and whether the address is now locked out.
    pub fn failure(&self, ip: IpAddr) -> (Duration, bool) {
        let now = Instant::now();
        let o = self.options;
        let mut records = self.records.lock().expect("not poisoned");
        if records.len() >= MAX_TRACKED {
            records.retain(|_, r| now.duration_since(r.last_failure) < o.lockout || r.locked_until.is_some_and(|u| u > now));
        }
        let record = records.entry(ip).or_insert(Record { failures: 0, last_failure: now, locked_until: None });
        if now.duration_since(record.last_failure) >= o.lockout {
            record.failures = 0;
        }
        record.failures += 1;
        record.last_failure = now;
        let locked = o.max_failures > 0 && record.failures >= o.max_failures;
        if locked {
            record.locked_until = Some(now + o.lockout);
        }
        let shift = (record.failures - 1).min(16);
        let delay = o.base_delay.saturating_mul(1 << shift).min(o.max_delay);
        (delay, locked)
    }

    /// A successful login clears the address's failures.
    pub fn success(&self, ip: IpAddr) {
        self.records.lock().expect("not poisoned").remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_lock_out() {
        let t = LoginThrottle::new(ThrottleOptions {
            max_failures: 3,
            lockout: Duration::from_secs(60),
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(t.failure(ip), (Duration::from_millis(100), false));
        assert_eq!(t.failure(ip), (Duration::from_millis(200), false));
        assert!(t.check(ip).is_ok());
        assert_eq!(t.failure(ip), (Duration::from_millis(300), true));
        assert!(t.check(ip).is_err());
        assert!(t.check(other).is_ok(), "other addresses are not affected");
        t.success(ip);
        assert!(t.check(ip).is_ok());
        assert_eq!(t.failure(ip), (Duration::from_millis(100), false), "success clears the record");
    }
}
