#if canImport(Glibc)
import Glibc
#endif
import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// `qbctl dashboard`: one frame with `--once`, and the live screen in a real terminal (tmux).
@Suite(.timeLimit(.minutes(3))) struct QbctlDashboardTests {
    /// A connected org with a customer, an invoice Paid in QuickBooks, and the webhook events that said so.
    static func paidInvoice() async throws -> (pair: Pair, qboID: String) {
        let pair = try await Pair.start()
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string("http://\(listen)/api/webhooks/quickbooks"), "format": "cloudevents"])
        _ = try await pair.connect("acme")
        _ = try await pair.control.call(CustomerSyncCall.self, .init(org: .test("acme"), development: SyncTests.developmentInput))
        let qboID = try #require(try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput())).qboId)
        _ = try await pair.control.call(InvoiceSyncCall.self, .init(org: .test("acme"), demand: SyncTests.demandInput(id: "dem-2", docNumber: "SC-2")))
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        return (pair, qboID)
    }

    /// Pays the invoice in QuickBooks and delivers the webhooks (again, should a delivery time out on a loaded machine).
    static func pay(_ pair: Pair, _ qboID: String) async throws {
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/pay", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
    }

    @Test func onceprintsTheFourSections() async throws {
        let (pair, qboID) = try await Self.paidInvoice()
        defer { pair.cleanUp() }
        try await Self.pay(pair, qboID)
        _ = try await eventually(timeout: .seconds(30), "dem-1 Paid and the events settled") { () -> Bool? in
            let entities = try await pair.control.call(EntityListCall.self, .init(org: .test("acme"), kind: .demand)).entities
            let events = try await pair.control.call(EventListCall.self, .init(org: .test("acme"))).events
            if entities.contains(where: { $0.localId == "dem-1" && $0.status == .paid }) && events.contains(where: { $0["type"] == "payment.created" })
                && !events.contains(where: { $0["status"] == "pending" }) { return true }
            _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
            return nil
        }
        let environment = ["PATH": "/usr/bin:/bin", "COLUMNS": "160"]
        let frame = try await runCommand(Binaries.qbctl, ["dashboard", "acme", "--once", "--socket", pair.daemon.socketPath], environment: environment)
        #expect(frame.status == 0, "\(frame.stderr)")
        let lines = frame.stdout.split(separator: "\n").map(String.init)
        #expect(lines.allSatisfy { $0.count <= 160 } && !frame.stdout.contains("\u{1B}"), "no colour off a terminal, no line wider than $COLUMNS")
        #expect(lines.first?.hasPrefix("qbctl dashboard acme ") == true && lines.first?.count == 160, "\(frame.stdout)")
        for section in ["CONNECTION", "SYNC SUMMARY", "SYNCED ENTITIES (3, last synced first)", "WEBHOOK EVENTS ("] {
            #expect(lines.contains { $0.hasPrefix(section) }, "\(section): \(frame.stdout)")
        }
        #expect(lines.contains("  status        connected"), "\(frame.stdout)")
        #expect(lines.contains("  company       Sandbox Company_US_1 (realm \(pair.sim.defaultRealmID))"))
        #expect(lines.contains { $0.hasPrefix("  token expiry  access 20") && $0.contains(", refresh 20") })
        #expect(lines.contains { $0.hasPrefix("  reconnect by  20") })
        #expect(lines.contains { $0.contains(/^  test latency  ok \d+ ms \(at \S+ \S+, when the dashboard started\)$/) }, "\(frame.stdout)")
        #expect(lines.contains("  customers     1"))
        #expect(lines.contains("  invoices      2: Outstanding 1  Paid 1  Overdue 0  Voided 0"), "\(frame.stdout)")
        #expect(lines.contains { $0.hasPrefix("  app quota     ") && $0.contains(" of 500,000 (") && $0.hasSuffix("this month: ok") }, "\(frame.stdout)")
        #expect(lines.contains { $0.hasPrefix("  KIND ") && $0.contains("STATUS") && $0.contains("LAST SYNCED") })
        #expect(lines.contains { $0.contains("demand       dem-1  Invoice \(qboID)") && $0.contains(" Paid ") }, "\(frame.stdout)")
        #expect(lines.contains { $0.contains("dem-2") && $0.contains(" Outstanding ") })
        #expect(lines.contains { $0.contains("development  dev-1") && $0.contains(" Synced ") })
        #expect(lines.contains { $0.hasPrefix("  RECEIVED ") && $0.contains("ERROR / RESOLVED BY") })
        #expect(lines.contains { $0.contains("payment.created") && $0.contains("Payment ") && $0.contains(" processed ") && $0.contains("change feed read at") }, "\(frame.stdout)")

        let narrow = try await runCommand(Binaries.qbctl, ["dashboard", "acme", "--once", "--socket", pair.daemon.socketPath], environment: ["PATH": "/usr/bin:/bin"])
        #expect(narrow.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 } && narrow.stdout.split(separator: "\n").first?.count == 100, "100 columns by default")
        let json = try parsed(try await qbctl(["dashboard", "acme", "--once", "--json"], socket: pair.daemon.socketPath))
        #expect(json["connection"]?["status"] == "connected" && json["summary"]?["invoices"]?["Paid"] == 1 && json["test"]?["ok"] == true)
        #expect(json["entities"]?.arrayValue?.count == 3 && json["quota"]?["budget"] == 500_000)
        let unknown = try await qbctl(["dashboard", "nobody", "--once"], socket: pair.daemon.socketPath)
        #expect(unknown.status == 1 && unknown.stderr.contains("(not_found)"), "\(unknown.stderr)")
        let notATerminal = try await qbctl(["dashboard", "acme"], socket: pair.daemon.socketPath)
        #expect(notATerminal.status == 2 && notATerminal.stderr.contains("needs a terminal; use --once"))
    }

    @Test func liveInATerminalFollowsAPaymentRedrawsOnResizeAndQuitsOnQ() async throws {
        let tmux = try #require(
            ["/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "tmux is not installed: this test drives the live dashboard through it (apt-get install tmux; .ci/run installs it)"
        )
        let (pair, qboID) = try await Self.paidInvoice()
        defer { pair.cleanUp() }
        let terminal = TmuxServer(tmux: tmux)
        defer { terminal.kill() }
        let command = "\(Binaries.qbctl) --socket \(pair.daemon.socketPath) dashboard acme"
        #expect(terminal.start(["new-session", "-d", "-s", "dash", "-x", "120", "-y", "40", command]) == 0)

        let first = try await eventually(timeout: .seconds(20), "the first frame") { () -> [String]? in
            let screen = try await terminal.screen()
            return screen.contains { $0.contains("dem-1") && $0.contains("Outstanding") } ? screen : nil
        }
        #expect(first.first?.hasPrefix("qbctl dashboard acme") == true && first.first?.hasSuffix("q quits") == true && first.first?.count == 120, "\(first)")
        #expect(first.contains { $0.hasPrefix("CONNECTION") } && first.contains { $0.hasPrefix("WEBHOOK EVENTS") })

        // Paid in QuickBooks: the webhook reaches the daemon, its notification redraws the screen. No key is pressed.
        try await Self.pay(pair, qboID)
        let paid = try await eventually(timeout: .seconds(30), "dem-1 Paid on the screen") { () -> [String]? in
            let screen = try await terminal.screen()
            if screen.contains(where: { $0.contains("demand       dem-1") && $0.contains(" Paid ") }) { return screen }
            _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
            return nil
        }
        #expect(paid.contains { $0.contains("invoices      2: Outstanding 1  Paid 1") }, "\(paid)")
        // Each event settled is a notification too: the log shows them processed, none pending.
        let settled = try await eventually(timeout: .seconds(30), "the payment's event processed on the screen") { () -> [String]? in
            let screen = try await terminal.screen()
            let events = screen.drop { !$0.hasPrefix("WEBHOOK EVENTS") }
            return events.contains { $0.contains("payment.created") && $0.contains(" processed ") } && !events.contains { $0.contains(" pending ") } ? screen : nil
        }
        #expect(settled.contains { $0.contains("demand       dem-1") && $0.contains(" Paid ") })

        #expect(terminal.start(["resize-window", "-t", "dash", "-x", "80", "-y", "30"]) == 0)
        let narrow = try await eventually(timeout: .seconds(20), "a frame 80 columns wide") { () -> [String]? in
            let screen = try await terminal.screen()
            return screen.first?.count == 80 && screen.first?.hasSuffix("q quits") == true ? screen : nil
        }
        #expect(narrow.allSatisfy { $0.count <= 80 } && narrow.count <= 30)
        #expect(narrow.contains { $0.contains("dem-1") && $0.contains("Paid") }, "\(narrow)")

        #expect(terminal.start(["send-keys", "-t", "dash", "q"]) == 0)
        _ = try await eventually(timeout: .seconds(20), "the dashboard gone after q") { () -> Bool? in
            try await terminal.run(["has-session", "-t", "dash"]).status != 0 ? true : nil
        }
    }
}

/// A tmux server on a socket of this test's own (`tmux -L`), so that nothing else's sessions are touched.
struct TmuxServer: Sendable {
    let tmux: String
    let name = "qbctl-dashboard-\(UUID().uuidString.prefix(8))"
    let environment = ["PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "HOME": NSTemporaryDirectory()]

    func run(_ arguments: [String]) async throws -> CommandResult {
        try await runCommand(tmux, ["-L", name, "-f", "/dev/null"] + arguments, environment: environment)
    }

    /// The pane's text, one entry per row, trailing spaces and empty rows at the end dropped.
    func screen() async throws -> [String] {
        let captured = try await run(["capture-pane", "-p", "-t", "dash"])
        guard captured.status == 0 else { throw DeadlineExceeded(description: "capture-pane: \(captured.stderr)") }
        var rows = captured.stdout.components(separatedBy: "\n").map { String($0.reversed().drop { $0 == " " }.reversed()) }
        while rows.last?.isEmpty == true { rows.removeLast() }
        return rows
    }

    /// Starts the server with a session. Spawned and waited for directly: Foundation's `Process`
    /// would wait on for the server tmux forks, which keeps what it inherited open as long as it runs.
    func start(_ arguments: [String]) -> Int32 { runQuietly(arguments) }

    /// Synchronous, for `defer`: the server and whatever still runs in it.
    func kill() { _ = runQuietly(["kill-server"]) }

    /// posix_spawn with the standard descriptors on /dev/null, then waitpid: the exit status, or -1.
    private func runQuietly(_ arguments: [String]) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let argv = ([tmux, "-L", name, "-f", "/dev/null"] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, tmux, &actions, nil, argv, envp) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
    }
}
