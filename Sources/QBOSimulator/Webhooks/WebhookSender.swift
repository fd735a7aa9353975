import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import QBSyncCore
public import ServiceLifecycle
import Synchronization

/// One POST waiting to be delivered (or re-delivered): its events never change once it was tried.
struct DeliveryBatch: Sendable {
    var events: [ChangeEvent]
    var attempts = 0
    /// Simulated time of the next attempt.
    var nextAttemptAt: Date

    /// The companies it carries, in the order they first appear.
    var realmIDs: [String] {
        events.reduce(into: [String]()) { realms, event in if !realms.contains(event.realmID) { realms.append(event.realmID) } }
    }
}

/// What one delivery attempt did; `/sim/webhooks/flush` answers a list of these.
struct DeliveryReport: Sendable, Encodable {
    /// The first company of the POST; `realmIds` lists them all (CloudEvents POSTs may mix them).
    var realmId: String
    var realmIds: [String]
    var events: Int
    var attempt: Int
    var status: Int?
    var error: String?
    var duplicate: Bool
}

/// Delivers webhooks as Intuit does: in order, batched, signed, retried with backoff (10 s, 20 s,
/// 30 s, 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h, in simulated time), later POSTs held behind a
/// failing one; answers slower than 3 s count as failures. CloudEvents POSTs carry up to 100 events
/// of any connected companies, in one queue; classic ones one company each, in a queue per company.
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
                    try? await Task.sleep(for: .milliseconds(interval))  // try?: a cancelled pause ends the loop
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

    /// Moves new changes into batches and sends what is due (everything, when forced).
    private func cycle(force: Bool) async -> [DeliveryReport] {
        let (changes, configuration, now) = simulator.state.withLock { state in
            let changes = state.pendingChanges
            state.pendingChanges.removeAll()
            guard state.configuration.webhookURL != nil else { return ([ChangeEvent](), state.configuration, state.now()) }
            // Only companies connected to the app get webhooks; the loss rate drops some for good.
            let live = Set(state.grants.values.filter { !$0.revoked }.map(\.realmID))
            var kept: [ChangeEvent] = []
            for change in changes where live.contains(change.realmID) {
                if state.configuration.webhookLossRate > 0, Double(state.webhookLoss.next() >> 11) / Double(1 << 53) < state.configuration.webhookLossRate {
                    state.webhooksLost += 1
                    continue
                }
                kept.append(change)
            }
            return (kept, state.configuration, state.now())
        }
        guard let url = configuration.webhookURL else { return [] }
        let cloudEvents = configuration.webhookFormat == .cloudEvents
        queue.withLock { queue in
            for change in changes {
                let lane = cloudEvents ? "" : change.realmID
                // A batch not tried yet takes more events; one that was tried is resent as it was.
                if let last = queue[lane]?.indices.last, queue[lane]![last].attempts == 0, !cloudEvents || queue[lane]![last].events.count < 100 {
                    queue[lane]![last].events.append(change)
                } else {
                    queue[lane, default: []].append(DeliveryBatch(events: [change], nextAttemptAt: now))
                }
            }
        }
        var reports: [DeliveryReport] = []
        for lane in queue.withLock({ $0.keys.sorted() }) {
            while let batch = queue.withLock({ $0[lane]?.first }), force || batch.nextAttemptAt <= now {
                let (report, delivered) = await deliver(batch, to: url, configuration: configuration)
                reports += report
                let held = queue.withLock { queue -> Bool in
                    if delivered {
                        queue[lane]?.removeFirst()
                        if queue[lane]?.isEmpty == true { queue.removeValue(forKey: lane) }
                        return false
                    }
                    var failed = batch
                    failed.attempts += 1
                    failed.nextAttemptAt = now.addingTimeInterval(Self.retrySchedule[min(failed.attempts - 1, Self.retrySchedule.count - 1)])
                    queue[lane]?[0] = failed
                    return true
                }
                if held { break }
            }
        }
        return reports
    }

    private func deliver(_ batch: DeliveryBatch, to url: String, configuration: SimulatorConfiguration) async -> ([DeliveryReport], Bool) {
        let body = configuration.webhookFormat == .classic ? WebhookPayload.classic(events: batch.events) : WebhookPayload.cloudEvents(events: batch.events)
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
            let realms = batch.realmIDs
            var report = DeliveryReport(
                realmId: realms.first ?? "", realmIds: realms, events: batch.events.count, attempt: batch.attempts + 1, status: nil, error: nil, duplicate: copy == 1
            )
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(3))
                _ = try? await response.body.collect(upTo: 1 << 20)  // try?: the body is drained, not read
                report.status = Int(response.status.code)
                if copy == 0 { delivered = response.status == .ok }
            } catch {
                report.error = "\(error)"
            }
            simulator.logger.debug("webhook delivered", metadata: [LogKey.realms: "\(batch.realmIDs.joined(separator: ","))", LogKey.status: "\(report.status.map(String.init) ?? report.error ?? "?")"])
            reports.append(report)
        }
        return (reports, delivered)
    }
}

extension Simulator {
    /// Asks the sender to deliver everything queued now; answers the attempts made and the changes
    /// lost to the loss rate since start.
    func flushWebhooks() async -> JSONValue {
        guard let sender = sender.withLock({ $0 }) else { return ["deliveries": [], "webhooksLost": .int(Int64(state.withLock { $0.webhooksLost }))] }
        let reports = await withCheckedContinuation { continuation in
            sender.commandContinuation.yield(.flush(continuation))
        }
        let data = (try? JSONEncoder().encode(reports)) ?? Data("[]".utf8)  // try?: reports always encode
        return ["deliveries": (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? [], "webhooksLost": .int(Int64(state.withLock { $0.webhooksLost }))]  // try?: our own JSON always decodes
    }

    /// The webhook sender service for this simulator (one per simulator).
    public func makeWebhookService() -> some Service {
        let service = WebhookSender(simulator: self)
        sender.withLock { $0 = service }
        return service
    }
}
