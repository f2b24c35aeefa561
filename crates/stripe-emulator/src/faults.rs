//! Injected faults, to show what a Stripe client does when Stripe misbehaves:
//! a configurable share of `/v1` requests is answered 500 or 429 before
//! anything is done, or is done and then answered too late (a client
//! timeout) or not at all (the connection dropped mid-answer). The last two
//! are the ones only idempotency keys survive: the object exists, the client
//! does not know it.
//!
//! Which request gets which fault comes from a generator seeded by
//! [`Faults::seed`], so the same sequence of requests meets the same faults.
//! Set at start ([`crate::EmulatorConfig::faults`], `STRIPE_EMULATOR_FAULTS`
//! for the binary) or at run time with `POST /_emulator/faults`;
//! `GET /_emulator/faults` reports the settings and what was injected.

use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

/// How often each fault happens; shares are of all `/v1` requests, 0 to 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Share answered `500 api_error` without doing anything.
    pub server_error: f64,
    /// Share answered `429 rate_limit` without doing anything.
    pub rate_limited: f64,
    /// Share done, then answered only after [`Faults::timeout_delay`].
    pub timeout: f64,
    /// Share done, then the connection closed before the answer's body.
    pub dropped: f64,
    /// How long a "timeout" holds its answer (longer than the client waits).
    pub timeout_delay: Duration,
    /// Seed of the generator that picks the faulty requests.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            server_error: 0.0,
            rate_limited: 0.0,
            timeout: 0.0,
            dropped: 0.0,
            timeout_delay: Duration::from_secs(90),
            seed: 0,
        }
    }
}

impl Faults {
    /// Parses `server_error=0.05,rate_limited=0.05,timeout=0.02,dropped=0.02,
    /// timeout_delay_ms=2000,seed=7` (any subset; commas or `&` between).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut faults = Faults::default();
        for pair in spec
            .split([',', '&'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not name=value"))?;
            faults.set(name.trim(), value.trim())?;
        }
        Ok(faults)
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let share = || -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|share| (0.0..=1.0).contains(share))
                .ok_or_else(|| format!("{name} must be a share from 0 to 1, got `{value}`"))
        };
        let number = || -> Result<u64, String> {
            value
                .parse::<u64>()
                .map_err(|_| format!("{name} must be a whole number, got `{value}`"))
        };
        match name {
            "server_error" => self.server_error = share()?,
            "rate_limited" => self.rate_limited = share()?,
            "timeout" => self.timeout = share()?,
            "dropped" => self.dropped = share()?,
            "timeout_delay_ms" => self.timeout_delay = Duration::from_millis(number()?),
            "seed" => self.seed = number()?,
            other => return Err(format!("unknown fault setting `{other}`")),
        }
        let total = self.server_error + self.rate_limited + self.timeout + self.dropped;
        if total > 1.0 {
            return Err(format!("the fault shares add up to {total}, more than 1"));
        }
        Ok(())
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `500` before anything is done.
    ServerError,
    /// `429` before anything is done.
    RateLimited,
    /// Done; the answer is held back this long.
    Timeout(Duration),
    /// Done; the connection is closed instead of the answer.
    Dropped,
}

/// The faults in force, their generator and what they did so far.
pub struct FaultInjector {
    inner: Mutex<Injector>,
}

struct Injector {
    faults: Faults,
    rng: StdRng,
    requests: u64,
    injected: [u64; 4],
}

impl FaultInjector {
    /// An injector with `faults` in force.
    pub fn new(faults: Faults) -> Self {
        FaultInjector {
            inner: Mutex::new(Injector {
                rng: StdRng::seed_from_u64(faults.seed),
                faults,
                requests: 0,
                injected: [0; 4],
            }),
        }
    }

    /// The fault for the next `/v1` request, if any.
    pub fn next(&self) -> Option<Fault> {
        let mut inner = self.inner.lock();
        inner.requests += 1;
        let f = inner.faults.clone();
        if f.server_error + f.rate_limited + f.timeout + f.dropped == 0.0 {
            return None;
        }
        let roll: f64 = inner.rng.random();
        let (index, fault) = if roll < f.server_error {
            (0, Fault::ServerError)
        } else if roll < f.server_error + f.rate_limited {
            (1, Fault::RateLimited)
        } else if roll < f.server_error + f.rate_limited + f.timeout {
            (2, Fault::Timeout(f.timeout_delay))
        } else if roll < f.server_error + f.rate_limited + f.timeout + f.dropped {
            (3, Fault::Dropped)
        } else {
            return None;
        };
        inner.injected[index] += 1;
        Some(fault)
    }

    /// Replaces the faults in force from `POST /_emulator/faults` parameters
    /// (unnamed settings go back to none) and restarts the generator and the
    /// counts.
    pub fn configure(&self, fields: &Map<String, Value>) -> Result<Value, String> {
        let mut faults = Faults::default();
        for (name, value) in fields {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            faults.set(name, &value)?;
        }
        *self.inner.lock() = Injector {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
            requests: 0,
            injected: [0; 4],
        };
        Ok(self.report())
    }

    /// `GET /_emulator/faults`: the settings and the counts since they were set.
    pub fn report(&self) -> Value {
        let inner = self.inner.lock();
        let f = &inner.faults;
        json!({
            "object": "emulator.faults",
            "server_error": f.server_error,
            "rate_limited": f.rate_limited,
            "timeout": f.timeout,
            "dropped": f.dropped,
            "timeout_delay_ms": f.timeout_delay.as_millis() as u64,
            "seed": f.seed,
            "requests": inner.requests,
            "injected": {
                "server_error": inner.injected[0],
                "rate_limited": inner.injected[1],
                "timeout": inner.injected[2],
                "dropped": inner.injected[3],
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_parses_and_bad_ones_say_why() {
        let faults =
            Faults::parse("server_error=0.1, rate_limited=0.2,seed=7,timeout_delay_ms=250")
                .unwrap();
        assert_eq!(faults.server_error, 0.1);
        assert_eq!(faults.rate_limited, 0.2);
        assert_eq!(faults.seed, 7);
        assert_eq!(faults.timeout_delay, Duration::from_millis(250));
        assert!(
            Faults::parse("timeout=2")
                .unwrap_err()
                .contains("from 0 to 1")
        );
        assert!(Faults::parse("teapot=0.1").unwrap_err().contains("unknown"));
        assert!(
            Faults::parse("dropped=0.6,timeout=0.6")
                .unwrap_err()
                .contains("more than 1")
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_in_about_the_asked_shares() {
        let spec = "server_error=0.1,rate_limited=0.1,timeout=0.1,dropped=0.1,seed=42";
        let run = || {
            let injector = FaultInjector::new(Faults::parse(spec).unwrap());
            (0..2_000).map(|_| injector.next()).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let faulty = first.iter().filter(|fault| fault.is_some()).count();
        assert!((600..1_000).contains(&faulty), "{faulty} of 2,000");
        let quiet = FaultInjector::new(Faults::default());
        assert!((0..100).all(|_| quiet.next().is_none()));
    }
}
