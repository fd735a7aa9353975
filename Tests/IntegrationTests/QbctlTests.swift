import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// `qbctl` against the real daemon: output and the exit statuses 0, 1, 2, 3.
@Suite(.timeLimit(.minutes(2))) struct QbctlTests {
    @Test func exitStatusesAndOutputs() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let socket = ["--socket", daemon.socketPath]

        let status = try await runCommand(Binaries.qbctl, ["status"] + socket)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("integration  disabled"))
        #expect(status.stdout.contains("orgs         0 total"))

        let json = try await runCommand(Binaries.qbctl, ["status", "--json"] + socket)
        #expect(json.status == 0)
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        #expect(parsed["version"] == .string(QBSyncVersion.current))

        let list = try await runCommand(Binaries.qbctl, ["org", "list", "--json"] + socket)
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(list.stdout.utf8))["orgs"] == [])

        let unknown = try await runCommand(Binaries.qbctl, ["org", "show", "nobody"] + socket)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("(not_found)"))

        let usage = try await runCommand(Binaries.qbctl, ["frobnicate"] + socket)
        #expect(usage.status == 2)

        let environmentSocket = try await runCommand(Binaries.qbctl, ["status"], environment: ["QBSYNCD_CONTROL_SOCKET": daemon.socketPath])
        #expect(environmentSocket.status == 0, "QBSYNCD_CONTROL_SOCKET is the default socket")

        let unreachable = try await runCommand(Binaries.qbctl, ["status", "--socket", daemon.directory.file("absent.sock")])
        #expect(unreachable.status == 3)
        #expect(unreachable.stderr.split(separator: "\n").count == 1)
        #expect(unreachable.stderr.contains("is the daemon running?"))
    }

    @Test func watchStreamsNotifications() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let output = pair.daemon.directory.file("watch.out")
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: Binaries.qbctl)
        watch.arguments = ["watch", "--json", "--topic", "connection.status_changed", "--socket", pair.daemon.socketPath]
        watch.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try watch.run()
        defer { watch.terminate() }
        _ = try await eventually("watch subscribed") { try await pair.control.call("daemon.status")["subscribers"] == 1 ? true : nil }
        _ = try await pair.connect("watched")
        let line = try await eventually("a notification printed") { () -> String? in
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            return text.contains("\n") ? text : nil
        }
        let notification = try JSONDecoder().decode(JSONValue.self, from: Data(line.split(separator: "\n")[0].utf8))
        #expect(notification["method"] == "connection.status_changed")
        #expect(notification["params"]?["org"] == "watched")
        #expect(notification["params"]?["to"] == "connected")
    }
}

/// `qbctl quota` and the reads line of `qbctl status`.
@Suite(.timeLimit(.minutes(2))) struct QbctlQuotaTests {
    @Test func quotaShowsTheMonthsReadsByCompany() async throws {
        let pair = try await Pair.start(daemonEnvironment: ["QUICKBOOKS_READ_QUOTA": "1000", "QBSYNCD_READ_RESERVE": "10"])
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        _ = try await pair.control.call("org.test", params: ["org": "acme"])
        let socket = ["--socket", pair.daemon.socketPath]
        let quota = try await runCommand(Binaries.qbctl, ["quota"] + socket)
        #expect(quota.status == 0, "\(quota.stderr)")
        #expect(quota.stdout.contains("2 of 1,000 (0.2 %)"), "\(quota.stdout)")
        #expect(quota.stdout.contains("operators 2"))
        #expect(quota.stdout.contains("100 for operators"))
        #expect(quota.stdout.contains(pair.sim.defaultRealmID) && quota.stdout.contains("acme"))
        let json = try await runCommand(Binaries.qbctl, ["quota", "--json"] + socket)
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
        #expect(parsed["used"] == 2 && parsed["budget"] == 1000 && parsed["state"] == "ok")
        let status = try await runCommand(Binaries.qbctl, ["status"] + socket)
        #expect(status.stdout.contains("reads        2 of 1,000"), "\(status.stdout)")
    }
}
