import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Testing
@testable import QBSyncDaemon

/// The dispatcher over a real temporary store and the daemon's real method table, with synthetic peers.
@Suite struct RPCDispatcherTests {
    struct Fixture {
        let directory: TempDirectory
        let store: Store
        let dispatcher: RPCDispatcher
        let hub: NotificationHub

        init(environment: [String: String] = [:], readonlyGroup: Bool = false) async throws {
            directory = try TempDirectory()
            var environment = environment
            environment["QBSYNCD_CONFIG"] = try directory.write("empty.conf", "")
            environment["QBSYNCD_STATE_DIR"] = directory.path
            let settings = try await Settings.load(environment: environment).get()
            store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
            let state = DaemonState(settings: settings, orgCounts: OrgStatusCounts())
            hub = NotificationHub(logger: Logger(label: "test"))
            let logger = Logger(label: "test")
            let (_, changes) = AsyncStream.makeStream(of: ConnectionManager.ScheduleChange.self)
            let connections = ConnectionManager(
                repository: ConnectionRepository(store: store, vault: TokenVault(key: TokenKey.generate())), orgs: OrgRepository(store: store), items: MappingRepository(store: store),
                state: state,
                hub: hub, http: HTTPClient.shared, governor: try await ReadGovernor.load(repository: ReadQuotaRepository(store: store), state: state, hub: hub, logger: logger),
                scheduleChanges: changes, logger: logger
            )
            let sync = SyncService(connections: connections, mappings: MappingRepository(store: store), logger: logger)
            let pipeline = FeedPipeline(
                worker: FeedWorker(webhooks: WebhookRepository(store: store), feeds: FeedStateRepository(store: store), sync: sync, logger: logger), state: state
            )
            let methods = MethodTable.build(state: state, hub: hub, store: store, connections: connections, sync: sync, pipeline: pipeline)
            dispatcher = RPCDispatcher(methods: methods, state: state)
        }

        func call(_ line: String, peer: PeerCredentials = PeerCredentials(pid: 1, uid: 0, gid: 0, groups: [])) async throws -> JSONValue? {
            let (_, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            let connection = ConnectionContext(
                id: 1, logger: Logger(label: "test"), notifications: NotificationSink(connectionID: 1, continuation: continuation, hub: hub)
            )
            var output = ByteBuffer()
            await dispatcher.handle(line: ByteBuffer(string: line), peer: peer, connection: connection, into: &output)
            if output.readableBytes == 0 { return nil }
            #expect(output.readableBytesView.last == UInt8(ascii: "\n"))
            return try JSONDecoder().decode(JSONValue.self, from: Data(output.readableBytesView))
        }

        func cleanUp() { directory.remove() }
    }

    @Test func aClientNotificationRunsWithoutAResponse() async throws {
        let fixture = try await Fixture()
        defer { fixture.cleanUp() }
        #expect(try await fixture.call(#"{"jsonrpc":"2.0","method":"subscribe"}"#) == nil)
        #expect(fixture.hub.subscriberCount == 1, "the notification was executed")
    }

    @Test func everyProtocolMethodIsKnown() async throws {
        let fixture = try await Fixture()
        defer { fixture.cleanUp() }
        let methods = [
            "daemon.status", "org.list", "org.show", "oauth.begin", "oauth.complete", "org.test", "org.disconnect", "token.refresh",
            "customer.sync", "invoice.sync", "invoice.refresh", "entity.list", "sync.summary", "event.list", "event.retry", "subscribe",
            "quota.show", "invoice.explain", "audit.verify", "log.archive", "log.archives",
        ]
        #expect(Set(fixture.dispatcher.methods.keys) == Set(methods))
    }

    @Test func qboMethodsAnswerIntegrationDisabledWithTheMissingNames() async throws {
        let fixture = try await Fixture()
        defer { fixture.cleanUp() }
        for method in ["oauth.begin", "oauth.complete", "org.test", "org.disconnect", "token.refresh", "customer.sync", "invoice.sync", "invoice.refresh"] {
            let response = try await fixture.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{}}"#)
            #expect(response?["error"]?["code"] == 1001, "\(method)")
            #expect(response?["error"]?["data"]?["missing"] == .array(SettingKey.integrationRequired.map { .string($0) }), "\(method)")
        }
    }

    @Test func aPeerWithNoAccessIsForbiddenEverything() async throws {
        let fixture = try await Fixture(environment: ["QBSYNCD_CONTROL_GROUP": "root"])
        defer { fixture.cleanUp() }
        let stranger = PeerCredentials(pid: 1, uid: 4321, gid: 4321, groups: [])
        let response = try await fixture.call(#"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"#, peer: stranger)
        #expect(response?["error"]?["code"] == 1011)
        #expect(response?["error"]?["data"]?["reason"] == "forbidden")
        let member = PeerCredentials(pid: 1, uid: 4321, gid: 4321, groups: [0])
        #expect(try await fixture.call(#"{"jsonrpc":"2.0","id":2,"method":"daemon.status"}"#, peer: member)?["result"] != nil)
    }

    @Test func aReadOnlyPeerMayReadButNotWrite() async throws {
        let fixture = try await Fixture(environment: ["QBSYNCD_READONLY_GROUP": "root", "QBSYNCD_CONTROL_GROUP": "nogroup"])
        defer { fixture.cleanUp() }
        let reader = PeerCredentials(pid: 1, uid: 4321, gid: 0, groups: [])
        for method in ["daemon.status", "org.list", "subscribe"] {
            #expect(try await fixture.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)"}"#, peer: reader)?["result"] != nil, "\(method)")
        }
        for method in ["invoice.sync", "org.disconnect", "event.retry"] {
            let response = try await fixture.call(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":{}}"#, peer: reader)
            #expect(response?["error"]?["data"]?["reason"] == "forbidden", "\(method)")
        }
    }

    @Test func orgShowIsNotFoundForAnUnknownOrgAndShowsAKnownOne() async throws {
        let fixture = try await Fixture()
        defer { fixture.cleanUp() }
        let missing = try await fixture.call(#"{"jsonrpc":"2.0","id":"a","method":"org.show","params":{"org":"acme"}}"#)
        #expect(missing?["error"]?["data"]?["reason"] == "not_found")
        #expect(missing?["id"] == "a")
        try await OrgRepository(store: fixture.store).ensure(OrgID("acme")!)
        let found = try await fixture.call(#"{"jsonrpc":"2.0","id":"b","method":"org.show","params":{"org":"acme"}}"#)
        #expect(found?["result"]?["org"] == "acme")
        #expect(found?["result"]?["status"] == "disconnected")
        #expect(found?["result"]?["lastError"] == .null, "absent members are present as null")
    }
}

/// What a caller's method name may put in the journal (L5).
@Suite struct LoggableMethodTests {
    @Test func methodNamesAreCutAndCleanedBeforeTheyAreLogged() {
        #expect(RPCContext.loggable("invoice.sync") == "invoice.sync")
        #expect(RPCContext.loggable("a\nb\u{1b}[31mc\u{0}é") == "a?b?[31mc??")
        let long = RPCContext.loggable(String(repeating: "x", count: 1 << 20))
        #expect(long.count == 65 && long.hasSuffix("…"), "64 characters and a mark, not a megabyte")
    }
}
