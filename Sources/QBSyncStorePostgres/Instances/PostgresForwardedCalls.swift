public import Foundation
import Logging
import PostgresNIO
public import QBSyncCore
public import QBSyncStore

/// Calls forwarded to their company's holder, in `qb_forwarded_calls`; params and answers sealed
/// with the token key (bound to the call's id and company, so a row's ciphertext does not open in
/// another row).
public struct PostgresForwardedCalls: ForwardedCallStore {
    let store: PostgresStore
    let vault: TokenVault

    public init(store: PostgresStore, vault: TokenVault) {
        self.store = store
        self.vault = vault
    }

    static func paramsContext(_ call: ForwardedCall) -> String { "forwarded|\(call.id)|\(call.realmID)|\(call.method)|params" }
    static func answerContext(id: String, realmID: String) -> String { "forwarded|\(id)|\(realmID)|answer" }

    public func submit(_ call: ForwardedCall, now: Date, expiresAt: Date) async throws {
        let sealed = try vault.seal(call.params, context: Self.paramsContext(call))
        try await store.execute(
            """
            INSERT INTO qb_forwarded_calls (id, realm_id, method, params, origin, submitted_at, expires_at)
            VALUES (\(call.id), \(call.realmID), \(call.method), \(sealed), \(call.origin), \(now.millis), \(expiresAt.millis))
            """
        )
    }

    public func claim(_ leases: [CompanyLease], by instance: String, now: Date, limit: Int) async throws -> [ForwardedCall] {
        guard !leases.isEmpty else { return [] }
        let realms = leases.map(\.realmID)
        let generations = leases.map(\.generation)
        let logger = store.logger
        // SKIP LOCKED: two passes of one holder (or a holder and the next) never claim one row at once.
        let claimed = try await store.write { connection in
            try await connection.collect(
                """
                UPDATE qb_forwarded_calls c SET claimed_by = \(instance), claimed_generation = l.generation, claimed_at = \(now.millis)
                FROM unnest(\(realms)::text[], \(generations)::bigint[]) AS l(realm_id, generation)
                WHERE c.realm_id = l.realm_id AND c.id IN (
                    SELECT f.id FROM qb_forwarded_calls f
                    JOIN unnest(\(realms)::text[], \(generations)::bigint[]) AS h(realm_id, generation) ON h.realm_id = f.realm_id
                    WHERE f.answered_at IS NULL AND f.expires_at > \(now.millis)
                        AND (f.claimed_generation IS NULL OR f.claimed_generation < h.generation)
                    ORDER BY f.submitted_at LIMIT \(Int64(limit)) FOR UPDATE OF f SKIP LOCKED
                )
                RETURNING c.id, c.realm_id, c.method, c.params, c.origin
                """,
                logger: logger, { row in try row.decode((String, String, String, Data, String).self) }
            )
        }
        return try claimed.map { id, realm, method, sealed, origin in
            var call = ForwardedCall(id: id, realmID: realm, method: method, params: Data(), origin: origin)
            call.params = try vault.open(sealed, context: Self.paramsContext(call))
            return call
        }
    }

    public func answer(_ call: ForwardedCall, with answer: Data, now: Date) async throws {
        let sealed = try vault.seal(answer, context: Self.answerContext(id: call.id, realmID: call.realmID))
        try await store.execute("UPDATE qb_forwarded_calls SET answer = \(sealed), answered_at = \(now.millis) WHERE id = \(call.id)")
    }

    public func answer(of id: String, realmID: String) async throws -> Data? {
        guard let sealed = try await store.first("SELECT answer FROM qb_forwarded_calls WHERE id = \(id) AND answered_at IS NOT NULL", as: Data.self) else {
            return nil
        }
        return try vault.open(sealed, context: Self.answerContext(id: id, realmID: realmID))
    }

    public func remove(_ id: String) async throws -> Bool {
        let logger = store.logger
        let claimed = try await store.write { connection in
            try await connection.collect("DELETE FROM qb_forwarded_calls WHERE id = \(id) RETURNING claimed_by IS NOT NULL", logger: logger, Bool.self)
        }
        return claimed.first ?? false
    }

    public func sweep(expiredBefore cutoff: Date) async throws -> Int {
        let logger = store.logger
        return try await store.write { connection in
            try await connection.collect("DELETE FROM qb_forwarded_calls WHERE expires_at < \(cutoff.millis) RETURNING 1", logger: logger, Int32.self).count
        }
    }
}
