/// The embedded SQLite store as a ``StoreBackend``: each repository is a cheap value over the
/// same database pool.
extension Store: StoreBackend {
    /// `sqlite <path>`.
    public var description: String { "sqlite \(path)" }

    public func connections(vault: TokenVault) -> any ConnectionStore { ConnectionRepository(store: self, vault: vault) }
    public var orgs: any OrgStore { OrgRepository(store: self) }
    public var mappings: any MappingStore { MappingRepository(store: self) }
    public var invoiceHistory: any InvoiceHistoryStore { InvoiceHistoryRepository(store: self) }
    public var feedStates: any FeedStateStore { FeedStateRepository(store: self) }
    public var readQuota: any ReadQuotaStore { ReadQuotaRepository(store: self) }
    public var logArchives: any LogArchiveStore { LogArchiveRepository(store: self) }
    public var webhooks: any WebhookLog { WebhookRepository(store: self) }
}
