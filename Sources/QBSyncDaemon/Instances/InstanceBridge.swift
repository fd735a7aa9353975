import Foundation
import Logging
import NIOCore
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// What instances sharing one store tell each other (PostgreSQL LISTEN/NOTIFY, ``StoreBackend/announce(_:)``):
/// a wake-up, never the truth, which stays in the tables.
///
/// - `e:` + realm ids: events of these companies were stored (by the instance whose intake took the
///   delivery); their holder's pipeline wakes now instead of at its next heartbeat.
/// - `n:` + a relayed notification: what one instance published to its subscribers reaches the
///   subscribers of every other, so `subscribe` sees every instance's notifications.
/// - `f:` + a realm id: a control call for this company was forwarded to its holder (``CompanyCalls``).
/// - `a:` + a call id: the holder stored the answer to that forwarded call.
enum InstanceMessage: Equatable {
    case events(realms: [String])
    case notification(Relayed)
    case forwarded(realm: String)
    case answered(id: String)

    /// A notification as its origin published it: the encoded line, and what subscriptions filter on.
    struct Relayed: Codable, Equatable {
        /// The publishing instance (its own echo is not published twice).
        var origin: String
        var topic: String
        var org: String?
        /// The notification's JSON-RPC line, as the origin's subscribers got it.
        var line: String
    }

    /// PostgreSQL's limit on a NOTIFY payload is 8000 bytes; a larger notification is not relayed.
    static let payloadLimit = 7_900

    var payload: String? {
        switch self {
        case .events(let realms):
            return "e:" + realms.joined(separator: ",")
        case .notification(let relayed):
            // try?: four strings always encode
            guard let data = try? JSONEncoder().encode(relayed), data.count + 2 <= Self.payloadLimit else { return nil }
            return "n:" + String(decoding: data, as: UTF8.self)
        case .forwarded(let realm):
            return "f:" + realm
        case .answered(let id):
            return "a:" + id
        }
    }

    init?(payload: String) {
        if payload.hasPrefix("e:") {
            self = .events(realms: payload.dropFirst(2).split(separator: ",").map(String.init))
        } else if payload.hasPrefix("f:") {
            self = .forwarded(realm: String(payload.dropFirst(2)))
        } else if payload.hasPrefix("a:") {
            self = .answered(id: String(payload.dropFirst(2)))
        } else if payload.hasPrefix("n:"), let relayed = try? JSONDecoder().decode(Relayed.self, from: Data(payload.dropFirst(2).utf8)) {  // try?: not ours, ignored
            self = .notification(relayed)
        } else {
            return nil
        }
    }
}

/// Listens for other instances' messages for as long as the daemon runs, connecting again when the
/// store's connection fails (a PostgreSQL restart), and hands them on: events to the pipeline,
/// notifications to this instance's subscribers.
final class InstanceBridge: Service, Sendable {
    let store: any StoreBackend
    let instance: String
    let hub: NotificationHub
    let eventsArrived: @Sendable ([String]) -> Void
    /// Forwarded control calls, both ways.
    let calls: CompanyCalls?
    let logger: Logger
    /// How soon the listener connects again after its connection failed.
    static let reconnectDelay: Duration = .seconds(1)

    init(
        store: any StoreBackend, instance: String, hub: NotificationHub, calls: CompanyCalls? = nil, logger: Logger,
        eventsArrived: @escaping @Sendable ([String]) -> Void
    ) {
        self.store = store
        self.calls = calls
        self.instance = instance
        self.hub = hub
        self.logger = logger
        self.eventsArrived = eventsArrived
        hub.relay { [store, instance, logger] topic, org, line in
            guard let payload = InstanceMessage.notification(.init(origin: instance, topic: topic, org: org?.description, line: line)).payload else {
                logger.warning("a notification too large to relay reaches this instance's subscribers only", metadata: [LogKey.topic: "\(topic)"])
                return
            }
            Task {
                do { try await store.announce(payload) } catch {
                    logger.warning("a notification could not be relayed to the other instances", metadata: [LogKey.error: "\(error)"])
                }
            }
        }
    }

    /// Tells the other instances that events of these companies were stored.
    func eventsStored(realms: Set<String>) {
        guard !realms.isEmpty, let payload = InstanceMessage.events(realms: realms.sorted()).payload else { return }
        Task {
            do { try await store.announce(payload) } catch {
                // The holder finds them at its next heartbeat anyway.
                logger.debug("stored events could not be announced", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.store.listen { payload in self.receive(payload) }
                } catch {
                    guard !Task.isCancelled else { return }
                    self.logger.warning("the listener for other instances failed; it connects again", metadata: [LogKey.error: "\(error)"])
                }
                try? await Task.sleep(for: Self.reconnectDelay)  // try?: cancelled means stopping
            }
        }
    }

    func receive(_ payload: String) {
        switch InstanceMessage(payload: payload) {
        case .events(let realms)?:
            eventsArrived(realms)
        case .notification(let relayed)? where relayed.origin != instance:
            hub.publishRelayed(topic: relayed.topic, org: relayed.org.flatMap(OrgID.init), line: relayed.line)
        case .forwarded(let realm)?:
            if let calls, calls.leases.current[realm] != nil { calls.wake() }
        case .answered(let id)?:
            calls?.answered(id)
        default:
            break
        }
    }
}
