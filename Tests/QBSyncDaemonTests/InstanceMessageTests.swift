import Foundation
import Logging
import NIOCore
import QBSyncCore
@testable import QBSyncDaemon
import Synchronization
import Testing

/// What instances tell each other over LISTEN/NOTIFY, and how a relayed notification reaches this
/// instance's subscribers once, never echoed back to where it came from.
@Suite struct InstanceMessageTests {
    @Test func messagesRoundTripAndAnythingElseIsIgnored() {
        let events = InstanceMessage.events(realms: ["r1", "r2"])
        #expect(events.payload == "e:r1,r2")
        #expect(InstanceMessage(payload: "e:r1,r2") == events)
        let relayed = InstanceMessage.notification(.init(origin: "a", topic: "invoice.status_changed", org: "acme", line: #"{"jsonrpc":"2.0"}"#))
        #expect(InstanceMessage(payload: relayed.payload!) == relayed)
        #expect(InstanceMessage.forwarded(realm: "9341").payload == "f:9341" && InstanceMessage(payload: "f:9341") == .forwarded(realm: "9341"))
        #expect(InstanceMessage.answered(id: "c-1").payload == "a:c-1" && InstanceMessage(payload: "a:c-1") == .answered(id: "c-1"))
        #expect(InstanceMessage(payload: "x:whatever") == nil && InstanceMessage(payload: "n:{not json") == nil)
        let huge = InstanceMessage.notification(.init(origin: "a", topic: "t", org: nil, line: String(repeating: "x", count: 8_000)))
        #expect(huge.payload == nil, "over PostgreSQL's 8000-byte payload: not relayed")
    }

    @Test func aPublishedNotificationIsRelayedAndARelayedOneReachesSubscribersWithoutEcho() async throws {
        let hub = NotificationHub(logger: Logger(label: "test"))
        let relayed = Mutex<[(String, String?)]>([])
        hub.relay { topic, org, _ in relayed.withLock { $0.append((topic, org?.description)) } }
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        hub.register(connectionID: 1, filter: SubscriptionFilter(org: OrgID("acme"), topics: ["invoice.status_changed"]), continuation: continuation)

        hub.publish(topic: "invoice.status_changed", org: OrgID("acme"), params: ["to": "Paid"])
        #expect(relayed.withLock { $0.map(\.0) } == ["invoice.status_changed"] && relayed.withLock { $0.first?.1 } == "acme")

        // Another instance's notification: delivered here, not relayed again.
        hub.publishRelayed(topic: "invoice.status_changed", org: OrgID("acme"), line: #"{"jsonrpc":"2.0","method":"invoice.status_changed","params":{"to":"Overdue"}}"# + "\n")
        hub.publishRelayed(topic: "invoice.status_changed", org: OrgID("other"), line: "filtered out\n")
        continuation.finish()
        var lines: [String] = []
        for await line in stream { lines.append(String(buffer: line)) }
        #expect(lines.count == 2 && lines[0].contains("Paid") && lines[1].contains("Overdue"))
        #expect(relayed.withLock { $0.count } == 1)
    }
}
