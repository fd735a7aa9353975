import Crypto
import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// F10 through the real daemon and qbctl: a replayed signed delivery is acknowledged and counted,
/// not stored again; `log archive` is the one way rows leave the log, and `audit verify` checks
/// what it wrote.
@Suite(.timeLimit(.minutes(3))) struct LogRetentionTests {
    static func body(_ n: Int) -> String {
        #"{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(n)","operation":"Update","lastUpdated":"2026-10-05T03:09:04.000Z"}]}}]}"#
    }

    static func deliver(_ body: String, to hook: SimClient) async throws -> Int {
        let signature = Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(SimulatorProcess.verifierToken.utf8)))).base64EncodedString()
        return try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", signature), ("Content-Type", "application/json")], body: Data(body.utf8)).status
    }

    static func hook(_ pair: Pair) async throws -> SimClient {
        SimClient(base: "http://" + (try await pair.control.call(DaemonStatusCall.self).webhook.listen))
    }

    @Test func aReplayedDeliveryIsAcknowledgedCountedAndNotStoredAgain() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let hook = try await Self.hook(pair)
        for _ in 0..<5 { #expect(try await Self.deliver(Self.body(1), to: hook) == 200) }
        #expect(try await Self.deliver(Self.body(2), to: hook) == 200)

        #expect(try await TestStore.count(pair.daemon, "qb_webhook_deliveries") == 2, "one copy per body")
        // Events are extracted after the 200 (issue 17): wait for both deliveries' events to be listed.
        let events = try await eventually("both deliveries' events extracted") { () -> [JSONValue]? in
            let events = try await pair.control.call(EventListCall.self, .init()).events
            return events.count >= 2 ? events : nil
        }
        #expect(events.map { $0["entityId"] } == ["2", "1"], "one event per stored delivery, newest first")
        #expect(try await TestStore.count(pair.daemon, "qb_webhook_events") == 2)
        let webhook = try await pair.control.call(DaemonStatusCall.self).webhook
        #expect(webhook.accepted == 6 && webhook.duplicates == 4, "\(webhook)")
        #expect(try await hook.get("/metrics").text.contains("qbsyncd_webhook_duplicates_total 4"))
    }

    @Test func logArchiveIsTheOnlyWayOutAndAuditVerifyChecksIt() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let hook = try await Self.hook(pair)
        let socket = pair.daemon.socketPath
        for n in 0..<6 { #expect(try await Self.deliver(Self.body(n), to: hook) == 200) }
        _ = try await eventually("every event settled") { () -> Bool? in
            let events = try await pair.control.call(EventListCall.self, .init()).events
            return events.count == 6 && events.allSatisfy { $0["status"] == "ignored" } ? true : nil
        }
        // sqlite3 (or psql) cannot delete: no archive covers the rows.
        let refused = try await TestStore.outcomes(pair.daemon, statements: ["DELETE FROM qb_webhook_deliveries WHERE id = 1"])
        #expect(refused.count == 1 && refused[0].contains("only through a recorded archive"), "\(refused)")

        // Nothing is a day old; everything is 0 days old.
        #expect(try parsed(try await qbctl(["log", "archive", "--older-than", "1", "--json"], socket: socket))["deliveries"] == 0)
        let archived = try await qbctl(["log", "archive", "--older-than", "0"], socket: socket)
        #expect(archived.status == 0 && archived.stdout.contains("archived 6 deliveries and 6 events into 1 file"), "\(archived.stdout)\(archived.stderr)")
        #expect(try await TestStore.count(pair.daemon, "qb_webhook_deliveries") == 0)
        #expect(try await pair.control.call(EventListCall.self, .init()).events.isEmpty)

        let listed = try parsed(try await qbctl(["log", "archives", "--json"], socket: socket))
        let archive = try #require(listed["archives"]?.arrayValue?.first)
        #expect(archive["firstDeliveryId"] == 1 && archive["lastDeliveryId"] == 6 && archive["deliveries"] == 6 && archive["previousSha256"] == .null)
        let file = pair.daemon.stateDirectory + "/archives/" + (archive["file"]?.stringValue ?? "?")
        #expect((try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try await qbctl(["log", "archives"], socket: socket).stdout.contains(archive["file"]?.stringValue ?? "?"))

        // audit verify passes after the archive (statuses come from the invoice history), and checks the file.
        let verified = try await qbctl(["audit", "verify"], socket: socket)
        #expect(verified.status == 0 && verified.stdout.contains("checked 1 log archive: 1 verified"), "\(verified.stdout)\(verified.stderr)")
        try Data("not the archive\n".utf8).write(to: URL(fileURLWithPath: file))
        let tampered = try await qbctl(["audit", "verify", "--json"], socket: socket)
        #expect(tampered.status == 1, "\(tampered.stderr)")
        #expect(try parsed(tampered)["archives"]?["mismatched"]?.arrayValue?.count == 1)

        // A usage error is qbctl's own.
        #expect(try await qbctl(["log", "archive", "--older-than", "x"], socket: socket).status == 2)
    }
}
