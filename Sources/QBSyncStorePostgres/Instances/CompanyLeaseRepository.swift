public import Foundation
import Logging
public import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// A fenced write found its lease gone: another instance holds the company now (or the lease ran
/// out). The write was not made.
public struct CompanyLeaseLost: CompanyLeaseLoss, Sendable, Equatable, CustomStringConvertible {
    public var realmID: String
    public var generation: Int64
    public var description: String { "the lease of company \(realmID) at generation \(generation) is no longer held" }
}

/// Company leases in `qb_company_leases`: who does one company's work when several instances share
/// the database. ``LeaseRules`` decides; this carries its decisions out under the row's lock, so two
/// instances never both hold a company, and every change of holder raises the generation that
/// fences the previous holder's writes (``withFence(_:now:_:)``).
///
/// Times are the caller's clock (instances keep NTP time; a skew shortens or lengthens a lease by
/// the skew, the generation fences either way).
public struct CompanyLeaseRepository: Sendable {
    let store: PostgresStore
    public let rules: LeaseRules

    public init(store: PostgresStore, rules: LeaseRules = LeaseRules()) {
        self.store = store
        self.rules = rules
    }

    /// What ``acquire(realmID:instance:now:)`` found.
    public enum Acquisition: Sendable, Equatable {
        /// This instance holds the lease (taken, or renewed when it held it already).
        case held(CompanyLease)
        /// Another live instance holds it: look again at its expiry.
        case heldByOther(CompanyLease)
    }

    /// Takes the company's lease, or renews it for its holder, as ``LeaseRules/decide(instance:lease:now:)``
    /// says, with the row locked (`FOR UPDATE`) from the look to the commit.
    public func acquire(realmID: String, instance: String, now: Date) async throws -> Acquisition {
        let rules = rules
        let logger = store.logger
        return try await store.write { connection in
            let until = now.addingTimeInterval(rules.duration)
            // A company never leased: the first insert takes generation 1; a concurrent one waits for
            // that commit, does nothing, and decides on the row below.
            let first = try await connection.query(
                """
                INSERT INTO qb_company_leases (realm_id, owner, expires_at, generation, acquired_at, renewed_at)
                VALUES (\(realmID), \(instance), \(until.millis), 1, \(now.millis), \(now.millis))
                ON CONFLICT (realm_id) DO NOTHING RETURNING generation
                """,
                logger: logger
            )
            for try await generation in first.decode(Int64.self) {
                return .held(CompanyLease(realmID: realmID, owner: instance, expiresAt: Date(millis: until.millis), generation: generation))
            }
            guard let current = try await Self.lease(realmID, lock: "FOR UPDATE", on: connection, logger: logger) else {
                throw PostgresStoreInvariant("a lease row neither inserted nor found")
            }
            switch rules.decide(instance: instance, lease: current, now: now) {
            case .wait:
                return .heldByOther(current)
            case .renew:
                try await connection.query(
                    "UPDATE qb_company_leases SET expires_at = \(until.millis), renewed_at = \(now.millis) WHERE realm_id = \(realmID)", logger: logger
                )
                return .held(CompanyLease(realmID: realmID, owner: instance, expiresAt: Date(millis: until.millis), generation: current.generation))
            case .take(let generation):
                try await connection.query(
                    """
                    UPDATE qb_company_leases SET owner = \(instance), expires_at = \(until.millis), generation = \(generation),
                        acquired_at = \(now.millis), renewed_at = \(now.millis)
                    WHERE realm_id = \(realmID)
                    """,
                    logger: logger
                )
                return .held(CompanyLease(realmID: realmID, owner: instance, expiresAt: Date(millis: until.millis), generation: generation))
            }
        }
    }

    /// The heartbeat: extends a held lease from `now`. Nil when it is no longer held (expired, or
    /// taken over): the holder stops the company's work.
    public func renew(_ lease: CompanyLease, now: Date) async throws -> CompanyLease? {
        let until = now.addingTimeInterval(rules.duration)
        let logger = store.logger
        return try await store.write { connection in
            let rows = try await connection.query(
                """
                UPDATE qb_company_leases SET expires_at = \(until.millis), renewed_at = \(now.millis)
                WHERE realm_id = \(lease.realmID) AND owner = \(lease.owner) AND generation = \(lease.generation) AND expires_at > \(now.millis)
                RETURNING expires_at
                """,
                logger: logger
            )
            for try await expiry in rows.decode(Int64.self) {
                var renewed = lease
                renewed.expiresAt = Date(millis: expiry)
                return renewed
            }
            return nil
        }
    }

    /// Gives a lease up (a graceful stop): it expires now, and the next holder's generation rises.
    public func release(_ lease: CompanyLease, now: Date) async throws {
        let logger = store.logger
        try await store.write { connection in
            _ = try await connection.query(
                """
                UPDATE qb_company_leases SET expires_at = LEAST(expires_at, \(now.millis))
                WHERE realm_id = \(lease.realmID) AND owner = \(lease.owner) AND generation = \(lease.generation)
                """,
                logger: logger
            )
        }
    }

    /// Gives up every lease `owner` holds, as stored (a graceful stop): a lease taken by a
    /// heartbeat that the stop cut short is given back too, not left to run out.
    public func releaseAll(owner: String, now: Date) async throws {
        let logger = store.logger
        try await store.write { connection in
            _ = try await connection.query(
                "UPDATE qb_company_leases SET expires_at = LEAST(expires_at, \(now.millis)) WHERE owner = \(owner) AND expires_at > \(now.millis)",
                logger: logger
            )
        }
    }

    /// Takes over up to `limit` expired leases (dead holders' companies), skipping rows another
    /// instance is taking at the same moment (`FOR UPDATE SKIP LOCKED`), each with its next generation.
    public func takeExpired(instance: String, now: Date, limit: Int) async throws -> [CompanyLease] {
        let until = now.addingTimeInterval(rules.duration)
        let logger = store.logger
        return try await store.write { connection in
            let rows = try await connection.query(
                """
                UPDATE qb_company_leases l SET owner = \(instance), expires_at = \(until.millis), generation = l.generation + 1,
                    acquired_at = \(now.millis), renewed_at = \(now.millis)
                WHERE l.realm_id IN (
                    SELECT realm_id FROM qb_company_leases WHERE expires_at <= \(now.millis) ORDER BY expires_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED
                )
                RETURNING l.realm_id, l.owner, l.expires_at, l.generation
                """,
                logger: logger
            )
            var taken: [CompanyLease] = []
            for try await (realm, owner, expiry, generation) in rows.decode((String, String, Int64, Int64).self) {
                taken.append(CompanyLease(realmID: realm, owner: owner, expiresAt: Date(millis: expiry), generation: generation))
            }
            return taken.sorted { $0.realmID < $1.realmID }
        }
    }

    /// The company's lease as stored (nil: never leased).
    public func lease(realmID: String) async throws -> CompanyLease? {
        let logger = store.logger
        return try await store.read { connection in try await Self.lease(realmID, lock: "", on: connection, logger: logger) }
    }

    /// Runs `body` in one transaction only while `lease` is current at `now`: the store's own fence
    /// (``PostgresStore/checkFence(_:now:on:logger:)``, what every write under ``CompanyFence`` gets)
    /// with the instant given. Otherwise throws ``CompanyLeaseLost`` and `body` never runs.
    public func withFence<Result: Sendable>(
        _ lease: CompanyLease, now: Date, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = store.logger
        return try await store.write { connection in
            try await PostgresStore.checkFence(lease, now: now, on: connection, logger: logger)
            return try await body(connection)
        }
    }

    static func lease(_ realmID: String, lock: StaticString, on connection: PostgresConnection, logger: Logger) async throws -> CompanyLease? {
        let rows = try await connection.query(
            "SELECT owner, expires_at, generation FROM qb_company_leases WHERE realm_id = \(realmID) \(unescaped: "\(lock)")", logger: logger
        )
        for try await (owner, expiry, generation) in rows.decode((String, Int64, Int64).self) {
            return CompanyLease(realmID: realmID, owner: owner, expiresAt: Date(millis: expiry), generation: generation)
        }
        return nil
    }
}
