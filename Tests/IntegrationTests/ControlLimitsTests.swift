import Foundation
import Logging
import QBControlClient
import QBSyncCore
import QBSyncStore
import QBTestSupport
import Synchronization
import Testing

/// F3: the real daemon over its real control socket, against clients that do not play along.
@Suite(.timeLimit(.minutes(3))) struct ControlLimitsTests {
    /// A peer that pipelines thousands of `org.list` calls and never reads is no longer read
    /// either: the daemon's memory stays flat and other clients are served. Once the peer reads,
    /// every answer arrives, in order.
    @Test func aClientThatNeverReadsIsNotReadEither() async throws {
        let daemon = try DaemonProcess()
        defer { daemon.cleanUp() }
        try await daemon.seed(orgs: (0..<20).map { "tenant-\($0)" })
        try await daemon.start()
        let probe = try await daemon.connect()
        let answer = try await probe.call(OrgListCall.self, .init())
        #expect(answer.orgs.count == 20)
        let baseline = try #require(residentKiB(pid: daemon.pid))

        let count = 20_000
        var requests: [UInt8] = []
        for id in 0..<count { requests += Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"org.list"}"#.utf8) + [0x0A] }
        #expect(requests.count > 900_000, "far more than a socket buffer and one read")
        let flooder = try RawUnixSocket(path: daemon.socketPath)
        defer { flooder.close() }

        // Push until the daemon stops taking bytes; its memory must never run away meanwhile.
        let budgetKiB = 48 * 1024
        var sent = 0
        var stalledPolls = 0
        var peakKiB = baseline
        let outcome = try await eventually(timeout: .seconds(90), "the daemon stops reading a peer that does not read") { () -> String? in
            let accepted = flooder.sendSome(requests[sent...])
            sent += accepted
            peakKiB = max(peakKiB, residentKiB(pid: daemon.pid) ?? 0)
            if peakKiB - baseline > budgetKiB { return "over budget" }
            if sent == requests.count { return "everything was read" }
            stalledPolls = accepted == 0 ? stalledPolls + 1 : 0
            return stalledPolls >= 50 ? "stalled" : nil
        }
        #expect(outcome == "stalled", "peak RSS grew by \(peakKiB - baseline) KiB; \(sent) of \(requests.count) bytes taken")

        // Another client is answered at once.
        let started = ContinuousClock.now
        #expect(try await probe.call(DaemonStatusCall.self).version.isEmpty == false)
        #expect(ContinuousClock.now - started < .seconds(5))
        await probe.close()

        // Now the flooder reads: every answer, in order, none lost.
        let answers = try await flooder.sendRestAndReadLines(requests[sent...]) { index, line in
            line.starts(with: Array(#"{"jsonrpc":"2.0","id":\#(index),"result":{"#.utf8)) && line.count > 20 * 100
        }
        #expect(answers.count == count)
        #expect(answers.firstWrong == nil, "answer \(answers.firstWrong ?? "")")
        #expect(daemon.isRunning)
    }

    /// One uid may hold `QBSYNCD_CONTROL_MAX_CONNECTIONS_PER_UID` connections, everyone together
    /// `QBSYNCD_CONTROL_MAX_CONNECTIONS`; an excess one gets one error line and is closed.
    @Test func excessConnectionsAreToldAndClosed() async throws {
        let daemon = try DaemonProcess(extraEnvironment: [
            "QBSYNCD_CONTROL_MAX_CONNECTIONS": "4", "QBSYNCD_CONTROL_MAX_CONNECTIONS_PER_UID": "3", "QBSYNCD_READONLY_GROUP": "nogroup",
        ])
        defer { daemon.cleanUp() }
        chmod(daemon.directory.path, 0o755)
        try await daemon.start()
        var held: [ControlClient] = []
        for _ in 0..<3 {
            let client = try await eventually("a connection slot") { try await admitted(daemon) }
            held.append(client)
        }
        let refusal = try await firstLine(of: try await ControlConnection.connect(path: daemon.socketPath))
        #expect(refusal.line?["error"]?["code"] == -32000)
        #expect(refusal.line?["error"]?["data"]?["reason"] == "too_many_connections")
        #expect(refusal.line?["error"]?["message"]?.stringValue?.contains("uid 0") == true)
        #expect(refusal.closed, "closed after its one line")
        // qbctl tells the operator why, not just that the connection closed.
        let told = try await qbctl(["status"], socket: daemon.socketPath)
        #expect(told.status != 0)
        #expect(told.stderr.contains("control connections"), "\(told.stderr)")

        // Another uid still gets the fourth slot; a fifth connection from it meets the total cap.
        if getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            let script = """
                import socket, sys
                def line(s): return s.makefile('rb').readline().decode().strip()
                a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
                a.sendall(b'{"jsonrpc":"2.0","id":1,"method":"daemon.status"}\\n'); print(line(a))
                b = socket.socket(socket.AF_UNIX); b.settimeout(10); b.connect(sys.argv[1]); print(line(b) or 'null')
                """
            let result = try await runCommand(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script, daemon.socketPath]
            )
            let lines = try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            #expect(lines.first?["result"]?["version"] != nil, "\(result.stderr)")
            #expect(lines.last?["error"]?["data"]?["reason"] == "too_many_connections")
            #expect(lines.last?["error"]?["message"]?.stringValue?.contains("4 control connections") == true)
        }

        // A slot freed is a slot for the next client.
        await held.removeLast().close()
        let again = try await eventually("the freed slot") { try await admitted(daemon) }
        await again.close()
        for client in held { await client.close() }
    }

    /// After `QBSYNCD_CONTROL_IDLE_TIMEOUT` a silent connection is closed; a subscriber is kept.
    @Test func idleConnectionsAreClosedButSubscribersStay() async throws {
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_CONTROL_IDLE_TIMEOUT": "3"])
        defer { daemon.cleanUp() }
        try await daemon.start()
        // A connection silent for the timeout is closed even before its first call (rightly): on a
        // loaded machine the subscriber may meet that, so it subscribes on a fresh connection then.
        let subscriber = try await eventually(timeout: .seconds(30), "a subscribed connection") { () -> ControlClient? in
            let client = try await daemon.connect()
            do {
                return try await client.call(SubscribeCall.self, .init(topics: ["webhook.event"])).subscribed == true ? client : nil
            } catch {
                await client.close()
                return nil
            }
        }
        let silent = try await ControlConnection.connect(path: daemon.socketPath)
        let used = try await ControlConnection.connect(path: daemon.socketPath)
        try await used.send(#"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"# + "\n")

        let silentEnd = try await firstLine(of: silent, deadline: .seconds(30))
        #expect(silentEnd.line == nil && silentEnd.closed, "the daemon closed the silent connection")
        let usedEnd = try await firstLine(of: used, lines: 2, deadline: .seconds(30))
        #expect(usedEnd.line?["id"] == 1, "answered first")
        #expect(usedEnd.closed, "then closed once idle")
        #expect(try await subscriber.call(DaemonStatusCall.self).subscribers == 1, "the subscriber outlived the timeout")
        await subscriber.close()
    }
}

/// L3: the groups are the ones the kernel recorded for the socket (SO_PEERGROUPS): a supplementary
/// member of the read-only group may read, a member of other groups only may not.
@Suite(.timeLimit(.minutes(2))) struct PeerGroupsAccessTests {
    @Test func supplementaryGroupsComeFromTheSocket() async throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { return }
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_READONLY_GROUP": "nogroup"])
        defer { daemon.cleanUp() }
        chmod(daemon.directory.path, 0o755)
        try await daemon.start()
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"org.list"}\\n')
            print(s.makefile('rb').readline().decode().strip())
            """
        func call(groups: String) async throws -> JSONValue {
            let result = try await runCommand(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=1", "--groups=\(groups)", "/usr/bin/python3", "-c", script, daemon.socketPath]
            )
            #expect(result.status == 0, "\(result.stderr)")
            return try JSONDecoder().decode(JSONValue.self, from: Data(result.stdout.utf8))
        }
        #expect(try await call(groups: "4,27,65534")["result"] != nil, "nogroup among several supplementary groups")
        #expect(try await call(groups: "0,65534")["result"] != nil, "with gid 0 first")
        #expect(try await call(groups: "4,27")["error"]?["code"] == 1011)
        #expect(try await call(groups: "0")["error"]?["code"] == 1011)
    }
}

/// A client whose connection was admitted (it answered a call).
private func admitted(_ daemon: DaemonProcess) async throws -> ControlClient? {
    let client = try await daemon.connect()
    do {
        _ = try await client.call(DaemonStatusCall.self)
        return client
    } catch {
        await client.close()
        return nil
    }
}

/// The last of the first `lines` lines of a connection (nil if it closed first), and whether it
/// closed by `deadline`.
private func firstLine(of connection: ControlConnection, lines count: Int = 1, deadline: Duration = .seconds(10)) async throws -> (line: JSONValue?, closed: Bool) {
    // A watchdog closes the connection at the deadline (as rawExchange's does), so a daemon that
    // never closes it shows as not closed rather than hanging the test.
    let timedOut = Mutex(false)
    let watchdog = Task {
        let end = ContinuousClock.now + deadline
        while ContinuousClock.now < end, !Task.isCancelled { await pause(milliseconds: 50) }
        guard !Task.isCancelled else { return }
        timedOut.withLock { $0 = true }
        await connection.close()
    }
    var lines = connection.lines.makeAsyncIterator()
    var last: JSONValue?
    do {
        for _ in 0..<count {
            guard let line = try await lines.next() else { break }
            last = try JSONDecoder().decode(JSONValue.self, from: line)
        }
        while try await lines.next() != nil {}
    } catch {
        // A reset after the line is a close too.
    }
    watchdog.cancel()
    await connection.close()
    return (last, !timedOut.withLock { $0 })
}

/// The resident set of a process in KiB (`VmRSS` in `/proc/PID/status`).
private func residentKiB(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }  // gone: no figure
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
    }
    return nil
}

/// A Unix stream socket driven by hand, so it can send without ever reading.
private final class RawUnixSocket: @unchecked Sendable {
    private let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { throw DeadlineExceeded(description: "connect \(path): errno \(errno)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// Sends what the socket takes now, without waiting; returns how many bytes that was.
    func sendSome(_ bytes: ArraySlice<UInt8>) -> Int {
        var total = 0
        while total < bytes.count {
            let written = bytes.withUnsafeBytes { raw in send(fd, raw.baseAddress! + total, raw.count - total, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { break }
            total += written
        }
        return total
    }

    /// Sends the rest (half-closing after it) while reading every line until the daemon closes;
    /// `check` judges each line (by its index) as it comes, so nothing large is kept.
    func sendRestAndReadLines(
        _ rest: ArraySlice<UInt8>, check: @escaping @Sendable (Int, ArraySlice<UInt8>) -> Bool
    ) async throws -> (count: Int, firstWrong: String?) {
        let fd = self.fd
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                var remaining = rest
                if remaining.isEmpty { shutdown(fd, Int32(SHUT_WR)) }
                var pending: [UInt8] = []
                var count = 0
                var firstWrong: String?
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                var open = true
                while open {
                    var polls = [pollfd(fd: fd, events: Int16(POLLIN) | (remaining.isEmpty ? 0 : Int16(POLLOUT)), revents: 0)]
                    guard poll(&polls, 1, 30_000) > 0 else {
                        continuation.resume(throwing: DeadlineExceeded(description: "no progress for 30 s after \(count) answers"))
                        return
                    }
                    if !remaining.isEmpty, polls[0].revents & Int16(POLLOUT) != 0 {
                        let written = remaining.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                        if written > 0 { remaining = remaining.dropFirst(written) }
                        if remaining.isEmpty { shutdown(fd, Int32(SHUT_WR)) }
                    }
                    guard polls[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { continue }
                    let read = recv(fd, &buffer, buffer.count, 0)
                    guard read > 0 else {
                        if read == 0 || errno != EAGAIN { open = false }
                        continue
                    }
                    pending += buffer[0..<read]
                    var start = pending.startIndex
                    while let newline = pending[start...].firstIndex(of: 0x0A) {
                        let line = pending[start..<newline]
                        if firstWrong == nil, !check(count, line) { firstWrong = "\(count): " + String(decoding: line.prefix(120), as: UTF8.self) }
                        count += 1
                        start = newline + 1
                    }
                    pending.removeSubrange(..<start)
                }
                continuation.resume(returning: (count, firstWrong))
            }
        }
    }

    func close() { Glibc.close(fd) }
}
