//! Prometheus metrics of the node, served on their own bind address.

use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub inbox_results: IntCounterVec,
    pub deliveries: IntCounterVec,
    pub signature_failures: IntCounterVec,
    pub queue_depth: IntGaugeVec,
    pub inbox_pending: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("healthcommons".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by method and status",
            ),
            &["method", "status"],
        )?;
        let inbox_results = IntCounterVec::new(
            Opts::new("inbox_activities_total", "Inbox activities, by type and result"),
            &["type", "result"],
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new("deliveries_total", "Delivery attempts, by result"),
            &["result"],
        )?;
        let signature_failures = IntCounterVec::new(
            Opts::new(
                "signature_failures_total",
                "Rejected inbound signatures, by reason",
            ),
            &["reason"],
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new("delivery_queue_depth", "Pending deliveries per peer"),
            &["peer"],
        )?;
        let inbox_pending = IntGauge::new("inbox_pending", "Stored inbox activities not yet processed")?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(inbox_results.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(signature_failures.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(inbox_pending.clone()))?;
        Ok(Metrics {
            registry,
            http_requests,
            inbox_results,
            deliveries,
            signature_failures,
            queue_depth,
            inbox_pending,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// A bounded label for an activity type: remote input must not mint series.
pub fn activity_label(kind: &str) -> &'static str {
    const KNOWN: [&str; 20] = [
        "Follow",
        "Accept",
        "Reject",
        "Undo",
        "Create",
        "Update",
        "Delete",
        "Like",
        "Dislike",
        "Announce",
        "Add",
        "Remove",
        "Block",
        "Flag",
        "Join",
        "Leave",
        "Invite",
        "EmojiReact",
        "Move",
        "Question",
    ];
    let outer = kind.split('{').next().unwrap_or_default();
    KNOWN.iter().find(|k| **k == outer).copied().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_labels_are_bounded() {
        assert_eq!(activity_label("Undo{Follow}"), "Undo");
        assert_eq!(activity_label("Follow"), "Follow");
        assert_eq!(activity_label("x\u{0}<script>"), "other");
    }
}
