import Foundation
import QBSyncCore
import Synchronization

/// Which companies' work this instance does now: all of them (one instance on SQLite), or those
/// whose lease it holds (several on PostgreSQL, kept by ``LeaseKeeper``). The pipeline, the token
/// scheduler and the sweeps ask before each company's turn.
final class CompanyLeases: Sendable {
    /// What this instance may do for one company.
    enum Hold: Sendable, Equatable {
        /// The only instance: every company, no fence.
        case sole
        /// Under this lease: its writes are fenced with it (``CompanyFence``).
        case held(CompanyLease)
        /// Another instance (or none yet) holds it: leave its work alone.
        case elsewhere
    }

    /// This instance's name in the lease table (host, process and a random part: a restart is a new
    /// instance, so its leases carry new generations).
    let instance: String
    private let shared: Bool
    private let held = Mutex<[String: CompanyLease]>([:])
    /// Work running under each company's lease, and the companies the keeper is giving back: those
    /// start no new work and are released once their running work has ended (a lease handed over
    /// mid-push would leave Intuit updated and the store not, its fence refusing the save).
    private let work = Mutex<(busy: [String: Int], releasing: Set<String>)>(([:], []))
    /// Told when work was asked for a company this instance does not hold (the keeper beats soon:
    /// a newly connected company, or one whose holder left, is taken without waiting a whole beat).
    private let missed = Mutex<(@Sendable () -> Void)?>(nil)

    private init(instance: String, shared: Bool) {
        self.instance = instance
        self.shared = shared
    }

    /// One instance alone on its store: it holds every company.
    static func sole() -> CompanyLeases { CompanyLeases(instance: "sole", shared: false) }

    /// One of several instances on a shared store; what it holds is set by its ``LeaseKeeper``.
    static func shared(instance: String = CompanyLeases.newInstanceName()) -> CompanyLeases { CompanyLeases(instance: instance, shared: true) }

    static func newInstanceName() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    func hold(_ realmID: String, now: Date = Date()) -> Hold {
        guard shared else { return .sole }
        guard let lease = held.withLock({ $0[realmID] }), lease.expiresAt > now, !work.withLock({ $0.releasing.contains(realmID) }) else {
            missed.withLock { $0 }?()
            return .elsewhere
        }
        return .held(lease)
    }

    /// Sets what ``hold(_:now:)`` tells when it answers ``Hold/elsewhere`` (the keeper's nudge).
    func onMiss(_ tell: @escaping @Sendable () -> Void) {
        missed.withLock { $0 = tell }
    }

    /// Runs `work` for the company as its hold allows: under its lease's fence, unfenced when this is
    /// the only instance, or not at all (nil) when another instance holds it.
    func withHold<Result: Sendable>(_ realmID: String, _ work: () async throws -> Result) async rethrows -> Result? {
        switch hold(realmID) {
        case .sole: return try await work()
        case .held(let lease): return try await working(under: lease, work)
        case .elsewhere: return nil
        }
    }

    /// Runs `body` under the lease's fence, counted as the company's running work (its lease is not
    /// given back while it runs).
    func working<Result>(under lease: CompanyLease, _ body: () async throws -> Result) async rethrows -> Result {
        work.withLock { $0.busy[lease.realmID, default: 0] += 1 }
        defer {
            let drained = work.withLock { work in
                work.busy[lease.realmID, default: 1] -= 1
                if work.busy[lease.realmID] == 0 { work.busy[lease.realmID] = nil }
                return work.busy[lease.realmID] == nil && work.releasing.contains(lease.realmID)
            }
            // A company waiting to be given back is free now: the keeper beats soon instead of next interval.
            if drained { missed.withLock { $0 }?() }
        }
        return try await CompanyFence.$lease.withValue(lease) { try await body() }
    }

    /// The keeper's plan gives these leases back: from now on they start no new work. Returns those
    /// free to release now and those whose running work must end first (kept, and renewed, until then).
    func beginRelease(_ leases: [CompanyLease]) -> (now: [CompanyLease], later: [CompanyLease]) {
        work.withLock { work in
            work.releasing = Set(leases.map(\.realmID))
            let later = leases.filter { work.busy[$0.realmID] != nil }
            return (leases.filter { work.busy[$0.realmID] == nil }, later)
        }
    }

    /// The leases held now, by realm.
    var current: [String: CompanyLease] { held.withLock { $0 } }

    /// What the keeper holds after a beat; returns the companies newly held.
    @discardableResult
    func replace(with leases: [CompanyLease]) -> [String] {
        held.withLock { held in
            let before = Set(held.keys)
            held = Dictionary(leases.map { ($0.realmID, $0) }, uniquingKeysWith: { $1 })
            let kept = Set(held.keys)
            work.withLock { $0.releasing.formIntersection(kept) }
            return held.keys.filter { !before.contains($0) }.sorted()
        }
    }
}
