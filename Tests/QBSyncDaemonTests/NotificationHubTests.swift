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

    /// L4: an org-filtered subscription gets that org's notifications, never org-less ones.
    @Test func anOrgFilterMatchesThatOrgOnly() async throws {
        let acme = SubscriptionFilter(org: OrgID("acme")!, topics: nil)
        #expect(acme.matches(topic: NotificationTopic.webhookEvent, org: OrgID("acme")!))
        #expect(!acme.matches(topic: NotificationTopic.webhookEvent, org: OrgID("other")!))
        #expect(!acme.matches(topic: NotificationTopic.webhookEvent, org: nil), "a webhook for an unknown realm")
        #expect(!acme.matches(topic: NotificationTopic.webhookLoss, org: nil), "a global figure")
        let everything = SubscriptionFilter(org: nil, topics: nil)
        #expect(everything.matches(topic: NotificationTopic.webhookLoss, org: nil))
        #expect(everything.matches(topic: NotificationTopic.webhookEvent, org: OrgID("acme")!))

        let hub = NotificationHub(logger: Logger(label: "test"))
        let (filtered, filteredContinuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        hub.register(connectionID: 1, filter: acme, continuation: filteredContinuation)
        hub.publish(topic: NotificationTopic.webhookEvent, org: nil, params: ["realmId": "9130350000000001"])
        hub.publish(topic: NotificationTopic.webhookLoss, org: nil, params: ["percent": 7])
        hub.publish(topic: NotificationTopic.webhookEvent, org: OrgID("acme")!, params: ["realmId": "9130350000000002"])
        filteredContinuation.finish()
        var lines: [String] = []
        for await line in filtered { lines.append(String(buffer: line)) }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("9130350000000002") == true, "only acme's own notification")
    }
}
