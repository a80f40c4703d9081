import Foundation
import NIOConcurrencyHelpers
import Prometheus

/// The edge's Prometheus metrics (swift-prometheus): requests by site and status, durations,
/// bytes, upstream errors and timeouts, TLS handshakes, days until each certificate expires.
/// Label values are site names and upstream addresses, never request paths.
final class EdgeMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let counters = NIOLockedValueBox<[CounterKey: Counter]>([:])

    /// Identifies a counter without building a string per request.
    private struct CounterKey: Hashable {
        let name: String
        let first: String
        let second: String
    }
    private let histograms = NIOLockedValueBox<[String: DurationHistogram]>([:])

    private static let buckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// `portal_edge_<name>_<unit>`.
    private static func descriptor(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "portal", subsystem: "edge", metricName: name, unitName: unit, helpText: help)
    }

    private func counter(_ name: String, unit: String, _ labels: [(String, String)], help: String) -> Counter {
        let key = CounterKey(name: name, first: labels.first?.1 ?? "", second: labels.count > 1 ? labels[1].1 : "")
        return counters.withLockedValue { cache in
            if let existing = cache[key] { return existing }
            let made = registry.makeCounter(descriptor: Self.descriptor(name, unit: unit, help: help), labels: labels)
            cache[key] = made
            return made
        }
    }

    /// The metrics of one site, for a connection to keep and reuse across its requests.
    func siteMetrics(_ site: String) -> SiteMetrics {
        let histogram = histograms.withLockedValue { cache in
            if let existing = cache[site] { return existing }
            let made = registry.makeDurationHistogram(
                descriptor: Self.descriptor("request_duration", unit: "seconds",
                                            help: "Time from request head to the end of the response"),
                labels: [("site", site)], buckets: Self.buckets)
            cache[site] = made
            return made
        }
        return SiteMetrics(
            metrics: self, site: site, duration: histogram,
            responseBytes: counter("response_bytes", unit: "total", [("site", site)], help: "Response body bytes sent"),
            requestBytes: counter("request_bytes", unit: "total", [("site", site)], help: "Request body bytes received"))
    }

    /// The request counter of one site and status.
    func requestCounter(site: String, status: Int) -> Counter {
        counter("requests", unit: "total", [("site", site), ("code", Self.codeText(status))],
                help: "Requests answered, by site and status")
    }

    /// Status codes as label text, without formatting an integer per request.
    private static let codes: [String] = (0...599).map(String.init)
    private static func codeText(_ status: Int) -> String {
        (0...599).contains(status) ? codes[status] : String(status)
    }

    func upstreamFailed(_ address: String, timeout: Bool) {
        upstreamCounter(address, timeout: timeout).increment()
    }

    private func upstreamCounter(_ address: String, timeout: Bool) -> Counter {
        counter(timeout ? "upstream_timeouts" : "upstream_errors", unit: "total", [("upstream", address)],
                help: timeout ? "Upstream requests that timed out" : "Upstream connections refused or broken")
    }

    /// Shows the failure counters at 0 before anything failed, so `increase()` and `rate()` see
    /// the first failure (a series that appears with 1 looks like no change).
    func prepareCounters(upstreams: [String]) {
        for address in upstreams {
            _ = upstreamCounter(address, timeout: false)
            _ = upstreamCounter(address, timeout: true)
        }
        _ = handshakeCounter(succeeded: true)
        _ = handshakeCounter(succeeded: false)
    }

    /// A request on a caching route: `hit`, `miss` or `bypass`.
    func cacheRequest(result: String) {
        counter("cache_requests", unit: "total", [("result", result)],
                help: "Requests on caching routes, by result (hit, miss, bypass)").increment()
    }

    /// A failing upstream's answer replaced by an expired stored one (`stale_on_error`).
    func cacheStaleAnswer() {
        counter("cache_stale_answers", unit: "total", [], help: "Upstream failures answered from an expired stored response")
            .increment()
    }

    /// An upstream response kept by the cache.
    func cacheStored() {
        counter("cache_stores", unit: "total", [], help: "Upstream responses kept by the cache").increment()
    }

    func tlsHandshake(succeeded: Bool) {
        handshakeCounter(succeeded: succeeded).increment()
    }

    private func handshakeCounter(succeeded: Bool) -> Counter {
        counter("tls_handshakes", unit: "total", [("result", succeeded ? "ok" : "failed")], help: "TLS handshakes, by result")
    }

    /// The certificates in force, by site: their gauges count down at every scrape.
    private let certificates = NIOLockedValueBox<[String: (gauge: Gauge, notAfter: Date)]>([:])

    /// Takes the certificates of the configuration now in force (at start and at each reload):
    /// a site that is gone loses its gauge, a renewed certificate moves its site's.
    func certificatesInForce(_ expiries: [(site: String, notAfter: Date)]) {
        certificates.withLockedValue { current in
            let wanted = Set(expiries.map(\.site))
            for (site, entry) in current where !wanted.contains(site) {
                registry.unregisterGauge(entry.gauge)
                current[site] = nil
            }
            for (site, notAfter) in expiries {
                let gauge = current[site]?.gauge ?? registry.makeGauge(
                    descriptor: Self.descriptor("certificate_expiry", unit: "days",
                                                help: "Days until the site's certificate expires"),
                    labels: [("site", site)])
                current[site] = (gauge, notAfter)
            }
        }
    }

    /// The metrics in Prometheus's text format, the certificate gauges measured now.
    func render(now: Date = Date()) -> String {
        certificates.withLockedValue { current in
            for entry in current.values { entry.gauge.set(entry.notAfter.timeIntervalSince(now) / 86_400) }
        }
        return registry.emitToString()
    }
}

/// Handles on one site's metrics, so a connection finishing request after request for the same
/// site updates them without looking them up by name each time. Event-loop confined (kept by one
/// proxy handler); the metrics themselves are thread-safe.
final class SiteMetrics {
    let site: String
    private let metrics: EdgeMetrics
    private let duration: DurationHistogram
    private let responseBytes: Counter
    private let requestBytes: Counter
    private var lastStatus = -1
    private var lastCounter: Counter?

    init(metrics: EdgeMetrics, site: String, duration: DurationHistogram, responseBytes: Counter, requestBytes: Counter) {
        self.metrics = metrics
        self.site = site
        self.duration = duration
        self.responseBytes = responseBytes
        self.requestBytes = requestBytes
    }

    /// Counts one answer with `status`; the last counter used is kept, as most answers repeat it.
    func countRequest(status: Int) {
        if status == lastStatus, let lastCounter {
            lastCounter.increment()
            return
        }
        let counter = metrics.requestCounter(site: site, status: status)
        lastStatus = status
        lastCounter = counter
        counter.increment()
    }

    func record(nanoseconds: Int64, bytesSent: Int, bytesReceived: Int) {
        duration.recordNanoseconds(nanoseconds)
        if bytesSent > 0 { responseBytes.increment(by: Int64(bytesSent)) }
        if bytesReceived > 0 { requestBytes.increment(by: Int64(bytesReceived)) }
    }
}
