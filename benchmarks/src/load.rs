//! A closed-loop load generator: `concurrency` workers, each sending its
//! next request as soon as the last one is answered, until the requests run
//! out or the time is up.

use crate::support::Summary;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// What a load run came to.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Answers with the expected status.
    pub ok: usize,
    /// Other statuses and transport errors, with one example.
    pub failed: usize,
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    /// Latency of each answered request.
    pub latencies: Summary,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// Send `request(i)` for i = 0, 1, 2… from `concurrency` workers until it
/// returns `None` or `limit` has passed; an answer with `expected` status counts as ok.
pub async fn run<F>(concurrency: usize, limit: Duration, expected: u16, request: F) -> LoadResult
where
    F: Fn(usize) -> Option<reqwest::RequestBuilder> + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + limit;
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let request = request.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            let mut first_failure = None;
            while Instant::now() < deadline {
                let Some(builder) = request(next.fetch_add(1, Ordering::Relaxed)) else {
                    break;
                };
                let sent = Instant::now();
                let outcome = match builder.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.bytes().await;
                        match body {
                            Ok(_) if status == expected => Ok(()),
                            Ok(body) => Err(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&body)
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            )),
                            Err(err) => Err(err.to_string()),
                        }
                    }
                    Err(err) => Err(err.to_string()),
                };
                match outcome {
                    Ok(()) => latencies.push(sent.elapsed()),
                    Err(err) => {
                        failed += 1;
                        first_failure.get_or_insert(err);
                    }
                }
            }
            (latencies, failed, first_failure)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut first_failure = None;
    for worker in workers {
        if let Ok((mut own, own_failed, own_first)) = worker.await {
            latencies.append(&mut own);
            failed += own_failed;
            if first_failure.is_none() {
                first_failure = own_first;
            }
        }
    }
    let elapsed = started.elapsed();
    LoadResult {
        ok: latencies.len(),
        failed,
        first_failure,
        elapsed,
        latencies: Summary::of(&latencies).unwrap_or(Summary {
            runs: 0,
            mean: Duration::ZERO,
            p50: Duration::ZERO,
            p95: Duration::ZERO,
            p99: Duration::ZERO,
            max: Duration::ZERO,
        }),
    }
}
