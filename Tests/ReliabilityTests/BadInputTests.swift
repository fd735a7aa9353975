import Foundation
import NIOCore
import QBControlClient
import QBOSimulator
import QBSyncCore
import QBTestSupport
import Synchronization
import Testing

/// Seeded hostile input against the real daemon's two listeners. The parsers alone are also
/// fuzzed by libFuzzer (scripts/fuzz.sh).
@Suite(.timeLimit(.minutes(60))) struct BadInputTests {
    static let errorCodes = Set<Int64>([-32700, -32600, -32601, -32602, -32603] + (1001...1012).map(Int64.init))
    static let httpStatuses: Set<Int> = [200, 400, 401, 404, 405, 413, 431, 503]

    /// The id of connection `connection`'s hostile line `line`, as JSON.
    static func hostileID(connection: Int, line: Int) -> String { "\"f\(connection)-\(line)\"" }

    /// The id of the sentinel after that line. A hostile line is a request with up to four bytes
    /// replaced, so the sentinel's id must be out of reach of four replacements of the hostile id:
    /// the first choice, `s0-566` beside `f0-566`, was one byte away, and seed 65 forged it.
    static func sentinelID(connection: Int, line: Int) -> String { "sentinel/\(connection)/\(line)" }

    /// The hostile lines of one connection of the campaign with `seed`, made one at a time (a long
    /// campaign's would not fit in memory at once).
    static func hostileLines(seed campaignSeed: UInt64 = Campaign.seed, connection: Int, count: Int) -> some Sequence<[UInt8]> {
        var random = Campaign.random("control", seed: campaignSeed)
        let generator = InputGenerator(random: SplitMix64(seed: random.next() &+ UInt64(connection)))
        return sequence(state: (generator: generator, line: 0)) { state in
            guard state.line < count else { return nil }
            defer { state.line += 1 }
            return state.generator.controlLine(id: hostileID(connection: connection, line: state.line))
        }
    }

    /// Seed 65 once made a hostile line carry its sentinel's id (`"s0-566"`): its error answer was
    /// taken for the sentinel's ("no version"), and the real one then counted as a second answer.
    @Test func noHostileLineCarriesItsSentinelsID() {
        for connection in 0..<4 {
            for (line, bytes) in Self.hostileLines(seed: 65, connection: connection, count: 600).enumerated() {
                let text = String(decoding: bytes, as: UTF8.self)
                #expect(!text.contains("\"\(Self.sentinelID(connection: connection, line: line))\""), "\(text.prefix(200))")
            }
        }
    }

    @Test func everyHostileControlLineGetsOneWellFormedAnswer() async throws {
        let perConnection = Campaign.scale(short: 600, long: 50_000)
        let connections = 4
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let tally = Locked((lines: 0, answered: 0, blank: 0, notifications: 0, codes: [Int64: Int]()))

        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<connections {
                group.addTask {
                    let hostile = Self.hostileLines(connection: index, count: perConnection)
                    let connection = try await ControlConnection.connect(path: pair.daemon.socketPath)
                    let watchdog = connection.channel.eventLoop.scheduleTask(in: .minutes(30)) { connection.channel.close(promise: nil) }
                    defer { watchdog.cancel() }
                    var responses = connection.lines.makeAsyncIterator()
                    for (k, line) in hostile.enumerated() {
                        // Each hostile line is followed by a sentinel: whatever answers come before
                        // the sentinel's are the hostile line's.
                        let sentinelID = Self.sentinelID(connection: index, line: k)
                        let sentinel = #"{"jsonrpc":"2.0","id":"\#(sentinelID)","method":"daemon.status"}"#
                        try await connection.send(line + [0x0A] + Array(sentinel.utf8) + [0x0A])
                        var answers = 0
                        while true {
                            guard let data = try await responses.next() else {
                                Issue.record("the daemon closed the connection after \(String(decoding: line.prefix(200), as: UTF8.self))")
                                return
                            }
                            let value = try JSONDecoder().decode(JSONValue.self, from: data)
                            if value["method"] != nil, value["id"] == nil { continue }  // a notification after `subscribe`
                            if value["id"] == .string(sentinelID) {
                                #expect(value["result"]?["version"] != nil)
                                break
                            }
                            answers += 1
                            #expect(value["jsonrpc"] == "2.0")
                            if let error = value["error"] {
                                let code = error["code"]?.intValue ?? 0
                                #expect(Self.errorCodes.contains(code), "\(value)")
                                #expect(error["data"]?["reason"]?.stringValue != nil, "\(value)")
                                #expect(error["message"]?.stringValue != nil)
                                tally.withLock { $0.codes[code, default: 0] += 1 }
                            } else {
                                #expect(value["result"] != nil, "\(value)")
                            }
                        }
                        #expect(answers <= 1, "one answer per line")
                        if answers == 0 {
                            // Only a blank line or a notification (no `id` member) goes unanswered.
                            let blank = line.allSatisfy { [0x20, 0x09, 0x0D].contains($0) }
                            let notification = (try? JSONDecoder().decode(TopLevelKeys.self, from: Data(line)))?.keys.contains("id") == false
                            #expect(blank || notification, "unanswered: \(String(decoding: line.prefix(200), as: UTF8.self))")
                            tally.withLock { blank ? ($0.blank += 1) : ($0.notifications += 1) }
                        }
                        tally.withLock { $0.lines += 1; $0.answered += answers }
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        #expect(pair.daemon.isRunning)
        #expect(try await pair.daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false)
        let figures = tally.withLock { $0 }
        Campaign.report(
            "Bad input: control socket",
            [
                "\(figures.lines) hostile lines on \(connections) pipelined connections, each followed by a sentinel request; \(figures.answered) answered; unanswered as JSON-RPC says: \(figures.blank) blank lines and \(figures.notifications) notifications (no id)",
                "error codes seen: " + figures.codes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "),
                "no crash, no hang, no closed connection, every answer well formed",
            ]
        )
    }

    @Test func framingLimitsHold() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.start()
        // Just under the limit: a parse error, and the connection stays usable.
        let under = try await ControlConnection.connect(path: daemon.socketPath)
        var lines = under.lines.makeAsyncIterator()
        try await under.send(Array(repeating: UInt8(ascii: "x"), count: (1 << 20) - 1) + [0x0A] + Array(#"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"#.utf8) + [0x0A])
        #expect(try JSONDecoder().decode(JSONValue.self, from: try #require(try await lines.next()))["error"]?["code"] == -32700)
        #expect(try JSONDecoder().decode(JSONValue.self, from: try #require(try await lines.next()))["id"] == 1)
        // One byte over it, sent in pieces: -32600, then the connection closes. (Exactly one byte
        // over: bytes still unread when the daemon closes would turn the close into a reset.)
        let over = try await ControlConnection.connect(path: daemon.socketPath)
        var overLines = over.lines.makeAsyncIterator()
        for _ in 0..<16 { try await over.send(Array(repeating: UInt8(ascii: "["), count: 65_536)) }
        try await over.send([UInt8(ascii: "[")])
        #expect(try JSONDecoder().decode(JSONValue.self, from: try #require(try await overLines.next()))["error"]?["code"] == -32600)
        #expect(try await overLines.next() == nil, "closed after an oversize line")
        // Cut off mid-line, and a line trickled a byte at a time: neither disturbs the daemon.
        let cut = try await ControlConnection.connect(path: daemon.socketPath)
        try await cut.send(#"{"jsonrpc":"2.0","id":1,"meth"#)
        await cut.close()
        let slow = try await ControlConnection.connect(path: daemon.socketPath)
        var slowLines = slow.lines.makeAsyncIterator()
        for byte in Array(#"{"jsonrpc":"2.0","id":"slow","method":"daemon.status"}"#.utf8) + [0x0A] {
            try await slow.send([byte])
            await pause(milliseconds: 5)
        }
        #expect(try JSONDecoder().decode(JSONValue.self, from: try #require(try await slowLines.next()))["id"] == "slow")
        #expect(daemon.isRunning)
    }

    @Test func theWebhookListenerSurvivesHostileRequests() async throws {
        let requests = Campaign.scale(short: 400, long: 20_000)
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let port = try #require(Int(listen.split(separator: ":").last ?? ""))
        var random = Campaign.random("webhook")
        let seed = random.next()
        let tally = Locked((statuses: [Int: Int](), closedWithoutAnswer: 0, hung: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    var generator = InputGenerator(random: SplitMix64(seed: seed &+ UInt64(lane)))
                    for _ in 0..<(requests / 8) {
                        let exchange = try await rawExchange(port: port, [generator.httpRequest(sign: Fleet.sign)])
                        tally.withLock { tally in
                            if exchange.timedOut { tally.hung += 1 }
                            if let status = exchange.status { tally.statuses[status, default: 0] += 1 } else { tally.closedWithoutAnswer += 1 }
                        }
                        if let status = exchange.status { #expect(Self.httpStatuses.contains(status), "\(String(decoding: exchange.bytes.prefix(300), as: UTF8.self))") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let figures = tally.withLock { $0 }
        #expect(figures.hung == 0, "every request was answered or closed")
        #expect(pair.daemon.isRunning)
        let hook = SimClient(base: "http://\(listen)")
        #expect(try await hook.get("/healthz").status == 200)
        let body = #"{"eventNotifications":[]}"#
        #expect(try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", Fleet.sign(body))], body: Data(body.utf8)).status == 200)
        Campaign.report(
            "Bad input: webhook listener",
            [
                "\(requests) hostile HTTP requests (random bytes, truncation, huge and many headers, bad lengths, chunked lies, signed junk) on 8 lanes",
                "answers: " + figures.statuses.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ") + "; closed without an answer: \(figures.closedWithoutAnswer)",
                "no hang, no crash, /healthz 200 and a signed delivery 200 afterwards",
            ]
        )
    }

    @Test func idleConnectionsAreShedAndOthersStillServed() async throws {
        // All 300 control connections come from one uid: lift the control caps (ControlLimitsTests covers them).
        let pair = try await Pair.start(daemonEnvironment: ["QBSYNCD_CONTROL_MAX_CONNECTIONS": "1000", "QBSYNCD_CONTROL_MAX_CONNECTIONS_PER_UID": "1000"])
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let port = try #require(Int(listen.split(separator: ":").last ?? ""))
        // 600 silent webhook connections (the cap is 512) and 300 silent control connections.
        let idle = try await withThrowingTaskGroup(of: RawExchange.self) { group in
            for _ in 0..<600 { group.addTask { try await rawExchange(port: port, [], deadline: .seconds(40), halfClose: false) } }
            var controls: [ControlConnection] = []
            for _ in 0..<300 { controls.append(try await ControlConnection.connect(path: pair.daemon.socketPath)) }
            // While they sit there, the control socket answers at once.
            do {
                #expect(try await pair.daemon.connect().call(DaemonStatusCall.self).version.isEmpty == false)
            } catch {
                Issue.record("\(error): \(pair.daemon.log.suffix(3000))")
            }
            var results: [RawExchange] = []
            for try await exchange in group { results.append(exchange) }
            for control in controls { await control.close() }
            return results
        }
        // The daemon closed every idle webhook connection itself (10 s idle limit), none waited for our 40 s deadline.
        #expect(idle.allSatisfy { !$0.timedOut })
        let hook = SimClient(base: "http://\(listen)")
        let body = #"{"eventNotifications":[]}"#
        #expect(try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", Fleet.sign(body))], body: Data(body.utf8)).status == 200)
        // A delivery trickled in over a second still gets its 200.
        let request = Array("POST /api/webhooks/quickbooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nintuit-signature: \(Fleet.sign(body))\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        let slow = try await rawExchange(port: port, request.map { [$0] }, between: { await pause(milliseconds: 5) })
        #expect(slow.status == 200)
        Campaign.report("Bad input: idle and slow clients", ["600 idle webhook connections (cap 512) and 300 idle control connections: control answered meanwhile; every idle webhook connection shed by the daemon; a byte-at-a-time delivery still 200"])
    }
}

/// The member names of a JSON object, parsed as the daemon parses a line (JSONDecoder).
struct TopLevelKeys: Decodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let keys: Set<String>

    init(from decoder: any Decoder) throws {
        keys = Set(try decoder.container(keyedBy: Key.self).allKeys.map(\.stringValue))
    }
}
