import Foundation
import Logging
import QBControlClient
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Synchronization
import Testing

/// The real `qbsyncd` binary over its real control socket.
@Suite(.timeLimit(.minutes(2))) struct ControlSocketTests {
    @Test func everyMethodAnswersAsTheContractSays() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        // Given an organisation the store already knows
        try await daemon.seed(orgs: ["acme"])
        try await daemon.start()
        let client = try await daemon.connect()

        let status = try await client.call(DaemonStatusCall.self)
        #expect(status.version == QBSyncVersion.current)
        #expect(Timestamp.parse(status.startedAt) != nil)
        #expect(status.uptimeSeconds >= 0)
        #expect(status.integration.enabled == false)
        #expect(status.integration.missing == SettingKey.integrationRequired)
        #expect(status.integration.environment == "sandbox")
        #expect(status.orgs == .init(total: 1, connected: 0, needsReauthorization: 0))
        #expect(status.webhook.accepted == 0)
        #expect(status.webhook.rejected == 0)
        let listen = status.webhook.listen
        #expect(listen.wholeMatch(of: /127\.0\.0\.1:[1-9]\d*/) != nil, "the real bound port, not the 0 asked for")
        #expect(status.events == .init(pending: 0, failed: 0))

        let list = try await client.call(OrgListCall.self, .init())
        #expect(list.orgs.count == 1)
        // The wire shape: every member present, null when unknown.
        let acme = try await client.answer(OrgShowCall.self, OrgParams(org: .test("acme"))).json
        #expect(acme["org"] == "acme")
        #expect(acme["status"] == "disconnected")
        for key in ["realmId", "companyName", "environment", "connectedAt", "accessTokenExpiresAt", "refreshTokenExpiresAt", "lastRefreshAt", "lastError"] {
            #expect(acme[key] == .null, "\(key) is present and null")
        }
        await #expect {
            _ = try await client.call(OrgShowCall.self, OrgParams(org: .test("nobody")))
        } throws: { ($0 as? ControlClientError)?.rpcError?.reason == "not_found" }

        let subscriber = try await daemon.connect()
        #expect(try await subscriber.call(SubscribeCall.self, .init(topics: ["invoice.status_changed"])).subscribed == true)
        #expect(try await client.call(DaemonStatusCall.self).subscribers == 1)
        await subscriber.close()
        _ = try await eventually("the subscriber is forgotten when its connection closes") {
            try await client.call(DaemonStatusCall.self).subscribers == 0 ? true : nil
        }

        for method in ["oauth.begin", "oauth.complete", "org.test", "org.disconnect", "token.refresh", "customer.sync", "invoice.sync", "invoice.refresh"] {
            await #expect {
                _ = try await client.call(method, params: ["org": "acme"])
            } throws: { error in
                let rpc = (error as? ControlClientError)?.rpcError
                return rpc?.code == 1001 && rpc?.data["missing"]?.arrayValue?.count == 4
            }
        }
        await client.close()
    }

    @Test func aThousandPipelinedRequestsAreAnsweredInOrder() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let connection = try await ControlConnection.connect(path: daemon.socketPath)
        var requests = ""
        for index in 0..<1000 {
            let id = index.isMultiple(of: 2) ? "\(index)" : "\"s\(index)\""
            let method = index.isMultiple(of: 3) ? "org.list" : "daemon.status"
            requests += #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)"}"# + "\n"
        }
        try await connection.send(requests)
        var lines = connection.lines.makeAsyncIterator()
        for index in 0..<1000 {
            let line = try #require(try await lines.next())
            let response = try JSONDecoder().decode(JSONValue.self, from: line)
            let expected: JSONValue = index.isMultiple(of: 2) ? .int(Int64(index)) : .string("s\(index)")
            #expect(response["id"] == expected)
            #expect(response["result"] != nil)
        }
        await connection.close()
    }

    @Test func malformedLinesLeaveTheConnectionUsable() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let connection = try await ControlConnection.connect(path: daemon.socketPath)
        var lines = connection.lines.makeAsyncIterator()
        func exchange(_ line: String) async throws -> JSONValue {
            try await connection.send(line + "\n")
            return try JSONDecoder().decode(JSONValue.self, from: try #require(try await lines.next()))
        }
        #expect(try await exchange("{this is not json")["error"]?["code"] == -32700)
        #expect(try await exchange(#"{"jsonrpc":"2.0","id":1}"#)["error"]?["code"] == -32600)
        #expect(try await exchange(#"{"jsonrpc":"2.0","id":2,"method":"no.such"}"#)["error"]?["code"] == -32601)
        let bad = try await exchange(#"{"jsonrpc":"2.0","id":3,"method":"org.show","params":{"org":42}}"#)
        #expect(bad["error"]?["code"] == -32602)
        #expect(bad["error"]?["data"]?["field"] == "org")
        // A client notification gets no response: the next line answered is the next request's.
        try await connection.send(#"{"jsonrpc":"2.0","method":"daemon.status"}"# + "\n")
        let good = try await exchange(#"{"jsonrpc":"2.0","id":"after","method":"daemon.status"}"#)
        #expect(good["id"] == "after")
        #expect(good["result"]?["version"] != nil)
        await connection.close()
    }

    @Test func theLineLimitIsOneMebibyte() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let request = #"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"#
        let atLimit = request.dropLast() + String(repeating: " ", count: (1 << 20) - request.utf8.count) + "}"
        #expect(atLimit.utf8.count == 1 << 20)

        let connection = try await ControlConnection.connect(path: daemon.socketPath)
        var lines = connection.lines.makeAsyncIterator()
        try await connection.send(atLimit + "\n")
        #expect(try JSONDecoder().decode(JSONValue.self, from: try #require(try await lines.next()))["id"] == 1)

        try await connection.send(String(repeating: " ", count: (1 << 20) + 1) + "\n")
        let refusal = try JSONDecoder().decode(JSONValue.self, from: try #require(try await lines.next()))
        #expect(refusal["error"]?["code"] == -32600)
        #expect(refusal["id"] == .null)
        #expect(try await lines.next() == nil, "the connection is closed after an oversize line")
        // The daemon itself is fine.
        #expect(try await daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false)
    }

    @Test func fiftyConcurrentClientsAreAllServed() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let answered = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let client = try await daemon.connect()
                    var count = 0
                    for _ in 0..<20 where try await client.call(DaemonStatusCall.self).version.isEmpty == false { count += 1 }
                    await client.close()
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(answered == 1000)
    }

    @Test func accessFollowsTheRealPeersCredentials() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
        // nogroup may read; the socket becomes 0666 so that its members can connect.
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_READONLY_GROUP": "nogroup"])
        defer { daemon.cleanUp() }
        chmod(daemon.directory.path, 0o755)
        try await daemon.start()
        var info = stat()
        stat(daemon.socketPath, &info)
        #expect(info.st_mode & 0o777 == 0o666)

        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}\\n{"jsonrpc":"2.0","id":2,"method":"invoice.sync","params":{}}\\n')
            f = s.makefile('rb'); print(f.readline().decode().strip()); print(f.readline().decode().strip())
            """
        func run(gid: String) async throws -> [JSONValue] {
            let result = try await runCommand(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=\(gid)", "--clear-groups", "/usr/bin/python3", "-c", script, daemon.socketPath]
            )
            #expect(result.status == 0, "\(result.stderr)")
            return try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        }
        let reader = try await run(gid: "65534")
        #expect(reader.first?["result"]?["version"] != nil, "a read-only member may read")
        #expect(reader.last?["error"]?["data"]?["reason"] == "forbidden", "but not write")
        let stranger = try await run(gid: "1")
        #expect(stranger.first?["error"]?["code"] == 1011)
        #expect(stranger.last?["error"]?["code"] == 1011)
        #expect(daemon.log.contains("control call forbidden"))
    }
}
