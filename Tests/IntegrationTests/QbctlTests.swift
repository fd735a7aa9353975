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

    @Test func globalOptionsComeBeforeOrAfterTheCommand() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        let path = daemon.socketPath
        for arguments in [["--socket", path, "status"], ["--socket=\(path)", "status"], ["status", "--socket", path], ["status", "--socket=\(path)"]] {
            let result = try await runCommand(Binaries.qbctl, arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.stdout.contains("integration  disabled"), "\(arguments)")
        }
        for arguments in [["--json", "--socket", path, "org", "list"], ["--socket", path, "--json", "org", "list"], ["org", "list", "--json", "--socket", path]] {
            let result = try await runCommand(Binaries.qbctl, arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(try parsed(result)["orgs"] == [], "\(arguments)")
        }
        // Before the command with a call's JSON after it, and before `--`.
        let call = try await runCommand(Binaries.qbctl, ["--socket", path, "call", "org.show", #"{"org":"nobody"}"#])
        #expect(call.status == 1 && call.stderr.contains("(not_found)"))
        let unreachable = try await runCommand(Binaries.qbctl, ["--socket", daemon.directory.file("absent.sock"), "org", "list"])
        #expect(unreachable.status == 3)
        #expect(try await runCommand(Binaries.qbctl, ["--socket", path, "help", "status"]).status == 0)
        #expect(try await runCommand(Binaries.qbctl, ["--socket", path]).status == 2, "global options and no command")
        #expect(try await runCommand(Binaries.qbctl, ["--json", "--socket", path, "frobnicate"]).status == 2)
        #expect(try await runCommand(Binaries.qbctl, ["--socket"]).status == 2)
    }

    @Test func usageErrorsExitTwoWithoutCallingTheDaemon() async throws {
        // No daemon at all: a usage error is found first, so the status is 2, not 3.
        let directory = try TempDirectory()
        defer { directory.remove() }
        let socket = directory.file("absent.sock")
        let bad: [[String]] = [
            ["entities"], ["entities", "acme", "--kind", "building"], ["entities", "acme", "--status", "Lost"], ["entities", "acme", "--limit", "0"],
            ["events", "--status", "done"], ["event", "retry", "seven"], ["summary"], ["completion", "tcsh"],
            ["customer", "sync", "acme", "--name", "Maple Court"], ["customer", "sync", "acme", "--file", "-", "--id", "dev-1"],
            ["customer", "sync", "acme", "--id", "dev-1", "--name", "Maple Court", "--city", "Leeds"],
            ["invoice", "sync", "acme", "--id", "dem-1", "--development", "dev-1", "--due-date", "2099-12-31"],
            ["invoice", "sync", "acme", "--id", "dem-1", "--development", "dev-1", "--due-date", "2099-12-31", "--line", "no amount"],
            ["invoice", "refresh", "acme"], ["call", "org.show", "[1]"],
        ]
        for arguments in bad {
            let result = try await runCommand(Binaries.qbctl, arguments + ["--socket", socket])
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
        }
        let missingFile = try await runCommand(Binaries.qbctl, ["invoice", "sync", "acme", "--file", directory.file("none.json"), "--socket", socket])
        #expect(missingFile.status == 2 && missingFile.stderr.contains("cannot read"))
        let notJSON = try await qbctl(["customer", "sync", "acme", "--file", "-"], socket: socket, input: "name: Maple Court")
        #expect(notJSON.status == 2 && notJSON.stderr.contains("standard input is not JSON"), "\(notJSON.stderr)")
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
        _ = try await eventually("watch subscribed") { try await pair.control.call(DaemonStatusCall.self).subscribers == 1 ? true : nil }
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
        _ = try await pair.control.call(OrgTestCall.self, OrgParams(org: .test("acme")))
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
