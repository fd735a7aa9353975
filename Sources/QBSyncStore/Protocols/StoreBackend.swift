public import QBSyncCore

/// One store behind the daemon (the embedded SQLite ``Store``, or PostgreSQL): it vends the
/// repositories, reports its health and closes. The services hold these protocols, never a
/// backend's types, so a backend can be added without touching them.
public protocol StoreBackend: Sendable, CustomStringConvertible {
    /// The cached result of the last write and of the integrity check.
    var health: StoreHealth { get }
    /// Which backend and where, for logs and status lines: never a password or other credential.
    var description: String { get }

    /// Connections and tokens, sealed and opened with `vault`.
    func connections(vault: TokenVault) -> any ConnectionStore
    var orgs: any OrgStore { get }
    var mappings: any MappingStore { get }
    var invoiceHistory: any InvoiceHistoryStore { get }
    var feedStates: any FeedStateStore { get }
    var readQuota: any ReadQuotaStore { get }
    var logArchives: any LogArchiveStore { get }
    var webhooks: any WebhookLog { get }
    /// The company leases of several instances sharing this store; nil when one instance is alone
    /// on it (SQLite), which then does every company's work unfenced.
    func leaseTable(rules: LeaseRules) -> (any LeaseTable)?
    /// Control calls forwarded to their company's holder, sealed with `vault`; nil alone on the
    /// store (that instance holds every company).
    func forwardedCalls(vault: TokenVault) -> (any ForwardedCallStore)?
    /// Runs `body` on one instance at a time among those sharing the store, for work that must run
    /// once (the Overdue pass); nil, at once, when another instance leads. Alone, it always runs.
    func asLeader<Result: Sendable>(_ name: String, _ body: @Sendable () async throws -> Result) async throws -> Result?
    /// Tells every instance sharing the store (this one too) `payload`, outside any write
    /// transaction: a wake-up, never the truth. Alone on a store, no one is told.
    func announce(_ payload: String) async throws
    /// Calls `each` with every announcement until cancelled; throws when the store's connection for
    /// it fails (call again). Alone on a store, it returns at once.
    func listen(_ each: @escaping @Sendable (String) async -> Void) async throws

    /// Whether a write can commit now; the result is kept in ``health``.
    @discardableResult
    func isWritable() async -> Bool
    /// Whether a read answers (liveness: a full disk does not fail it).
    func isReadable() async -> Bool
    /// The integrity check the start deferred, if any; its result is kept in ``health``.
    func checkIntegrity() async
    /// The names of the schema migrations applied, oldest first.
    func appliedMigrations() throws -> [String]
    /// Flushes and closes the store; nothing may use it after.
    func close() throws
}

extension StoreBackend {
    public func leaseTable(rules: LeaseRules) -> (any LeaseTable)? { nil }
    public func forwardedCalls(vault: TokenVault) -> (any ForwardedCallStore)? { nil }
    public func asLeader<Result: Sendable>(_ name: String, _ body: @Sendable () async throws -> Result) async throws -> Result? { try await body() }
    public func announce(_ payload: String) async throws {}
    public func listen(_ each: @escaping @Sendable (String) async -> Void) async throws {}
}
