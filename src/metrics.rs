//! The status figures through the `metrics` facade (feature `metrics`).
//!
//! [`Pools::export_metrics`] reads [`Pools::status`] and sets, each with a
//! `pool` label (`primary` or `read_only`):
//!
//! | name | kind | what |
//! |---|---|---|
//! | `pg_entra_pool_connections` | gauge | connections open, idle or in use |
//! | `pg_entra_pool_connections_idle` | gauge | idle connections |
//! | `pg_entra_pool_connections_max` | gauge | the most the pool opens |
//! | `pg_entra_pool_waiting` | gauge | callers waiting for a connection |
//! | `pg_entra_pool_connections_opened_total` | counter | connections opened |
//! | `pg_entra_pool_connect_failures_total` | counter | connection attempts that failed |
//! | `pg_entra_pool_connections_retired_total` | counter | closed because their login token expired |
//! | `pg_entra_pool_connections_closed_idle_total` | counter | closed after `pg_keepalive_timeout` idle |
//! | `pg_entra_pool_login_retries_total` | counter | logins retried with a newer token |
//! | `pg_entra_pool_token_expires_in_seconds` | gauge | time left on the current token (negative once expired) |
//! | `pg_entra_pool_token_age_seconds` | gauge | time since the current token was installed |
//! | `pg_entra_pool_token_refresh_failures` | gauge | failed refreshes in a row |
//! | `pg_entra_pool_token_config_error` | gauge | 1 when the last refresh failed for a reason of configuration |
//! | `pg_entra_pool_token_requests_total` | counter | token requests, failed ones included |
//!
//! Token figures appear only with Entra authentication; pools that share
//! a token cache report the same figures under each label.

use std::time::SystemTime;

use metrics::{counter, gauge};

use crate::status::{FailureKind, PoolStatus};
use crate::{EntraPool, Pools, TokenStatus};

impl Pools {
    /// Sets the `pg_entra_pool_*` gauges and counters from
    /// [`status`](Self::status), through whatever recorder the service
    /// installed. Call it periodically, or just before each scrape; it
    /// takes no lock the pools use to hand out connections.
    ///
    /// ```no_run
    /// # async fn demo(pools: pg_entra_pool::Pools) {
    /// let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
    /// loop {
    ///     tick.tick().await;
    ///     pools.export_metrics();
    /// }
    /// # }
    /// ```
    pub fn export_metrics(&self) {
        export(self.primary());
        if self.has_read_only() {
            export(self.read_only());
        }
    }
}

fn export(pool: &EntraPool) {
    let token = pool.tokens.as_ref().map(|cache| cache.status());
    record(&pool.status(), token.as_ref(), SystemTime::now());
}

fn record(pool: &PoolStatus, token: Option<&TokenStatus>, now: SystemTime) {
    let label = [("pool", pool.name)];
    gauge!("pg_entra_pool_connections", &label).set(pool.size as f64);
    gauge!("pg_entra_pool_connections_idle", &label).set(pool.idle as f64);
    gauge!("pg_entra_pool_connections_max", &label).set(pool.max_size as f64);
    gauge!("pg_entra_pool_waiting", &label).set(pool.waiting as f64);
    counter!("pg_entra_pool_connections_opened_total", &label).absolute(pool.opened);
    counter!("pg_entra_pool_connect_failures_total", &label).absolute(pool.failed_connects);
    counter!("pg_entra_pool_connections_retired_total", &label).absolute(pool.retired_aged_out);
    counter!("pg_entra_pool_connections_closed_idle_total", &label).absolute(pool.closed_idle);
    counter!("pg_entra_pool_login_retries_total", &label).absolute(pool.login_retries);

    let Some(token) = token else {
        return;
    };
    let seconds_from = |earlier: SystemTime, later: SystemTime| match later.duration_since(earlier)
    {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    };
    gauge!("pg_entra_pool_token_expires_in_seconds", &label)
        .set(seconds_from(now, token.expires_on));
    gauge!("pg_entra_pool_token_age_seconds", &label).set(seconds_from(token.refreshed_at, now));
    gauge!("pg_entra_pool_token_refresh_failures", &label)
        .set(f64::from(token.consecutive_failures));
    let config = token.last_error_kind == Some(FailureKind::Config);
    gauge!("pg_entra_pool_token_config_error", &label).set(if config { 1.0 } else { 0.0 });
    counter!("pg_entra_pool_token_requests_total", &label).absolute(token.token_requests);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use metrics::{
        Counter, CounterFn, Gauge, GaugeFn, Histogram, Key, KeyName, Metadata, Recorder,
        SharedString, Unit,
    };

    use super::*;

    type Values = Arc<Mutex<BTreeMap<String, f64>>>;

    /// Keeps the last value of each metric, keyed `name{label=value}`.
    #[derive(Default)]
    struct Last(Values);

    struct Cell(String, Values);

    impl CounterFn for Cell {
        fn increment(&self, value: u64) {
            *self.1.lock().unwrap().entry(self.0.clone()).or_default() += value as f64;
        }
        fn absolute(&self, value: u64) {
            self.1.lock().unwrap().insert(self.0.clone(), value as f64);
        }
    }

    impl GaugeFn for Cell {
        fn increment(&self, value: f64) {
            *self.1.lock().unwrap().entry(self.0.clone()).or_default() += value;
        }
        fn decrement(&self, value: f64) {
            GaugeFn::increment(self, -value);
        }
        fn set(&self, value: f64) {
            self.1.lock().unwrap().insert(self.0.clone(), value);
        }
    }

    impl Last {
        fn cell(&self, key: &Key) -> Arc<Cell> {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Arc::new(Cell(name, self.0.clone()))
        }
    }

    impl Recorder for Last {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.cell(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.cell(key))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn figures_carry_the_pool_label_and_token_times() {
        let pool = PoolStatus {
            name: "read_only",
            size: 3,
            max_size: 8,
            idle: 2,
            waiting: 1,
            opened: 7,
            failed_connects: 2,
            retired_aged_out: 4,
            closed_idle: 0,
            login_retries: 1,
            last_error: None,
        };
        let now = SystemTime::now();
        let token = TokenStatus {
            credential: "managed identity (system-assigned)".into(),
            scope: "s".into(),
            expires_on: now + Duration::from_secs(300),
            fingerprint: "00000000".into(),
            refreshed_at: now - Duration::from_secs(60),
            tokens_installed: 2,
            token_requests: 5,
            consecutive_failures: 3,
            last_error: Some("identity not found".into()),
            last_error_kind: Some(FailureKind::Config),
        };
        let recorder = Last::default();
        metrics::with_local_recorder(&recorder, || record(&pool, Some(&token), now));

        let values = recorder.0.lock().unwrap();
        let get = |name: &str| values[&format!("{name}{{pool=read_only}}")];
        assert_eq!(get("pg_entra_pool_connections"), 3.0);
        assert_eq!(get("pg_entra_pool_waiting"), 1.0);
        assert_eq!(get("pg_entra_pool_connections_retired_total"), 4.0);
        assert_eq!(get("pg_entra_pool_login_retries_total"), 1.0);
        assert_eq!(get("pg_entra_pool_token_expires_in_seconds"), 300.0);
        assert_eq!(get("pg_entra_pool_token_age_seconds"), 60.0);
        assert_eq!(get("pg_entra_pool_token_refresh_failures"), 3.0);
        assert_eq!(get("pg_entra_pool_token_config_error"), 1.0);
        assert_eq!(values.len(), 14);
    }
}
