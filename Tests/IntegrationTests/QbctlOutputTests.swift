import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Testing

/// qbctl's output around the data: paging, colour, completion scripts and the manual's source.
@Suite(.timeLimit(.minutes(3))) struct QbctlOutputTests {
    @Test func listsFollowNextCursorAcrossPages() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        for n in 1...5 {
            _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: DevelopmentInput(id: "dev-\(n)", name: "Block \(n)")))
        }
        let socket = pair.daemon.socketPath

        // Five rows, two a page: three calls, one list.
        let all = try parsed(try await qbctl(["entities", "acme", "--page-size", "2", "--json"], socket: socket))
        #expect(all["entities"]?.arrayValue?.map { $0["localId"] } == (1...5).map { .string("dev-\($0)") })
        #expect(all["nextCursor"] == .null)
        let table = try await qbctl(["entities", "acme", "--page-size", "2"], socket: socket)
        #expect(tableRows(table).map { $0.split(separator: " ", omittingEmptySubsequences: true)[1] } == (1...5).map { "dev-\($0)" })
        let limited = try parsed(try await qbctl(["entities", "acme", "--page-size", "2", "--limit", "3", "--json"], socket: socket))
        #expect(limited["entities"]?.arrayValue?.map { $0["localId"] } == ["dev-1", "dev-2", "dev-3"])
        #expect(limited["nextCursor"]?.stringValue != nil, "the cursor that would continue")

        // Five webhook events (for a company no org has: settled as ignored), newest first.
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let hook = SimClient(base: "http://\(listen)")
        for index in 0..<5 {
            let body = #"{"eventNotifications":[{"realmId":"555","dataChangeEvent":{"entities":[{"name":"Invoice","id":"\#(index)","operation":"Update","lastUpdated":"2026-11-25T10:00:0\#(index).000Z"}]}}]}"#
            let reply = try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", WebhookTests.sign(body))], body: Data(body.utf8))
            #expect(reply.status == 200)
        }
        let events = try await eventually("five events settled") { () -> [JSONValue]? in
            let events = try parsed(try await qbctl(["events", "--page-size", "2", "--json"], socket: socket))["events"]?.arrayValue ?? []
            return events.count == 5 && !events.contains { $0["status"] == "pending" } ? events : nil
        }
        let ids = events.compactMap { $0["id"]?.intValue }
        #expect(ids == ids.sorted(by: >) && Set(ids).count == 5, "newest first, each once")
        let three = try parsed(try await qbctl(["events", "--page-size", "2", "--limit", "3", "--json"], socket: socket))
        #expect(three["events"]?.arrayValue?.compactMap { $0["id"]?.intValue } == Array(ids.prefix(3)))
        #expect(tableRows(try await qbctl(["events", "--status", "ignored", "--page-size", "2"], socket: socket)).count == 5)
        #expect(try await qbctl(["events", "--status", "failed"], socket: socket).stdout == "no events\n")
    }

    @Test func badgesAreColouredOnlyOnATerminalWithoutNoColor() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.seed(orgs: ["acme"])
        try await daemon.start()
        let arguments = ["org", "list", "--socket", daemon.socketPath]
        let dim = "\u{1B}[2mdisconnected\u{1B}[0m"

        let terminal = try await qbctlOnTerminal(arguments)
        #expect(terminal.status == 0, "\(terminal.stderr)")
        #expect(terminal.stdout.contains(dim), "\(terminal.stdout.debugDescription)")
        #expect(terminal.stdout.contains("acme  " + dim + "  -"), "colour takes no room in the table")
        #expect(try await qbctlOnTerminal(arguments, environment: ["NO_COLOR": ""]).stdout.contains(dim), "an empty NO_COLOR is unset")

        let noColor = try await qbctlOnTerminal(arguments, environment: ["NO_COLOR": "1"])
        #expect(noColor.status == 0)
        #expect(noColor.stdout.contains("acme  disconnected  -"))
        #expect(!noColor.stdout.contains("\u{1B}"))

        let piped = try await runCommand(Binaries.qbctl, arguments)
        #expect(piped.stdout.contains("acme  disconnected  -"))
        #expect(!piped.stdout.contains("\u{1B}"), "not a terminal: plain text")
        #expect(!(try await qbctlOnTerminal(arguments + ["--json"])).stdout.contains("\u{1B}"), "JSON is never coloured")
    }

    @Test func completionScriptsAndTheManualSource() async throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try await runCommand(Binaries.qbctl, ["completion", shell])
            #expect(script.status == 0, "\(shell): \(script.stderr)")
            #expect(script.stdout.count > 1_000, "\(shell)")
            for word in ["qbctl", "entities", "invoice", "customer", "events", "completion", "socket", "archives", "older-than"] {
                #expect(script.stdout.contains(word), "\(shell) completes \(word)")
            }
        }
        // What `swift package generate-manual` (scripts/man.sh) reads: the same command tree.
        let dump = try await runCommand(Binaries.qbctl, ["--experimental-dump-help"])
        #expect(dump.status == 0, "\(dump.stderr)")
        let names = try parsed(dump)["command"]?["subcommands"]?.arrayValue?.compactMap { $0["commandName"]?.stringValue } ?? []
        #expect(Set(names).isSuperset(of: ["status", "org", "connect", "token", "customer", "invoice", "entities", "summary", "events", "event", "log", "quota", "watch", "completion", "call"]))
    }
}
