import Logging
import NIOCore
import QBSyncCore
import Synchronization

/// The webhook listener's open connections, admitted by ``WebhookAdmissionPolicy``: counted in when
/// accepted, out when closed. Called from the HTTP server's admission hook, on event loops.
final class WebhookConnectionRegistry: Sendable {
    /// The open connections by admission order (the lowest id is the oldest), and per address.
    private struct Registry {
        var next = 0
        var open: [Int: (channel: any Channel, address: String?)] = [:]
        var perAddress: [String: Int] = [:]
    }

    private let policy: WebhookAdmissionPolicy
    private let metrics: DaemonMetrics
    private let logger: Logger
    private let registry = Mutex(Registry())

    init(policy: WebhookAdmissionPolicy, metrics: DaemonMetrics, logger: Logger) {
        self.policy = policy
        self.metrics = metrics
        self.logger = logger
    }

    /// Counts the connection in, closing the oldest when full; false when its address is over its cap.
    func admit(_ channel: any Channel) -> Bool {
        let address = WebhookPeer.address(channel.remoteAddress)
        let isLoopback = WebhookPeer.isLoopback(channel.remoteAddress)
        let (id, oldest): (Int?, (any Channel)?) = registry.withLock { registry in
            let decision = policy.decide(
                open: registry.open.count, openFromAddress: address.map { registry.perAddress[$0, default: 0] } ?? 0, isLoopback: isLoopback
            )
            guard decision != .refuse else { return (nil, nil) }
            var oldest: (any Channel)?
            if decision == .admitClosingOldest, let first = registry.open.keys.min() {
                // Removed now, so it is not closed twice; its own close then releases nothing.
                oldest = Self.remove(first, from: &registry)
            }
            registry.next += 1
            registry.open[registry.next] = (channel, address)
            if let address { registry.perAddress[address, default: 0] += 1 }
            return (registry.next, oldest)
        }
        guard let id else {
            metrics.webhookConnectionsShedAddressCap.increment()
            logger.debug("webhook connection refused: its address is over the per-address cap", metadata: [LogKey.remote: "\(address ?? "?")"])
            return false
        }
        channel.closeFuture.whenComplete { _ in _ = self.registry.withLock { Self.remove(id, from: &$0) } }
        if let oldest {
            metrics.webhookConnectionsShedFull.increment()
            logger.debug("webhook listener full: the oldest connection was closed to make room")
            oldest.close(promise: nil)
        }
        return true
    }

    private static func remove(_ id: Int, from registry: inout Registry) -> (any Channel)? {
        guard let entry = registry.open.removeValue(forKey: id) else { return nil }
        if let address = entry.address {
            let left = registry.perAddress[address, default: 1] - 1
            registry.perAddress[address] = left > 0 ? left : nil
        }
        return entry.channel
    }
}
