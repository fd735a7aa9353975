import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// qbsyncd as a systemd citizen: the units, sd_notify, socket activation and journald.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SystemdTests {
    static var repository: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// The units with ExecStart pointing at the built binary (verify wants an executable there).
    func preparedUnits() throws -> TempDirectory {
        let directory = try TempDirectory(prefix: "qbunits")
        let service = try String(contentsOfFile: Self.repository + "/systemd/qbsyncd.service", encoding: .utf8)
        try directory.write("qbsyncd.service", service.replacingOccurrences(of: "/usr/bin/qbsyncd", with: Binaries.qbsyncd))
        for socket in ["qbsyncd.socket", "qbsyncd-webhook.socket"] {
            try directory.write(socket, try String(contentsOfFile: Self.repository + "/systemd/" + socket, encoding: .utf8))
        }
        return directory
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func theUnitsVerifyCleanAndAreHardened() async throws {
        let units = try preparedUnits()
        defer { units.remove() }
        // systemd-analyze verify exits 0 even on unknown keys: anything it prints is a failure.
        let verify = try await runCommand("/usr/bin/systemd-analyze", ["verify", "--man=no", units.file("qbsyncd.service"), units.file("qbsyncd.socket"), units.file("qbsyncd-webhook.socket")])
        #expect(verify.status == 0)
        #expect(verify.stdout.isEmpty && verify.stderr.isEmpty, "\(verify.stdout)\(verify.stderr)")
        let security = try await runCommand("/usr/bin/systemd-analyze", ["security", "--offline=true", units.file("qbsyncd.service")])
        let score = try #require(security.stdout.firstMatch(of: /Overall exposure level for qbsyncd.service: (\d+\.\d+)/)?.1).description
        #expect(Double(score)! <= 2.0, "exposure \(score)")
    }

    @Test func notifyReadyStatusReloadStoppingAndAWatchdogThatNeedsAHealthyDaemon() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        let notify = try DatagramReceiver(path: daemon.directory.file("notify.sock"))
        defer { notify.close() }
        // A 4 s watchdog: keep-alives every 2 s, each behind a health check of at most 1 s (the
        // test suite loads both cores; production's 30 s watchdog allows 7.5 s).
        try await daemon.start(extraEnvironment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "4000000"])

        // READY arrives once both listeners accept.
        let ready = try await eventually("READY=1") { notify.messages.first { $0.text.contains("READY=1") } }
        #expect(ready.text.contains("STATUS=0 orgs connected"))
        let client = try await daemon.connect()
        let listen = try await client.call(DaemonStatusCall.self).webhook.listen
        #expect(try await SimClient(base: "http://\(listen)").get("/healthz").status == 200)

        // Keep-alives at half of WATCHDOG_USEC.
        let pings = try await eventually("watchdog pings (got \(notify.messages.map(\.text)))") { () -> [ContinuousClock.Instant]? in
            let pings = notify.messages.filter { $0.text == "WATCHDOG=1" }.map(\.at)
            return pings.count >= 3 ? pings : nil
        }
        let gaps = zip(pings.dropFirst(), pings).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 >= .milliseconds(1500) && $0 <= .milliseconds(3500) }, "\(gaps)")

        // Another client holds the database's write lock until released. Writes wait, reads answer
        // (WAL; PostgreSQL's SELECTs): the daemon is alive, so keep-alives go on (L14); STATUS= says it cannot write.
        let holder = try await WriteLockHolder.hold(daemon)
        defer { holder.cancel() }
        let lockedAt = ContinuousClock.now
        _ = try await eventually(timeout: .seconds(20), "STATUS= says the store cannot write") {
            notify.messages.contains { $0.at > lockedAt && $0.text.hasPrefix("STATUS=") && $0.text.contains("store not writable") } ? true : nil
        }
        #expect(notify.messages.contains { $0.text == "WATCHDOG=1" && $0.at > lockedAt + .milliseconds(1200) }, "keep-alives while only the write lock is held")
        #expect(!daemon.log.contains("watchdog keep-alive withheld"))
        try await holder.release()
        let released = ContinuousClock.now
        _ = try await eventually(timeout: .seconds(20), "STATUS= without the problem") {
            notify.messages.contains { $0.at > released && $0.text.hasPrefix("STATUS=") && !$0.text.contains("store not writable") } ? true : nil
        }

        // SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1.
        daemon.signal(SIGHUP)
        let reloading = try await eventually("RELOADING=1") { notify.messages.first { $0.text.hasPrefix("RELOADING=1") } }
        #expect(reloading.text.contains("MONOTONIC_USEC="))
        _ = try await eventually("READY after reload") { notify.messages.contains { $0.text.contains("READY=1") && $0.at > reloading.at } ? true : nil }

        await client.close()
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0)
        #expect(notify.messages.contains { $0.text == "STOPPING=1" })
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate")))
    func socketActivationServesBothProtocols() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let state = try directory.makeDirectory("state")
        let socket = directory.file("control.sock")
        let config = try directory.write("qbsyncd.conf", "QBSYNCD_LOG_LEVEL=debug\n")
        // The webhook socket is a Unix socket here, so no other test can take its address.
        let webhookSocket = directory.file("webhook.sock")
        let activator = Process()
        activator.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        activator.arguments = [
            "-l", socket, "-l", webhookSocket, "--fdname=control:webhook",
            "-E", "QBSYNCD_STATE_DIR=\(state)", "-E", "QBSYNCD_CONFIG=\(config)", "-E", "QBSYNCD_CONTROL_SOCKET=\(directory.file("unused.sock"))",
            "-E", "QBSYNCD_WEBHOOK_LISTEN=127.0.0.1:1", Binaries.qbsyncd,
        ]
        let log = directory.file("activate.log")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        activator.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try activator.run()
        defer {
            if activator.isRunning { kill(activator.processIdentifier, SIGKILL) }
        }
        // The first connection starts the daemon, which adopts both sockets.
        let status = try await eventually(timeout: .seconds(20), "the control socket answers") { () -> DaemonStatus? in
            let client = try await ControlClient.connect(path: socket)
            let status = try await client.call(DaemonStatusCall.self)
            await client.close()
            return status
        }
        #expect(status.webhook.listen == "unix:\(webhookSocket)", "the passed socket, not the setting")
        let unixBase = "http+unix://" + webhookSocket.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(try await SimClient(base: unixBase).get("/healthz").json == ["status": "ok"])
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.contains("control socket adopted from systemd"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("unused.sock")), "the daemon did not bind its own socket")
    }

    @Test(.enabled(if: getuid() == 0 && !FileManager.default.fileExists(atPath: "/run/systemd/journal/socket")))
    func logsGoToTheJournalWithStructuredFields() async throws {
        try FileManager.default.createDirectory(atPath: "/run/systemd/journal", withIntermediateDirectories: true)
        let journal = try DatagramReceiver(path: "/run/systemd/journal/socket")
        defer { journal.close() }
        let sim = try SimulatorProcess()
        defer { sim.cleanUp() }
        try await sim.start()
        let daemon = try DaemonProcess.pointed(at: sim)
        defer { daemon.cleanUp() }
        try await daemon.start(journalStream: true)
        let client = try await daemon.connect()
        let begun = try await client.call(OAuthBeginCall.self, OrgParams(org: .test("journaled")))
        let url = begun.authorizeUrl
        let redirect = SimClient.redirectQuery(try await SimClient(base: sim.baseURL).get(String(url.dropFirst(sim.baseURL.count))))
        _ = try await client.call(OAuthCompleteCall.self, .init(state: begun.state, code: redirect["code"]!, realmId: redirect["realmId"]!))
        let entry = try await eventually("a structured entry about the org") {
            journal.messages.map(\.text).first { $0.contains("MESSAGE=organisation connected to QuickBooks") }
        }
        let fields = Dictionary(entry.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), String(line[line.index(after: equals)...]))
        }, uniquingKeysWith: { first, _ in first })
        #expect(fields["PRIORITY"] == "6")
        #expect(fields["SYSLOG_IDENTIFIER"] == "qbsyncd")
        #expect(fields["QBSYNC_ORG"] == "journaled")
        #expect(fields["QBSYNC_REALM"] == sim.defaultRealmID)
        #expect(fields["CODE_FILE"]?.hasSuffix("ConnectionManager+Consent.swift") == true)
        #expect(fields["CODE_LINE"].flatMap(Int.init) != nil)
        #expect(fields["CODE_FUNC"] != nil)
        #expect(!journal.messages.contains { $0.text.contains(SimulatorProcess.clientSecret) }, "no secret in the journal")
        await client.close()
    }
}
