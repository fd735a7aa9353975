import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle
import Synchronization

/// Control calls whose work belongs to one company (the pushes): carried out by the instance that
/// holds the company's lease, wherever they arrive (issue 18, item 3).
///
/// Alone on its store an instance holds every company and runs them at once. Among several, the
/// holder runs them under its lease's fence; another instance forwards them through the database
/// (``ForwardedCallStore``, with a LISTEN/NOTIFY wake-up each way) and waits for the holder's
/// answer, through a takeover if need be. The table is the truth: a holder that dies with a call
/// claimed leaves it to the next, which carries it out again (pushes are idempotent: a create's
/// stored intent and requestid).
final class CompanyCalls: Service, Sendable {
    let leases: CompanyLeases
    /// Nil alone on the store.
    let store: (any ForwardedCallStore)?
    let rules: LeaseRules
    /// The company an org's calls go to now (nil: not connected; the call runs here and says so).
    let realmOf: @Sendable (OrgID) async throws -> String?
    /// Tells every instance (`f:` realm, `a:` call id): a wake-up only.
    let announce: @Sendable (InstanceMessage) async -> Void
    let logger: Logger
    let bells = AnswerBells()
    /// The methods carried out here for other instances, by name: JSON params in, JSON result out.
    private let methods = Mutex<[String: @Sendable (Data) async throws -> Data]>([:])
    /// Forwarded calls to look for (a wake-up; the claim reads the table).
    let wakeups: AsyncStream<Void>
    private let wakeupContinuation: AsyncStream<Void>.Continuation

    init(
        leases: CompanyLeases, store: (any ForwardedCallStore)?, rules: LeaseRules, logger: Logger,
        realmOf: @escaping @Sendable (OrgID) async throws -> String?, announce: @escaping @Sendable (InstanceMessage) async -> Void
    ) {
        self.leases = leases
        self.store = store
        self.rules = rules
        self.logger = logger
        self.realmOf = realmOf
        self.announce = announce
        (wakeups, wakeupContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// One instance alone on its store: every call runs where it arrives.
    static func sole(logger: Logger = Logger(label: "qbsyncd")) -> CompanyCalls {
        CompanyCalls(leases: .sole(), store: nil, rules: LeaseRules(), logger: logger, realmOf: { _ in nil }, announce: { _ in })
    }

    /// Registers a method this instance carries out for the others.
    func register<Method: CompanyMethod>(_ method: Method) {
        methods.withLock {
            $0[Method.name] = { params in
                try JSONEncoder().encode(try await method.carryOut(try JSONDecoder().decode(Method.Params.self, from: params)))
            }
        }
    }

    /// Carries out a company's call where its lease is held: `here` runs on this instance (under the
    /// lease's fence), or the call goes to the holder and its answer comes back.
    func run<Params: Encodable, Result: Decodable>(
        _ method: String, org: OrgID, params: Params, as _: Result.Type, here: () async throws -> Result
    ) async throws -> Result {
        guard let store, let realm = try await realmOf(org) else { return try await here() }
        switch leases.hold(realm) {
        case .sole:
            return try await here()
        case .held(let lease):
            return try await leases.working(under: lease, here)
        case .elsewhere:
            let call = ForwardedCall(id: UUID().uuidString.lowercased(), realmID: realm, method: method, params: try JSONEncoder().encode(params), origin: leases.instance)
            let answer = try await forward(call, to: store)
            if let error = answer.error { throw RelayedRPCError(rpcError: error) }
            return try JSONDecoder().decode(Result.self, from: answer.result ?? Data("null".utf8))
        }
    }

    /// Submits the call for its company's holder and waits for the answer (an announcement wakes
    /// the wait; a poll covers a lost one) until ``LeaseRules/forwardedCallWait``.
    private func forward(_ call: ForwardedCall, to store: any ForwardedCallStore) async throws -> ForwardedAnswer {
        let wait = rules.forwardedCallWait
        bells.open(call.id)
        defer { bells.close(call.id) }
        try await store.submit(call, now: Date(), expiresAt: Date().addingTimeInterval(wait))
        var log = logger
        log[metadataKey: LogKey.realm] = "\(call.realmID)"
        log.debug("control call forwarded to the instance holding its company", metadata: [LogKey.rpcMethod: "\(call.method)"])
        await announce(.forwarded(realm: call.realmID))
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            if let answer = try await store.answer(of: call.id, realmID: call.realmID) {
                _ = try? await store.remove(call.id)  // try?: an answered call left behind is swept when it expires
                return try JSONDecoder().decode(ForwardedAnswer.self, from: answer)
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            await bells.wait(call.id, upTo: min(left, LeaseRules.forwardedAnswerPoll))
        }
        let claimed = (try? await store.remove(call.id)) ?? true  // try?: unknown is reported as possibly under way
        log.warning("a forwarded control call got no answer in time", metadata: [LogKey.rpcMethod: "\(call.method)", "claimed": "\(claimed)"])
        let seconds = Int(wait)
        throw QBSyncError.qboUnavailable(
            detail: claimed
                ? "the instance holding QuickBooks company \(call.realmID) took the call but did not answer within \(seconds) s; it may still complete, and calling again is safe"
                : "no instance took the call for QuickBooks company \(call.realmID) within \(seconds) s; nothing was done: call again"
        )
    }

    func method(named name: String) -> (@Sendable (Data) async throws -> Data)? { methods.withLock { $0[name] } }

    /// Another instance's call (or a company newly held) may be waiting: look now.
    func wake() { wakeupContinuation.yield() }

    /// The answer to a call forwarded from here was stored.
    func answered(_ id: String) { bells.ring(id) }
}
