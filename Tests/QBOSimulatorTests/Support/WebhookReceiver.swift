import Crypto
import Foundation
import Logging
import QBOSimulator
import QBTestSupport
import Synchronization

/// Records every webhook POST the simulator sends; answers its first `failures` POSTs 500.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var body: Data
        var signature: String?
        var contentType: String?

        /// Whether `intuit-signature` verifies with the simulator's verifier token.
        var verified: Bool {
            let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(SimulatorProcess.verifierToken.utf8)))
            return signature == Data(mac).base64EncodedString()
        }
    }

    /// What the handler records; a class so the server's closure can share it.
    final class Record: Sendable {
        let deliveries = Mutex<[Delivery]>([])
        let failures = Atomic<Int>(0)
    }

    let record = Record()
    let server: SimHTTPServer

    init() async throws {
        let record = self.record
        server = try await SimHTTPServer.bind(host: "127.0.0.1", port: 0, logger: Logger(label: "receiver")) { request in
            record.deliveries.withLock {
                $0.append(Delivery(body: request.body, signature: request.headers.first(name: "intuit-signature"), contentType: request.headers.first(name: "Content-Type")))
            }
            if record.failures.load(ordering: .relaxed) > 0 {
                record.failures.subtract(1, ordering: .relaxed)
                return .respond(SimResponse(status: .internalServerError))
            }
            return .respond(SimResponse(status: .ok))
        }
    }

    var url: String { "http://127.0.0.1:\(server.port)/api/webhooks/quickbooks" }
    var all: [Delivery] { record.deliveries.withLock { $0 } }
}
