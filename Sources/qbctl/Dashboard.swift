import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl dashboard ORG`: the integration page's four sections on one screen, live.
    struct Dashboard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an organisation's connection, sync summary, synced entities and webhook events on one screen, live.",
            discussion: """
                The screen follows the daemon's notifications (status changes, connections, webhook events, \
                the read budget, drift): each one fetches what it changed and redraws; nothing is polled. It \
                redraws when the terminal is resized; q quits. The test latency is from one 'org test' made \
                when the dashboard starts. --once prints one frame and exits (width: the terminal's, else \
                $COLUMNS, else 100). Colour only on a terminal and when NO_COLOR is unset or empty.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String
        @Flag(help: "Print one frame and exit (for scripts).") var once = false

        func validate() throws {
            if options.json && !once { throw ValidationError("--json needs --once (the live screen is for a person)") }
        }

        func run() async throws {
            if !once && !Terminal.isTerminal { throw QbctlFailure(message: "the live dashboard needs a terminal; use --once", exitCode: 2) }
            let client = try await options.connect()
            let source = DashboardSource(client: client, org: try options.org(org))
            if once {
                try await printOnce(source)
            } else {
                try await live(source)
            }
        }

        /// One frame on standard output (`--json`: the snapshot's JSON).
        private func printOnce(_ source: DashboardSource) async throws {
            // Unknown org: exit 1 with the daemon's answer, not a frame of dashes.
            _ = try await options.call(source.client, OrgShowCall.self, OrgParams(org: options.org(org)))
            let snapshot = await source.initial()
            if options.json {
                options.present(Self.json(snapshot)) { _ in "" }
                return
            }
            let size = Terminal.size()
            let width = size?.columns ?? Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "").flatMap { $0 > 0 ? $0 : nil } ?? 100
            let renderer = DashboardRenderer(width: width, height: size?.rows, coloured: Badge.coloured)
            print(renderer.lines(snapshot).joined(separator: "\n"))
        }

        /// What the live screen reacts to, one at a time.
        private enum Input: Sendable { case key(UInt8), signal(Int32), notification(String), closed }

        private func live(_ source: DashboardSource) async throws {
            let client = source.client
            let org = try options.org(org)
            _ = try await options.call(client, OrgShowCall.self, OrgParams(org: org))
            _ = try await options.call(client, SubscribeCall.self, .init(org: org))
            let (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
            let (signals, sources) = Terminal.signals([SIGWINCH, SIGINT, SIGTERM, SIGHUP])
            Terminal.enter()
            defer { Terminal.restore() }
            let feeders = [
                Task { for await key in Terminal.keys() { continuation.yield(.key(key)) } },
                Task { for await number in signals { continuation.yield(.signal(number)) } },
                Task {
                    for await notification in client.notifications { continuation.yield(.notification(notification.method)) }
                    continuation.yield(.closed)
                },
            ]
            defer { feeders.forEach { $0.cancel() }; sources.forEach { $0.cancel() } }

            var snapshot = await source.initial()
            redraw(snapshot)
            for await input in inputs {
                switch input {
                case .key(UInt8(ascii: "q")), .key(UInt8(ascii: "Q")):
                    return
                case .key:
                    continue
                case .signal(SIGWINCH):
                    redraw(snapshot)
                case .signal(let number):
                    Terminal.restore()
                    throw QbctlFailure(message: "stopped by signal \(number)", exitCode: 128 + number)
                case .notification(let topic):
                    let stale = DashboardSections.stale(after: topic)
                    guard !stale.isEmpty else { continue }
                    await source.refresh(&snapshot, stale)
                    redraw(snapshot)
                case .closed:
                    Terminal.restore()
                    throw QbctlFailure(message: "qbsyncd closed the connection", exitCode: 3)
                }
            }
        }

        private func redraw(_ snapshot: DashboardSnapshot) {
            let size = Terminal.size() ?? (columns: 100, rows: 40)
            Terminal.draw(DashboardRenderer(width: size.columns, height: size.rows, coloured: Badge.coloured, live: true).lines(snapshot))
        }

        /// `--once --json`: the snapshot as the daemon's answers.
        static func json(_ snapshot: DashboardSnapshot) -> JSONValue {
            var test: JSONValue = snapshot.test ?? .null
            if case .object(var fields) = test, let at = snapshot.testedAt {
                fields["testedAt"] = .string(Timestamp.string(at))
                test = .object(fields)
            } else if let error = snapshot.testError {
                test = ["ok": false, "error": .string(error)]
            }
            return [
                "org": .string(snapshot.org), "connection": snapshot.connection ?? .null, "test": test, "summary": snapshot.summary ?? .null,
                "quota": snapshot.quota ?? .null, "entities": .array(snapshot.entities), "events": .array(snapshot.events),
            ]
        }
    }
}
