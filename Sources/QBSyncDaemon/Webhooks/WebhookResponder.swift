import Crypto
import Foundation
import HTTPServerKit
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import QBSyncCore
import QBSyncStore

/// Answers the listener's requests on the connection's event loop. A delivery is verified there
/// (HMAC over the raw bytes, no parsing), handed to ``WebhookIntake``, and its 200 is written from
/// the event loop when the intake's commit completes its promise: no task or actor hop per request.
struct WebhookResponder: HTTPResponder {
    let intake: WebhookIntake
    let state: DaemonState
    /// The store's cached health, whichever backend keeps it.
    let health: StoreHealth
    let metrics: DaemonMetrics
    let scrape: @Sendable () async -> Void
    let logger: Logger

    func respond(to request: HTTPRequest, on eventLoop: any EventLoop) -> EventLoopFuture<HTTPResponse> {
        let uri = request.head.uri
        let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        // `/healthz` and `/metrics` exist for local, unforwarded peers only (L11).
        let local = { WebhookPeer.mayReachLocalEndpoints(peer: request.remoteAddress, headers: request.head.headers) }
        switch (path, request.head.method) {
        case (WebhookServer.path, .POST):
            return receive(request, on: eventLoop)
        case (WebhookServer.path, _):
            return eventLoop.makeSucceededFuture(.text(.methodNotAllowed, "use POST\n"))
        case ("/healthz", _) where !local(), ("/metrics", _) where !local():
            return eventLoop.makeSucceededFuture(.text(.notFound, "not found\n"))
        case ("/healthz", .GET):
            let (status, contentType, body) = Self.health(health.snapshot)
            return eventLoop.makeSucceededFuture(.text(status, body, contentType: contentType))
        case ("/metrics", .GET):
            let promise = eventLoop.makePromise(of: HTTPResponse.self)
            promise.completeWithTask {
                await scrape()
                return HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4"], body: ByteBuffer(bytes: metrics.exposition()))
            }
            return promise.futureResult
        case ("/healthz", _), ("/metrics", _):
            return eventLoop.makeSucceededFuture(.text(.methodNotAllowed, "use GET\n"))
        default:
            return eventLoop.makeSucceededFuture(.text(.notFound, "not found\n"))
        }
    }

    func bodyTooLarge(_ head: HTTPRequestHead) -> HTTPResponse {
        metrics.webhooksRejectedTooLarge.increment()
        return .text(.payloadTooLarge, "request body over 1 MiB\n", closesConnection: true)
    }

    /// `/healthz` from the cached store health (the periodic probe and every commit keep it): never a
    /// write queued behind webhook commits (L11, L14). 503 says why.
    static func health(_ snapshot: StoreHealth.Snapshot) -> (HTTPResponseStatus, String, String) {
        guard let problem = snapshot.problem else { return (.ok, "application/json", #"{"status":"ok"}"#) }
        let status = snapshot.writable ? "store damaged" : "store not writable"
        let body = String(decoding: (try? JSONEncoder().encode(["status": status, "reason": problem])) ?? Data(), as: UTF8.self)  // try?: a [String: String] always encodes
        return (.serviceUnavailable, "application/json", body)
    }

    private static let accepted = HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain"])

    /// Verify, hand to the intake, answer when committed (the intake calls back on `eventLoop`).
    private func receive(_ request: HTTPRequest, on eventLoop: any EventLoop) -> EventLoopFuture<HTTPResponse> {
        let settings = state.settings
        guard settings.integrationEnabled, let verifier = settings.quickBooks.webhookVerifierToken else {
            return eventLoop.makeSucceededFuture(.text(.serviceUnavailable, "the QuickBooks integration is disabled\n"))
        }
        let remote = request.remoteAddress?.description
        guard let signature = request.head.headers.first(name: "intuit-signature"), Self.verify(signature: signature, body: request.body, verifier: verifier.value) else {
            metrics.webhooksRejectedSignature.increment()
            state.webhookRejected()
            logger.warning("webhook refused: missing or wrong intuit-signature", metadata: [LogKey.remote: "\(remote ?? "?")"])
            return eventLoop.makeSucceededFuture(.text(.unauthorized, "invalid signature\n"))
        }
        let delivery = RawDelivery(receivedAt: Date(), body: Data(request.body.readableBytesView), signature: signature, remoteAddress: remote)
        let promise = eventLoop.makePromise(of: HTTPResponse.self)
        intake.submit(delivery, on: eventLoop) { [metrics, state, logger] result in
            switch result {
            case .success:
                metrics.webhooksAccepted.increment()
                state.webhookAccepted()
                promise.succeed(Self.accepted)
            case .failure(let error):
                // Not stored, so not acknowledged: Intuit delivers it again.
                logger.error("webhook delivery could not be stored", metadata: [LogKey.error: "\(error)"])
                promise.succeed(.text(.serviceUnavailable, "not stored; deliver again\n"))
            }
        }
        return promise.futureResult
    }

    /// `base64(HMAC-SHA256(verifier, raw body))`, compared in constant time, over the bytes as read.
    static func verify(signature: String, body: ByteBuffer, verifier: String) -> Bool {
        guard let provided = Data(base64Encoded: trimmingBlanks(signature)) else { return false }
        let key = SymmetricKey(data: Data(verifier.utf8))
        return body.withUnsafeReadableBytes { HMAC<SHA256>.isValidAuthenticationCode(provided, authenticating: $0, using: key) }
    }

    /// Spaces and tabs around a header value are tolerated; trimmed on the UTF-8 bytes (Foundation's
    /// trimming bridges to NSString, and Character-wise trimming breaks graphemes: both showed in profiles).
    static func trimmingBlanks(_ text: String) -> String {
        let bytes = text.utf8
        let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = bytes.first, let last = bytes.last, isBlank(first) || isBlank(last) else { return text }
        let start = bytes.firstIndex { !isBlank($0) } ?? bytes.endIndex
        let end = bytes.lastIndex { !isBlank($0) }.map(bytes.index(after:)) ?? start
        return start < end ? String(text[start..<end]) : ""
    }
}
