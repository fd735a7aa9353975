public import QBSyncCore
public import QBSyncStore

/// The PostgreSQL store as a ``StoreBackend``: each repository is a cheap value over the same
/// pool, and ``health`` is kept by every write transaction and the daemon's write probe.
extension PostgresStore: StoreBackend {
    /// `postgresql postgres://USER@HOST:PORT/DATABASE (schema …)`: never the password.
    public var description: String { "postgresql \(configuration)" }

    public func connections(vault: TokenVault) -> any ConnectionStore { PostgresConnectionRepository(store: self, vault: vault) }
    public var orgs: any OrgStore { PostgresOrgRepository(store: self) }
    public var mappings: any MappingStore { PostgresMappingRepository(store: self) }
    public var invoiceHistory: any InvoiceHistoryStore { PostgresInvoiceHistoryRepository(store: self) }
    public var feedStates: any FeedStateStore { PostgresFeedStateRepository(store: self) }
    public var readQuota: any ReadQuotaStore { PostgresReadQuotaRepository(store: self) }
    public var logArchives: any LogArchiveStore { PostgresLogArchiveRepository(store: self, directory: archiveDirectory) }
    public var webhooks: any WebhookLog { PostgresWebhookRepository(store: self) }
    /// Several instances may share the database: company work goes by lease.
    public func leaseTable(rules: LeaseRules) -> (any LeaseTable)? { PostgresLeaseTable(store: self, rules: rules) }
    public func forwardedCalls(vault: TokenVault) -> (any ForwardedCallStore)? { PostgresForwardedCalls(store: self, vault: vault) }
    /// Under ``LeaderLock`` (a session advisory lock, free at once when its holder dies).
    public func asLeader<Result: Sendable>(_ name: String, _ body: @Sendable () async throws -> Result) async throws -> Result? {
        try await LeaderLock(store: self, name: name).withLeadership(body)
    }

    /// One write transaction (the SQLite store's probe row); ``write(_:)`` records its outcome.
    @discardableResult
    public func isWritable() async -> Bool {
        do {
            try await execute("UPDATE store_health SET checked_at = CURRENT_TIMESTAMP::text WHERE id = 1")
            return true
        } catch {
            // One-row errors are not recorded by `write`; the probe's own failure always is.
            health.writeFailed(PostgresFailure(error))
            return false
        }
    }

    /// Whether a read answers (liveness: the server refusing writes does not fail it).
    public func isReadable() async -> Bool {
        (try? await first("SELECT COUNT(*) FROM store_health", as: Int64.self)) != nil  // try?: any failure is the answer
    }

    /// Nothing to check: the server keeps its own files consistent (WAL, checksums where enabled)
    /// and a client cannot check them; a damaged page surfaces as a failed statement, which
    /// ``health`` records. The result is always `.ok`.
    public func checkIntegrity() async {
        health.integrityChecked(.ok)
    }

    /// The migrations the database had recorded after ``migrate()``, oldest first.
    public func appliedMigrations() throws -> [String] {
        guard let applied = applied.withLock({ $0 }) else {
            throw StoreError(.migrationFailed, "the PostgreSQL store has not been migrated yet (call migrate() first)")
        }
        return applied
    }

    /// Nothing to flush: every commit is durable on the server. The pool itself stops when its
    /// ``run()`` is cancelled, which the owner does after this.
    public func close() throws {}
}
