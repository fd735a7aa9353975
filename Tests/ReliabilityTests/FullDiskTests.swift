import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// A full disk under the real daemon and simulator: the watchdog still sees a live daemon and
/// `/healthz` and `STATUS=` say why it cannot write (L14); pending events do not become a stream
/// of metered reads, and are processed once space returns (F11).
@Suite(.serialized, .timeLimit(.minutes(5))) struct FullDiskTests {
    /// A daemon pointed at a fresh simulator, its state directory on a 12 MiB tmpfs.
    struct Setup {
        let sim: SimulatorProcess
        let daemon: DaemonProcess
        let hook: SimClient
        var filler: String { daemon.stateDirectory + "/filler" }

        static func start(extraEnvironment: [String: String] = [:], daemonStart: [String: String] = [:]) async throws -> Setup {
            let sim = try SimulatorProcess()
            try await sim.start()
            let port = try freeTCPPort()
            let daemon = try DaemonProcess.pointed(
                at: sim, extraEnvironment: ["QBSYNCD_WEBHOOK_LISTEN": "127.0.0.1:\(port)", "QBSYNCD_LOG_LEVEL": "info"].merging(extraEnvironment) { _, new in new }
            )
            try await HostileEnvironmentTests.mountSmallFilesystem(on: daemon.stateDirectory, megabytes: 12)
            try await daemon.start(extraEnvironment: daemonStart)
            return Setup(sim: sim, daemon: daemon, hook: SimClient(base: "http://127.0.0.1:\(port)"))
        }

        func fill() async throws {
            _ = try await runCommand("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=1M", "count=64"])
        }

        func cleanUp() {
            daemon.signal(SIGKILL)
            HostileEnvironmentTests.unmount(daemon.stateDirectory)
            daemon.cleanUp()
            sim.cleanUp()
        }
    }

    @Test(.enabled(if: HostileEnvironmentTests.isRoot)) func aFullDiskIsReportedNotPunishedByTheWatchdog() async throws {
        let notifyPath = NSTemporaryDirectory() + "qbsyncd-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        let notify = try DatagramReceiver(path: notifyPath)
        defer {
            notify.close()
            unlink(notifyPath)
        }
        // A 4 s watchdog: keep-alives every 2 s.
        let setup = try await Setup.start(daemonStart: ["NOTIFY_SOCKET": notifyPath, "WATCHDOG_USEC": "4000000"])
        defer { setup.cleanUp() }
        _ = try await eventually("READY=1") { notify.messages.first { $0.text.contains("READY=1") } }
        #expect(try await setup.hook.get("/healthz").status == 200)

        try await setup.fill()
        // A delivery that cannot be stored, or the periodic probe, finds the disk full.
        _ = try await Fleet.deliverSigned(HostileEnvironmentTests.delivery(1), to: setup.hook)
        let health = try await eventually(timeout: .seconds(20), "/healthz 503") { () -> SimClient.Reply? in
            let reply = try await setup.hook.get("/healthz")
            return reply.status == 503 ? reply : nil
        }
        #expect(health.json["status"] == "store not writable", "\(health.text)")
        #expect(health.json["reason"]?.stringValue?.contains("full") == true, "the reason names the full disk: \(health.text)")
        let full = ContinuousClock.now
        _ = try await eventually(timeout: .seconds(20), "STATUS= says the store cannot write") {
            notify.messages.contains { $0.text.contains("STATUS=") && $0.text.contains("store not writable") } ? true : nil
        }
        // Keep-alives go on while the disk is full: a restart would not free it.
        _ = try await eventually(timeout: .seconds(20), "three keep-alives while full") {
            notify.messages.filter { $0.text == "WATCHDOG=1" && $0.at > full }.count >= 3 ? true : nil
        }
        #expect(!setup.daemon.log.contains("watchdog keep-alive withheld"))
        #expect(try await setup.daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false, "reads answer")

        // Room again: healthy, and STATUS= drops the problem.
        try FileManager.default.removeItem(atPath: setup.filler)
        _ = try await eventually(timeout: .seconds(20), "/healthz 200 again") { try await setup.hook.get("/healthz").status == 200 ? true : nil }
        let freed = ContinuousClock.now
        _ = try await eventually(timeout: .seconds(20), "STATUS= without the problem") {
            notify.messages.contains { $0.at > freed && $0.text.hasPrefix("STATUS=") && !$0.text.contains("store not writable") } ? true : nil
        }
    }

    @Test(.enabled(if: HostileEnvironmentTests.isRoot)) func pendingEventsOnAFullDiskDoNotLoopOnMeteredReads() async throws {
        // A 3 s coalescing window: the event is stored and pending when the disk fills.
        let setup = try await Setup.start(extraEnvironment: ["QBSYNCD_COALESCE_WINDOW": "3"])
        defer { setup.cleanUp() }
        let control = try await setup.daemon.connect()
        let pair = Pair(sim: setup.sim, daemon: setup.daemon, http: SimClient(base: setup.sim.baseURL), control: control)
        let realmID = try await pair.newCompany()
        _ = try await pair.connect("acme", realmID: realmID)

        let body = #"{"eventNotifications":[{"realmId":"\#(realmID)","dataChangeEvent":{"entities":[{"name":"Payment","id":"77","operation":"Create","lastUpdated":"2026-11-25T10:00:00.000Z"}]}}]}"#
        #expect(try await Fleet.deliverSigned(body, to: setup.hook) == 200)
        // Its event is extracted after the 200: the disk fills once it is stored and pending (an
        // extraction the full disk refused would leave no event, so no turn, to watch).
        _ = try await eventually(timeout: .seconds(20), "the event stored and pending") {
            try await control.call(EventListCall.self, .init()).events.count == 1 ? true : nil
        }
        try await setup.fill()
        let usage = { () async throws -> Int64 in try await pair.http.get("/sim/usage").json["metered"]?.intValue ?? -1 }

        // The turn after the window cannot record its outcome; from then on, count the reads.
        _ = try await eventually(timeout: .seconds(30), "a turn that could not finish") {
            setup.daemon.log.contains("the pipeline could not finish a company's turn") ? true : nil
        }
        let before = try await usage()
        let deadline = ContinuousClock.now + .seconds(10)
        var most = before
        while ContinuousClock.now < deadline {
            most = max(most, try await usage())
            await pause(milliseconds: 250)
        }
        #expect(most - before <= 2, "metered reads while the store cannot write: \(most - before) in 10 s")
        let events = try await control.call(EventListCall.self, .init()).events
        #expect(events.count == 1 && events[0]["status"] == "pending", "the event waits: \(events)")

        // Room again: the event is processed without anyone asking, at the failed turn's retry
        // (60 s after it) at the latest.
        try FileManager.default.removeItem(atPath: setup.filler)
        let settled = try await eventually(timeout: .seconds(150), "the event processed") { () -> JSONValue? in
            let event = try await control.call(EventListCall.self, .init()).events.first
            return event?["status"] == "pending" ? nil : event
        }
        #expect(settled["status"] == "processed", "\(settled)")
        Campaign.report("Full disk: pending events", ["metered reads in 10 s while the store could not write: \(most - before); the event processed once space returned"])
    }
}

extension Fleet {
    /// A signed classic delivery posted to a listener: the status it got.
    static func deliverSigned(_ body: String, to hook: SimClient) async throws -> Int {
        try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", sign(body)), ("Content-Type", "application/json")], body: Data(body.utf8)).status
    }
}
