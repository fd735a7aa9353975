import Foundation
import Logging
import QBSyncCore
import QBSyncStore
@testable import QBSyncDaemon
import QBTestSupport
import Synchronization
import Testing

/// Instances sharing companies through their heartbeats, on one in-memory lease table that behaves
/// as the database's (a row per company, the generation bumped by every change of holder), at
/// instants the test chooses.
@Suite struct LeaseKeeperTests {
    let rules = LeaseRules(duration: 90)
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func keeper(_ name: String, _ table: MemoryLeaseTable, taken: @escaping @Sendable ([String], [String]) -> Void = { _, _ in }) -> LeaseKeeper {
        LeaseKeeper(table: table, leases: .shared(instance: name), rules: rules, logger: Logger(label: "test"), taken: taken)
    }

    @Test func twoInstancesSplitTheCompaniesAndEachWorksOnlyOnItsOwn() async throws {
        let table = MemoryLeaseTable(companies: ["r1", "r2", "r3", "r4"])
        let newlyTaken = Mutex<[String: [String]]>([:])
        let a = keeper("a", table) { realms, _ in newlyTaken.withLock { $0["a", default: []] += realms } }
        let b = keeper("b", table) { realms, over in newlyTaken.withLock { $0["b", default: []] += realms; $0["b over", default: []] += over } }
        try await a.beat(now: t0)
        #expect(a.leases.current.count == 4, "alone, it takes every company")
        var now = t0
        for _ in 0..<4 {
            now = now.addingTimeInterval(rules.renewInterval)
            try await b.beat(now: now)
            try await a.beat(now: now)
        }
        #expect(a.leases.current.count == 2 && b.leases.current.count == 2)
        #expect(Set(a.leases.current.keys).isDisjoint(with: b.leases.current.keys))
        #expect(newlyTaken.withLock { $0["b"]?.count } == 2, "b was told of each company it took")
        #expect(newlyTaken.withLock { $0["b over"]?.count } == 2 && newlyTaken.withLock { $0["a over"] } == nil, "b's were a's before; a leased each for the first time")

        // Work runs only where the company is held, under its lease.
        let realmOfB = try #require(b.leases.current.keys.first)
        #expect(await a.leases.withHold(realmOfB) { "ran" } == nil)
        let fence = await b.leases.withHold(realmOfB) { CompanyFence.lease }
        #expect(fence??.owner == "b" && fence??.realmID == realmOfB)
    }

    @Test func aLeaseGivenBackWaitsForTheCompanysRunningWorkAndStartsNoNewWork() async throws {
        let table = MemoryLeaseTable(companies: ["r1", "r2"])
        let a = keeper("a", table)
        let b = keeper("b", table)
        try await a.beat(now: t0)
        #expect(a.leases.current.count == 2)
        // A push runs for each of a's companies while b joins: a's plan gives one back.
        // One release stream per push (an AsyncStream has one consumer at a time).
        let releases = ["r1", "r2"].map { _ in AsyncStream.makeStream(of: Void.self) }
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let leases = a.leases
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                for (realm, release) in zip(["r1", "r2"], releases.map(\.stream)) {
                    group.addTask {
                        _ = await leases.withHold(realm) {
                            startedContinuation.yield()
                            for await _ in release { break }
                        }
                    }
                }
            }
        }
        var starts = started.makeAsyncIterator()
        _ = await starts.next()
        _ = await starts.next()
        var now = t0.addingTimeInterval(rules.renewInterval)
        try await b.beat(now: now)
        try await a.beat(now: now)
        #expect(a.leases.current.count == 2, "nothing is given back mid-push")
        let leaving = try #require(Set(["r1", "r2"]).first { a.leases.hold($0, now: now) == .elsewhere }, "one company is on its way out")
        #expect(await a.leases.withHold(leaving) { "ran" } == nil, "and starts no new work")
        // The pushes end: the next beat gives it back, and b takes it.
        for release in releases { release.continuation.finish() }
        await running.value
        now = now.addingTimeInterval(rules.renewInterval)
        try await a.beat(now: now)
        try await b.beat(now: now)
        #expect(a.leases.current.count == 1 && a.leases.current[leaving] == nil)
        #expect(b.leases.current[leaving] != nil)
    }

    @Test func aKilledInstancesCompaniesMoveWithinTheFailoverBound() async throws {
        let table = MemoryLeaseTable(companies: ["r1", "r2", "r3", "r4"])
        let a = keeper("a", table)
        let b = keeper("b", table)
        try await a.beat(now: t0)
        try await b.beat(now: t0)
        var now = t0
        for _ in 0..<4 {
            now = now.addingTimeInterval(rules.renewInterval)
            try await a.beat(now: now)
            try await b.beat(now: now)
        }
        let killedAt = now
        let bHeld = Set(b.leases.current.keys)
        #expect(bHeld.count == 2)
        // b is killed: no release, no more beats.
        while a.leases.current.count < 4 {
            now = now.addingTimeInterval(rules.renewInterval)
            try await a.beat(now: now)
            #expect(now.timeIntervalSince(killedAt) <= rules.failoverBound, "a takes b's companies within \(rules.failoverBound) s")
        }
        // b's old generation is fenced: a holds each of them at a later generation.
        for realm in bHeld { #expect(a.leases.current[realm]!.generation > 1) }
        #expect(b.leases.hold(bHeld.first!, now: now) == .elsewhere, "b's own view ran out with its leases")
    }

    @Test func aGracefulStopHandsTheCompaniesOverAtTheNextBeat() async throws {
        let table = MemoryLeaseTable(companies: ["r1", "r2"])
        let a = keeper("a", table)
        let b = keeper("b", table)
        try await a.beat(now: t0)
        try await b.beat(now: t0)
        await a.releaseAll(now: t0.addingTimeInterval(1))
        try await b.beat(now: t0.addingTimeInterval(rules.renewInterval))
        #expect(b.leases.current.count == 2)
        #expect(table.instances.withLock { $0.keys.sorted() } == ["b"])
    }

    @Test func aLeaseTakenByABeatTheStopCutShortIsGivenBackToo() async throws {
        let table = MemoryLeaseTable(companies: ["r1", "r2"])
        let a = keeper("a", table)
        let b = keeper("b", table)
        try await a.beat(now: t0)
        // A company connects; a's next beat takes it in the database, and the stop cancels the beat
        // before it hears the answer: a never learns it holds r3.
        table.add("r3")
        table.cutShortNextAcquire()
        let beat = t0.addingTimeInterval(rules.renewInterval)
        await #expect(throws: CancellationError.self) { try await a.beat(now: beat) }
        #expect(table.rows.withLock { $0["r3"]?.owner } == "a")
        #expect(a.leases.current["r3"] == nil)
        await a.releaseAll(now: beat.addingTimeInterval(1))
        // b takes all three at its next beat, not a lease length later.
        try await b.beat(now: beat.addingTimeInterval(2))
        #expect(b.leases.current.keys.sorted() == ["r1", "r2", "r3"])
    }

    @Test func workForACompanyNotHeldHereBringsTheNextBeatForwardAndAStopGivesEverythingBack() async throws {
        let table = MemoryLeaseTable(companies: ["r1"])
        let keeper = LeaseKeeper(table: table, leases: .shared(instance: "a"), rules: LeaseRules(duration: 600), logger: Logger(label: "test")) { _, _ in }
        let running = Task { try await keeper.run() }
        defer { running.cancel() }
        // The first beat, at start, takes r1.
        _ = try await eventually(timeout: .seconds(30), "the first beat taking r1") { keeper.leases.current["r1"] }
        // A company connected after it: work asked for it nudges a beat long before the 100 s interval.
        table.add("r2")
        #expect(keeper.leases.hold("r2") == .elsewhere)
        _ = try await eventually(timeout: .seconds(30), "a nudged beat taking r2") { keeper.leases.current["r2"] }
        running.cancel()
        _ = try? await running.value
        #expect(table.rows.withLock { rows in rows.values.allSatisfy { $0.expiresAt <= Date() } }, "stopping released every lease")
    }

    @Test func aHeartbeatSlowerThanItsIntervalIsLoggedAsAWarning() async throws {
        let table = MemoryLeaseTable(companies: ["r1"])
        let records = LogRecords()
        let logger = Logger(label: "test") { _ in records }
        // A 1.2 s lease is renewed every 200 ms; the table answers at once, then in 300 ms (on the keeper's clock).
        let keeper = LeaseKeeper(
            table: table, leases: .shared(instance: "a"), rules: LeaseRules(duration: 1.2), logger: logger, clock: { table.clock.withLock { $0 } }
        ) { _, _ in }
        await keeper.beatLogged(now: Date())
        #expect(records.warnings.isEmpty, "a beat within its interval is not worth a warning: \(records.warnings)")
        table.latency.withLock { $0 = .milliseconds(300) }
        await keeper.beatLogged(now: Date())
        let warning = try #require(records.warnings.first)
        #expect(warning.message == "a company lease heartbeat took longer than its interval")
        #expect(warning.metadata[LogKey.beatMillis] == "300")
    }

    @Test func theSoleInstanceHoldsEveryCompanyUnfenced() async {
        let sole = CompanyLeases.sole()
        #expect(sole.hold("any") == .sole)
        #expect(await sole.withHold("any") { CompanyFence.lease == nil } == true)
    }
}

/// The database's lease table and instance registry, in memory, with the same rules.
final class MemoryLeaseTable: LeaseTable {
    let rules = LeaseRules(duration: 90)
    let rows = Mutex<[String: CompanyLease]>([:])
    let instances = Mutex<[String: Date]>([:])
    let work: Mutex<Set<String>>

    init(companies: Set<String>) { work = Mutex(companies) }

    func add(_ realm: String) { _ = work.withLock { $0.insert(realm) } }

    /// The next acquire is committed, then throws as if its task were cancelled before the answer came.
    func cutShortNextAcquire() { cutShort.withLock { $0 = true } }
    private let cutShort = Mutex(false)

    func beat(instance: String, now: Date) async throws -> Int {
        instances.withLock { seen in
            seen[instance] = now
            return seen.values.filter { $0 > now.addingTimeInterval(-rules.aliveWindow) }.count
        }
    }

    func leases() async throws -> [CompanyLease] { rows.withLock { Array($0.values) } }

    func acquire(realmID: String, instance: String, now: Date) async throws -> CompanyLease? {
        let lease = rows.withLock { rows -> CompanyLease? in
            let generation: Int64
            switch rules.decide(instance: instance, lease: rows[realmID], now: now) {
            case .wait: return nil
            case .renew: generation = rows[realmID]!.generation
            case .take(let next): generation = next
            }
            let lease = CompanyLease(realmID: realmID, owner: instance, expiresAt: now.addingTimeInterval(rules.duration), generation: generation)
            rows[realmID] = lease
            return lease
        }
        if lease != nil, cutShort.withLock({ cut in defer { cut = false }; return cut }) { throw CancellationError() }
        return lease
    }

    func renew(_ lease: CompanyLease, now: Date) async throws -> CompanyLease? {
        rows.withLock { rows in
            guard let stored = rows[lease.realmID], stored.owner == lease.owner, stored.generation == lease.generation, stored.expiresAt > now else { return nil }
            rows[lease.realmID]!.expiresAt = now.addingTimeInterval(rules.duration)
            return rows[lease.realmID]
        }
    }

    func release(_ lease: CompanyLease, now: Date) async throws {
        rows.withLock { rows in
            guard let stored = rows[lease.realmID], stored.owner == lease.owner, stored.generation == lease.generation else { return }
            rows[lease.realmID]!.expiresAt = min(stored.expiresAt, now)
        }
    }

    func leave(instance: String, now: Date) async throws {
        rows.withLock { rows in
            for (realm, lease) in rows where lease.owner == instance { rows[realm]!.expiresAt = min(lease.expiresAt, now) }
        }
        _ = instances.withLock { $0.removeValue(forKey: instance) }
    }

    /// A clock for a keeper that times its beats: listing the companies advances it by `latency`
    /// (a database under load), and nothing else moves it.
    let clock = Mutex(ContinuousClock.now)
    let latency = Mutex(Duration.zero)

    func companies() async throws -> Set<String> {
        let latency = latency.withLock { $0 }
        clock.withLock { $0 += latency }
        return work.withLock { $0 }
    }
}

/// A log handler that keeps what it is given (warnings and above), for tests of what an operator sees.
final class LogRecords: LogHandler, Sendable {
    struct Record: Sendable {
        var message: String
        var metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])
    var warnings: [Record] { records.withLock { $0 } }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }
    var logLevel: Logger.Level {
        get { .warning }
        set {}
    }
    subscript(metadataKey _: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let record = Record(message: "\(event.message)", metadata: (event.metadata ?? [:]).mapValues { "\($0)" })
        records.withLock { $0.append(record) }
    }
}
