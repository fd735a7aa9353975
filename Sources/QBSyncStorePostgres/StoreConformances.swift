public import QBSyncStore

/// The PostgreSQL repositories as the backend-neutral stores the daemon holds (QBSyncStore's
/// `Protocols/`): the same calls as the SQLite repositories, so each conformance is one line.
extension PostgresConnectionRepository: ConnectionStore {}
extension PostgresOrgRepository: OrgStore {}
extension PostgresMappingRepository: MappingStore {}
extension PostgresInvoiceHistoryRepository: InvoiceHistoryStore {}
extension PostgresFeedStateRepository: FeedStateStore {}
extension PostgresReadQuotaRepository: ReadQuotaStore {}
extension PostgresLogArchiveRepository: LogArchiveStore {}
extension PostgresWebhookRepository: WebhookLog {}
