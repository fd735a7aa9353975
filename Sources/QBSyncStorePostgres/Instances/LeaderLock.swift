import PostgresNIO
import QBSyncCore

/// A singleton among instances (the Overdue pass, the sweep scheduler, the quota forecaster): a
/// session `pg_try_advisory_lock` held on one dedicated pooled connection for as long as the work
/// runs (Convoy's pglock). The server releases it when that connection ends, so a dead leader's
/// lock is free at once. Another instance asking meanwhile is told no, without waiting.
public struct LeaderLock: Sendable {
    let store: PostgresStore
    public let name: String
    /// The advisory lock key: FNV-1a of the name, so every instance derives the same one.
    public var key: Int64 { Int64(bitPattern: FNV1a.hash(Array("qbsyncd.leader.\(name)".utf8))) }

    public init(store: PostgresStore, name: String) {
        self.store = store
        self.name = name
    }

    /// Runs `body` as the leader and returns its result; nil, at once, when another session leads.
    /// The lock is released when `body` returns or throws.
    public func withLeadership<Result: Sendable>(_ body: @Sendable () async throws -> Result) async throws -> Result? {
        let key = key
        let logger = store.logger
        return try await store.client.withConnection { connection in
            var held = false
            for try await granted in try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger).decode(Bool.self) {
                held = granted
            }
            guard held else { return nil }
            do {
                let result = try await body()
                _ = try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                return result
            } catch {
                // try?: the unlock's own failure would hide the body's error; the lock dies with the connection anyway.
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                throw error
            }
        }
    }
}
