import QBSyncCore
import QBSyncStore

/// The control protocol's method table: every method of spec/control-protocol.md has an entry.
enum MethodTable {
    /// Methods of the protocol that later capabilities implement, with their access and whether
    /// they call QuickBooks.
    static let upcoming: [(name: String, access: RPCAccess, requiresIntegration: Bool)] = [
        ("oauth.begin", .write, true),
        ("oauth.complete", .write, true),
        ("org.test", .write, true),
        ("org.disconnect", .write, true),
        ("token.refresh", .write, true),
        ("customer.sync", .write, true),
        ("invoice.sync", .write, true),
        ("invoice.refresh", .write, true),
        ("entity.list", .read, false),
        ("sync.summary", .read, false),
        ("event.list", .read, false),
        ("event.retry", .write, false),
    ]

    static func build(
        state: DaemonState, hub: NotificationHub, store: Store, connections: ConnectionManager?, sync: SyncService? = nil, pipeline: FeedPipeline? = nil
    ) -> [String: RegisteredMethod] {
        let orgs = OrgRepository(store: store)
        var table: [String: RegisteredMethod] = [:]
        func add<Method: RPCMethod>(_ method: Method) { table[Method.name] = RegisteredMethod(method) }
        func add<Method: SynchronousRPCMethod>(_ method: Method) { table[Method.name] = RegisteredMethod(method) }
        add(DaemonStatusMethod(state: state, hub: hub, governor: connections?.governor, pipeline: pipeline))
        add(OrgListMethod(orgs: orgs))
        add(OrgShowMethod(orgs: orgs))
        add(SubscribeMethod())
        if let connections {
            add(OAuthBeginMethod(connections: connections))
            add(OAuthCompleteMethod(connections: connections))
            add(OrgTestMethod(connections: connections))
            add(OrgDisconnectMethod(connections: connections))
            add(TokenRefreshMethod(connections: connections, orgs: orgs))
            add(SyncSummaryMethod(mappings: MappingRepository(store: store), connections: connections))
            add(QuotaShowMethod(governor: connections.governor))
        }
        if let sync {
            add(CustomerSyncMethod(sync: sync))
            add(InvoiceSyncMethod(sync: sync))
            add(InvoiceRefreshMethod(sync: sync))
        }
        add(EntityListMethod(mappings: MappingRepository(store: store)))
        add(EventListMethod(repository: WebhookRepository(store: store)))
        if let pipeline { add(EventRetryMethod(pipeline: pipeline)) }
        for method in upcoming where table[method.name] == nil {
            table[method.name] = .notYetAvailable(method.name, access: method.access, requiresIntegration: method.requiresIntegration)
        }
        return table
    }
}
