import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Asks OCSP responders for the status of served certificates (RFC 6960 over HTTP POST) and keeps
/// the good answers in the cache; a runtime built afterwards staples them.
struct OCSPFetcher: Sendable {
    let cache: OCSPStapleCache
    let logger: Logger
    /// How long one ask may take. An unreachable responder uses it up: the HTTP client keeps
    /// retrying the connection until then.
    var timeout: TimeAmount = .seconds(10)
    /// Largest answer accepted from a responder.
    static let maxAnswerBytes = 64 * 1024

    /// Fetches an answer for every subject whose kept answer is missing or past half its validity.
    /// An answer that expired without a replacement is dropped, so the rebuilt contexts stop
    /// stapling it. Returns whether any answer was kept or dropped, and when to look again (a failed fetch is retried
    /// in five minutes; otherwise at the earliest refresh time, and at least once an hour).
    func refresh(_ subjects: [OCSPSubject], now: Date = Date()) async -> (changed: Bool, nextCheck: Date) {
        var changed = false
        var nextCheck = now.addingTimeInterval(3_600)
        for subject in subjects {
            guard let url = subject.responderURL else { continue }
            let kept = cache.load(subject, now: now)
            if let kept, kept.freshness.refreshAt > now {
                nextCheck = min(nextCheck, kept.freshness.refreshAt)
                continue
            }
            do {
                let answer = try await fetch(subject, from: url)
                let freshness = try subject.check(responseDER: answer, now: Date())
                try cache.store(answer, for: subject)
                changed = true
                nextCheck = min(nextCheck, freshness.refreshAt)
                logger.info("OCSP answer fetched", metadata: [
                    "responder": "\(url)", "next_update": "\(freshness.nextUpdate.map { "\($0)" } ?? "-")"])
            } catch {
                nextCheck = min(nextCheck, now.addingTimeInterval(300))
                if let kept {
                    // The answer in use is still good: look again no later than when it expires.
                    if let expiry = kept.freshness.nextUpdate { nextCheck = min(nextCheck, expiry) }
                    logger.warning("OCSP answer not refreshed, the one in use stays while it is valid: \(error)",
                                   metadata: ["responder": "\(url)"])
                } else if cache.remove(subject) {
                    // The kept answer has expired and no new one came: stop stapling it.
                    changed = true
                    logger.warning("OCSP answer expired and not renewed, no longer stapled: \(error)",
                                   metadata: ["responder": "\(url)"])
                } else {
                    logger.warning("OCSP answer not stapled: \(error)", metadata: ["responder": "\(url)"])
                }
            }
        }
        return (changed, nextCheck)
    }

    private func fetch(_ subject: OCSPSubject, from url: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/ocsp-request")
        request.headers.add(name: "Accept", value: "application/ocsp-response")
        request.body = .bytes(ByteBuffer(bytes: try subject.requestDER()))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw OCSPError("the responder cannot be reached: \(error)")
        }
        guard response.status == .ok else {
            throw OCSPError("the responder answered HTTP \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: Self.maxAnswerBytes)
        return Array(body.readableBytesView)
    }
}
