import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

extension CompanyCalls {
    /// How many forwarded calls one pass claims (the next pass follows at once when it was full).
    static let claimLimit = 64

    /// The holder's side: on every wake-up (a call announced, a heartbeat, a company newly held),
    /// claims the calls waiting for the companies held here and carries each out under its lease,
    /// side by side. Calls whose submitters are long gone are swept now and then.
    func run() async throws {
        guard let store else { return }
        var lastSweep = ContinuousClock.now
        await withDiscardingTaskGroup { group in
            for await _ in wakeups.cancelOnGracefulShutdown() {
                let now = Date()
                let held = leases.current.values.filter { $0.expiresAt > now }
                guard !held.isEmpty else { continue }
                do {
                    let calls = try await store.claim(Array(held), by: leases.instance, now: now, limit: Self.claimLimit)
                    let byRealm = Dictionary(held.map { ($0.realmID, $0) }, uniquingKeysWith: { $1 })
                    for call in calls {
                        guard let lease = byRealm[call.realmID] else { continue }
                        group.addTask { await self.carryOut(call, under: lease, store: store) }
                    }
                    if calls.count == Self.claimLimit { wake() }
                } catch {
                    logger.warning("forwarded control calls could not be claimed; the next heartbeat looks again", metadata: [LogKey.error: "\(error)"])
                }
                if ContinuousClock.now - lastSweep > .seconds(600) {
                    lastSweep = ContinuousClock.now
                    // try?: what is not swept now is swept next time
                    _ = try? await store.sweep(expiredBefore: now.addingTimeInterval(-600))
                }
            }
        }
    }

    /// Carries out one forwarded call under the company's lease and stores its answer: the result,
    /// or the protocol error its client is to get.
    func carryOut(_ call: ForwardedCall, under lease: CompanyLease, store: any ForwardedCallStore) async {
        var log = logger
        log[metadataKey: LogKey.realm] = "\(call.realmID)"
        log[metadataKey: LogKey.rpcMethod] = "\(RPCContext.loggable(call.method))"
        let answer: ForwardedAnswer
        do {
            guard let method = method(named: call.method) else { throw QBSyncError.methodNotFound(method: call.method) }
            let result = try await leases.working(under: lease) { try await method(call.params) }
            answer = ForwardedAnswer(result: result)
        } catch {
            answer = ForwardedAnswer(error: RPCDispatcher.protocolError(error, logger: log))
        }
        do {
            let encoded = try JSONEncoder().encode(answer)
            try await CompanyFence.$lease.withValue(lease) { try await store.answer(call, with: encoded, now: Date()) }
            await announce(.answered(id: call.id))
            log.debug("carried out a control call forwarded by another instance", metadata: ["origin": "\(call.origin)"])
        } catch {
            // Its caller times out and says so; the call is claimed again by the company's next holder.
            log.warning("the answer to a forwarded control call could not be stored", metadata: [LogKey.error: "\(error)"])
        }
    }
}
