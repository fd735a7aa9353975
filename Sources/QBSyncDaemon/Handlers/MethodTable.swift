import QBSyncCore
import QBSyncStore

/// The control protocol's method table: every method of spec/control-protocol.md the daemon serves.
enum MethodTable {
    static func build(
        state: DaemonState, hub: NotificationHub, store: Store, connections: ConnectionManager, sync: SyncService, pipeline: FeedPipeline
    ) -> [String: RegisteredMethod] {
        let orgs = OrgRepository(store: store)
        let mappings = MappingRepository(store: store)
        var table: [String: RegisteredMethod] = [:]
        func add<Method: RPCMethod>(_ method: Method) { table[Method.name] = RegisteredMethod(method) }
        func add<Method: SynchronousRPCMethod>(_ method: Method) { table[Method.name] = RegisteredMethod(method) }
        add(DaemonStatusMethod(state: state, hub: hub, governor: connections.clients.governor, pipeline: pipeline))
        add(OrgListMethod(orgs: orgs))
        add(OrgShowMethod(orgs: orgs))
        add(SubscribeMethod())
        add(OAuthBeginMethod(connections: connections))
        add(OAuthCompleteMethod(connections: connections))
        add(OrgTestMethod(access: connections.access))
        add(OrgDisconnectMethod(connections: connections))
        add(TokenRefreshMethod(refresher: connections.refresher, orgs: orgs))
        add(QuotaShowMethod(governor: connections.clients.governor))
        add(CustomerSyncMethod(sync: sync))
        add(InvoiceSyncMethod(sync: sync))
        add(InvoiceRefreshMethod(sync: sync))
        add(EntityListMethod(mappings: mappings))
        add(InvoiceExplainMethod(mappings: mappings, history: InvoiceHistoryRepository(store: store)))
        add(AuditVerifyMethod(history: InvoiceHistoryRepository(store: store), archives: LogArchiveRepository(store: store)))
        add(SyncSummaryMethod(mappings: mappings, grants: connections.repository))
        add(EventListMethod(repository: WebhookRepository(store: store)))
        add(EventRetryMethod(pipeline: pipeline))
        add(LogArchiveMethod(repository: LogArchiveRepository(store: store), pipeline: pipeline))
        add(LogArchivesMethod(repository: LogArchiveRepository(store: store)))
        return table
    }
}
