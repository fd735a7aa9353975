/// The SQLite repositories as the backend-neutral stores the daemon holds (`Protocols/`).
extension ConnectionRepository: ConnectionStore {}
extension OrgRepository: OrgStore {}
extension MappingRepository: MappingStore {}
extension InvoiceHistoryRepository: InvoiceHistoryStore {}
extension FeedStateRepository: FeedStateStore {}
extension ReadQuotaRepository: ReadQuotaStore {}
extension LogArchiveRepository: LogArchiveStore {}
extension WebhookRepository: WebhookLog {}
