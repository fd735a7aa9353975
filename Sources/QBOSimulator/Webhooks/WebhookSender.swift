import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import QBSyncCore
public import ServiceLifecycle
import Synchronization

/// One POST waiting to be delivered (or re-delivered).
struct DeliveryBatch: Sendable {
    var realmID: String
    var events: [ChangeEvent]
    var attempts = 0
    /// Simulated time of the next attempt.
    var nextAttemptAt: Date
}

/// What one delivery attempt did; `/sim/webhooks/flush` answers a list of these.
struct DeliveryReport: Sendable, Encodable {
    var realmId: String
    var events: Int
    var attempt: Int
    var status: Int?
    var error: String?
    var duplicate: Bool
}

/// Delivers webhooks as Intuit does: per realm, in order, batched, signed, retried with backoff
/// (10 s, 20 s, 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h, in simulated time), later
/// batches held behind a failing one; answers slower than 3 s count as failures.
final class WebhookSender: Service, Sendable {
    static let retrySchedule: [Double] = [10, 20, 30, 300, 1200, 7200, 14400, 21600]

    enum Command: Sendable {
        case tick
        case flush(CheckedContinuation<[DeliveryReport], Never>)
    }

    private let simulator: Simulator
    private let commands: AsyncStream<Command>
    let commandContinuation: AsyncStream<Command>.Continuation
    private let queue = Mutex<[String: [DeliveryBatch]]>([:])

    init(simulator: Simulator) {
        self.simulator = simulator
        (commands, commandContinuation) = AsyncStream.makeStream(of: Command.self)
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask {
                // Change notifications and a steady tick (for retries coming due) drive deliveries.
                for await _ in self.simulator.wakeups.cancelOnGracefulShutdown() { self.commandContinuation.yield(.tick) }
            }
            group.addTask {
                let interval = Int(self.simulator.state.withLock { $0.configuration.webhookDelay } * 1000)
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .milliseconds(interval))
                    self.commandContinuation.yield(.tick)
                }
            }
            for await command in commands.cancelOnGracefulShutdown() {
                switch command {
                case .tick: _ = await cycle(force: false)
                case .flush(let continuation): continuation.resume(returning: await cycle(force: true))
                }
            }
            group.cancelAll()
        }
    }

    /// Moves new changes into per-realm batches and sends what is due (everything, when forced).
    private func cycle(force: Bool) async -> [DeliveryReport] {
        let (changes, configuration, now, liveRealms) = simulator.state.withLock { state in
            let changes = state.pendingChanges
            state.pendingChanges.removeAll()
            let live = Set(state.grants.values.filter { !$0.revoked }.map(\.realmID))
            return (changes, state.configuration, state.now(), live)
        }
        guard let url = configuration.webhookURL else { return [] }
        // Only companies connected to the app get webhooks.
        let grouped = Dictionary(grouping: changes.filter { liveRealms.contains($0.realmID) }, by: \.realmID)
        queue.withLock { queue in
            for (realmID, events) in grouped {
                let size = configuration.webhookFormat == .cloudEvents ? 100 : events.count
                for start in stride(from: 0, to: events.count, by: max(size, 1)) {
                    queue[realmID, default: []].append(DeliveryBatch(realmID: realmID, events: Array(events[start..<min(start + size, events.count)]), nextAttemptAt: now))
                }
            }
        }
        var reports: [DeliveryReport] = []
        for realmID in queue.withLock({ Array($0.keys) }) {
            while let batch = queue.withLock({ $0[realmID]?.first }), force || batch.nextAttemptAt <= now {
                let (report, delivered) = await deliver(batch, to: url, configuration: configuration)
                reports += report
                let held = queue.withLock { queue -> Bool in
                    if delivered {
                        queue[realmID]?.removeFirst()
                        if queue[realmID]?.isEmpty == true { queue.removeValue(forKey: realmID) }
                        return false
                    }
                    var failed = batch
                    failed.attempts += 1
                    failed.nextAttemptAt = now.addingTimeInterval(Self.retrySchedule[min(failed.attempts - 1, Self.retrySchedule.count - 1)])
                    queue[realmID]?[0] = failed
                    return true
                }
                if held { break }
            }
        }
        return reports
    }

    private func deliver(_ batch: DeliveryBatch, to url: String, configuration: SimulatorConfiguration) async -> ([DeliveryReport], Bool) {
        let body = configuration.webhookFormat == .classic
            ? WebhookPayload.classic(realmID: batch.realmID, events: batch.events)
            : WebhookPayload.cloudEvents(realmID: batch.realmID, events: batch.events)
        let duplicate = configuration.duplicateRate > 0 && Double.random(in: 0..<1) < configuration.duplicateRate
        var reports: [DeliveryReport] = []
        var delivered = false
        for copy in 0..<(duplicate ? 2 : 1) {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: configuration.webhookFormat == .classic ? "application/json" : "application/cloudevents-batch+json")
            request.headers.add(name: "intuit-signature", value: WebhookPayload.signature(body: body, verifierToken: configuration.verifierToken))
            request.headers.add(name: "User-Agent", value: "Intuit-Webhooks-qbo-sim")
            request.body = .bytes(ByteBuffer(bytes: body))
            var report = DeliveryReport(realmId: batch.realmID, events: batch.events.count, attempt: batch.attempts + 1, status: nil, error: nil, duplicate: copy == 1)
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
                _ = try? await response.body.collect(upTo: 1 << 20)
                report.status = Int(response.status.code)
                if copy == 0 { delivered = response.status == .ok }
            } catch {
                report.error = "\(error)"
            }
            simulator.logger.debug("webhook delivered", metadata: ["realm": "\(batch.realmID)", "status": "\(report.status.map(String.init) ?? report.error ?? "?")"])
            reports.append(report)
        }
        return (reports, delivered)
    }
}

extension Simulator {
    /// Asks the sender to deliver everything queued now; answers the attempts made.
    func flushWebhooks() async -> JSONValue {
        guard let sender = sender.withLock({ $0 }) else { return ["deliveries": []] }
        let reports = await withCheckedContinuation { continuation in
            sender.commandContinuation.yield(.flush(continuation))
        }
        let data = (try? JSONEncoder().encode(reports)) ?? Data("[]".utf8)
        return ["deliveries": (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? []]
    }

    /// The webhook sender service for this simulator (one per simulator).
    public func makeWebhookService() -> some Service {
        let service = WebhookSender(simulator: self)
        sender.withLock { $0 = service }
        return service
    }
}
