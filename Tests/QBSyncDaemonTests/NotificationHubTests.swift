import Foundation
import Logging
import NIOCore
import QBSyncCore
import Testing
@testable import QBSyncDaemon

@Suite struct NotificationHubTests {
    @Test func aSubscriberThatFallsBehindIsToldAndDropped() async throws {
        let hub = NotificationHub(logger: Logger(label: "test"))
        let (slow, slowContinuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(NotificationHub.bufferLimit + 1))
        let (fast, fastContinuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(NotificationHub.bufferLimit + 1))
        hub.register(connectionID: 1, filter: SubscriptionFilter(org: nil, topics: nil), continuation: slowContinuation)
        hub.register(connectionID: 2, filter: SubscriptionFilter(org: OrgID("other")!, topics: nil), continuation: fastContinuation)
        for index in 0..<NotificationHub.bufferLimit {
            hub.publish(topic: NotificationTopic.webhookEvent, org: OrgID("acme")!, params: ["n": index])
        }
        #expect(hub.subscriberCount == 1, "the slow subscriber was dropped; the filtered one stays")
        var lines: [String] = []
        for await line in slow { lines.append(String(buffer: line)) }
        #expect(lines.count == NotificationHub.bufferLimit + 1, "every queued notification, then the notice")
        #expect(lines.last?.contains("subscription.overflow") == true)
        fastContinuation.finish()
        var fastCount = 0
        for await _ in fast { fastCount += 1 }
        #expect(fastCount == 0, "the org filter kept acme's notifications away")
    }
}
