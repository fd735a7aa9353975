import QBSyncCore
import QBSyncStore

/// The control protocol's method table: every method of spec/control-protocol.md the daemon serves.
enum MethodTable {
    static func build(
        state: DaemonState, hub: NotificationHub, store: any StoreBackend, connections: ConnectionManager, sync: SyncService, pipeline: FeedPipeline,
        calls: CompanyCalls = .sole()
    ) -> [String: RegisteredMethod] {
        let orgs = store.orgs
        let mappings = store.mappings
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
        // Pushes run on the instance holding the company's lease, wherever they arrive.
        add(OnHolder(CustomerSyncMethod(sync: sync), calls: calls))
        add(OnHolder(InvoiceSyncMethod(sync: sync), calls: calls))
        add(OnHolder(InvoiceRefreshMethod(sync: sync), calls: calls))
        add(EntityListMethod(mappings: mappings))
        add(InvoiceExplainMethod(mappings: mappings, history: store.invoiceHistory))
        add(AuditVerifyMethod(history: store.invoiceHistory, archives: store.logArchives))
        add(SyncSummaryMethod(mappings: mappings, grants: connections.repository))
        add(EventListMethod(repository: store.webhooks))
        add(EventRetryMethod(pipeline: pipeline))
        add(LogArchiveMethod(repository: store.logArchives, pipeline: pipeline))
        add(LogArchivesMethod(repository: store.logArchives))
        return table
    }
}
