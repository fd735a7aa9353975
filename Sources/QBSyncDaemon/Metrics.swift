import Foundation
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics (`GET /metrics`).
final class DaemonMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let webhooksAccepted: Counter
    let webhooksRejectedSignature: Counter
    let webhooksRejectedTooLarge: Counter
    let webhookEventsUnparsed: Counter
    /// Signed deliveries that repeated a stored one: answered 200, not stored again (F10).
    let webhookDuplicates: Counter
    /// Webhook connections closed by admission: over the per-address cap, or the oldest when full (F8).
    let webhookConnectionsShedAddressCap: Counter
    let webhookConnectionsShedFull: Counter
    private let controlRequests = Mutex<[String: Counter]>([:])
    private let qboCalls = Mutex<[String: Counter]>([:])
    private let refreshes = Mutex<[String: Counter]>([:])

    init() {
        webhooksAccepted = registry.makeCounter(descriptor: Self.name("webhooks_accepted", unit: "total", help: "Webhook deliveries verified and stored"))
        let rejected = Self.name("webhooks_rejected", unit: "total", help: "Webhook deliveries refused")
        webhooksRejectedSignature = registry.makeCounter(descriptor: rejected, labels: [("reason", "signature")])
        webhooksRejectedTooLarge = registry.makeCounter(descriptor: rejected, labels: [("reason", "too_large")])
        let shed = Self.name("webhook_connections_shed", unit: "total", help: "Webhook connections closed by admission")
        webhookConnectionsShedAddressCap = registry.makeCounter(descriptor: shed, labels: [("reason", "address_cap")])
        webhookConnectionsShedFull = registry.makeCounter(descriptor: shed, labels: [("reason", "oldest_when_full")])
        webhookDuplicates = registry.makeCounter(
            descriptor: Self.name("webhook_duplicates", unit: "total", help: "Signed deliveries that repeated a stored one (acknowledged, not stored again)")
        )
        webhookEventsUnparsed = registry.makeCounter(
            descriptor: Self.name("webhook_events_unparsed", unit: "total", help: "Events in signed deliveries that could not be parsed (stored as failed)")
        )
    }

    /// `qbsyncd_<metric>_<unit>`.
    static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "qbsyncd", metricName: metric, unitName: unit, helpText: help)
    }

    func controlRequest(method: String) {
        counter(in: controlRequests, name: Self.name("control_requests", unit: "total", help: "Control-socket requests by method"), label: ("method", method)).increment()
    }

    func qboCall(outcome: String) {
        counter(in: qboCalls, name: Self.name("qbo_calls", unit: "total", help: "QuickBooks API calls by outcome"), label: ("outcome", outcome)).increment()
    }

    func tokenRefresh(outcome: String) {
        counter(in: refreshes, name: Self.name("token_refreshes", unit: "total", help: "Access-token refreshes by outcome"), label: ("outcome", outcome)).increment()
    }

    private func counter(in cache: borrowing Mutex<[String: Counter]>, name: MetricNameDescriptor, label: (String, String)) -> Counter {
        cache.withLock { cache in
            if let counter = cache[label.1] { return counter }
            let counter = registry.makeCounter(descriptor: name, labels: [label])
            cache[label.1] = counter
            return counter
        }
    }

    /// Gauges computed at scrape time.
    func setGauge(_ name: MetricNameDescriptor, labels: [(String, String)] = [], value: Double) {
        registry.makeGauge(descriptor: name, labels: labels).set(to: value)
    }

    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
