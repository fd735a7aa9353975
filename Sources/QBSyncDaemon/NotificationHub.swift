import Foundation
import Logging
import NIOCore
import QBSyncCore
import Synchronization

/// Which notifications a subscriber wants: an org (or all) and topics (or all).
struct SubscriptionFilter: Sendable, Equatable {
    var org: OrgID?
    var topics: Set<String>?

    /// An org filter matches that org's notifications only: org-less ones (`webhook.event` for an
    /// unknown realm, `webhook.loss`, `quota.status_changed`) go to unfiltered subscribers (L4).
    func matches(topic: String, org: OrgID?) -> Bool {
        if let topics, !topics.contains(topic) { return false }
        if let wanted = self.org, wanted != org { return false }
        return true
    }
}

/// The notification topics of spec/control-protocol.md.
enum NotificationTopic {
    static let invoiceStatusChanged = "invoice.status_changed"
    static let connectionStatusChanged = "connection.status_changed"
    static let webhookEvent = "webhook.event"
    /// Added: an org's grant ends within `QBSYNCD_RECONNECT_WARNING_DAYS`.
    static let connectionReconnectDue = "connection.reconnect_due"
    /// Added: the share of changes that reached the daemon only through the CDC feed passed the threshold.
    static let webhookLoss = "webhook.loss"
    /// 0.2: the app-wide read budget changed state (ok, warning, critical, exhausted).
    static let quotaStatusChanged = "quota.status_changed"
    /// 0.2: a pushed record was found edited in QuickBooks (`Mapping.drift`).
    static let mappingDrift = "mapping.drift"
    static let all: Set<String> = [invoiceStatusChanged, connectionStatusChanged, webhookEvent, connectionReconnectDue, webhookLoss, quotaStatusChanged, mappingDrift]
}

/// A connection's side of the hub: a bounded queue of notification lines that the connection's
/// writer drains. When the queue is full the subscriber has fallen behind: it is dropped and told.
struct NotificationSink: Sendable {
    let connectionID: Int
    let continuation: AsyncStream<ByteBuffer>.Continuation
    let hub: NotificationHub

    func subscribe(_ filter: SubscriptionFilter) {
        hub.register(connectionID: connectionID, filter: filter, continuation: continuation)
    }

    var isSubscribed: Bool { hub.isSubscribed(connectionID: connectionID) }
}

/// Fans notifications out to subscribed control connections without ever waiting for one of them.
final class NotificationHub: Sendable {
    private struct Subscriber {
        var filter: SubscriptionFilter
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    /// How many undelivered notifications one subscriber may have before it is dropped.
    static let bufferLimit = 4096

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    /// Hands every notification published here to the other instances sharing the store
    /// (``InstanceBridge``); none when alone.
    private let relayHook = Mutex<(@Sendable (String, OrgID?, String) -> Void)?>(nil)
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    var subscriberCount: Int { subscribers.withLock { $0.count } }

    func register(connectionID: Int, filter: SubscriptionFilter, continuation: AsyncStream<ByteBuffer>.Continuation) {
        subscribers.withLock { $0[connectionID] = Subscriber(filter: filter, continuation: continuation) }
    }

    func isSubscribed(connectionID: Int) -> Bool {
        subscribers.withLock { $0[connectionID] != nil }
    }

    func unregister(connectionID: Int) {
        _ = subscribers.withLock { $0.removeValue(forKey: connectionID) }
    }

    /// Sets where notifications published here are relayed to (topic, org, the encoded line).
    func relay(_ hook: @escaping @Sendable (String, OrgID?, String) -> Void) {
        relayHook.withLock { $0 = hook }
    }

    /// Sends one notification to every subscriber whose filter matches, and to the other instances.
    func publish(topic: String, org: OrgID?, params: some Encodable & Sendable) {
        guard let line = try? RPCWire.notification(method: topic, params: params) else { return }  // try?: notification params always encode
        fanOut(line, topic: topic, org: org)
        relayHook.withLock { $0 }?(topic, org, String(buffer: line))
    }

    /// A notification another instance published: to this instance's subscribers only.
    func publishRelayed(topic: String, org: OrgID?, line: String) {
        fanOut(ByteBuffer(string: line), topic: topic, org: org)
    }

    private func fanOut(_ line: ByteBuffer, topic: String, org: OrgID?) {
        let targets = subscribers.withLock { $0.filter { $0.value.filter.matches(topic: topic, org: org) } }
        for (connectionID, subscriber) in targets {
            // The queue holds bufferLimit notifications plus one slot kept for telling the
            // subscriber that it fell behind, just before it is disconnected.
            switch subscriber.continuation.yield(line) {
            case .enqueued(let remaining) where remaining <= 1:
                logger.warning("subscriber fell behind and is disconnected", metadata: [LogKey.connection: "\(connectionID)"])
                unregister(connectionID: connectionID)
                if let notice = try? RPCWire.notification(method: "subscription.overflow", params: ["reason": "the subscriber fell more than \(Self.bufferLimit) notifications behind; reconnect and resubscribe"]) {  // try?: a fixed text always encodes
                    subscriber.continuation.yield(notice)
                }
                subscriber.continuation.finish()
            case .dropped, .terminated:
                unregister(connectionID: connectionID)
            default:
                break
            }
        }
    }
}
