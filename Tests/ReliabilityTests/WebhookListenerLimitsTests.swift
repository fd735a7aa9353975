import Foundation
import NIOCore
import QBControlClient
import QBSyncCore
import QBTestSupport
import NIOPosix
import Synchronization
import Testing

/// F8 and L11 against the real daemon's webhook listener, over raw TCP.
@Suite(.timeLimit(.minutes(5))) struct WebhookListenerLimitsTests {
    /// A client trickling a header byte every half second (each byte resets the idle timeout) is
    /// answered 408 and closed at `QBSYNCD_WEBHOOK_REQUEST_TIMEOUT`, not when it pleases.
    @Test func aTrickledRequestIsCutOffAtItsDeadline() async throws {
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_WEBHOOK_REQUEST_TIMEOUT": "2"])
        defer { daemon.cleanUp() }
        try await daemon.start()
        let port = try await webhookPort(daemon)
        let started = ContinuousClock.now
        let answer = try await trickle(port: port, bytes: 60, every: 500, until: .seconds(60))
        let took = ContinuousClock.now - started
        #expect(answer.closedByServer)
        #expect(String(decoding: answer.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 408 "), "\(String(decoding: answer.bytes.prefix(200), as: UTF8.self))")
        #expect(took < .seconds(20), "cut off after \(took); the trickle alone lasts 30 s")
        // A request that arrives in time on the same listener is still served.
        let body = #"{"eventNotifications":[]}"#
        let prompt = try await rawExchange(port: port, [Array("POST /api/webhooks/quickbooks HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)])
        #expect(prompt.status == 503, "answered (the integration is off in this daemon), not cut off")
    }

    /// 520 slow clients (more than the 512 connections served at once) do not lock Intuit out: a
    /// signed delivery is served at once, the oldest slow client making room for it.
    @Test func slowClientsFillingTheListenerCannotLockOutADelivery() async throws {
        let pair = try await Pair.start(daemonEnvironment: ["QBSYNCD_WEBHOOK_REQUEST_TIMEOUT": "120"])
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        let port = try #require(Int(listen.split(separator: ":").last ?? ""))
        let progress = SlowClients()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<520 {
                group.addTask {
                    // One byte a second (the idle timeout never fires) until the daemon closes it or the test ends.
                    let answer = try await trickle(port: port, bytes: 100, every: 1000, until: .seconds(150), connected: { progress.started.add(1, ordering: .relaxed) })
                    if answer.closedByServer { progress.closed.add(1, ordering: .relaxed) }
                }
            }
            _ = try await eventually(timeout: .seconds(60), "520 slow clients connected") { progress.started.load(ordering: .relaxed) == 520 ? true : nil }
            _ = try await eventually("the 8 oldest closed to make room") { progress.closed.load(ordering: .relaxed) >= 8 ? true : nil }

            let body = #"{"eventNotifications":[]}"#
            let request = Array("POST /api/webhooks/quickbooks HTTP/1.1\r\nHost: x\r\nConnection: close\r\nintuit-signature: \(Fleet.sign(body))\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
            let delivery = try await rawExchange(port: port, [request], deadline: .seconds(10))
            #expect(delivery.status == 200, "\(String(decoding: delivery.bytes.prefix(200), as: UTF8.self))")
            #expect(try await pair.control.call(DaemonStatusCall.self).webhook.accepted == 1)
            _ = try await eventually("one more slow client closed for the delivery") { progress.closed.load(ordering: .relaxed) >= 9 ? true : nil }
            group.cancelAll()
        }
        #expect(pair.daemon.isRunning)
    }

    /// L11: `/healthz` and `/metrics` answer this machine only; a remote peer, or a request a proxy
    /// forwarded, gets 404. Deliveries are served to everyone.
    @Test func localEndpointsAnswerLocalPeersOnly() async throws {
        let daemon = try DaemonProcess(extraEnvironment: ["QBSYNCD_WEBHOOK_LISTEN": "0.0.0.0:0"])
        defer { daemon.cleanUp() }
        try await daemon.start()
        let port = try await webhookPort(daemon)
        let local = SimClient(base: "http://127.0.0.1:\(port)")
        #expect(try await local.get("/metrics").status == 200)
        #expect(try await local.get("/healthz").status != 404)
        #expect(try await local.send(.GET, "/metrics", headers: [("X-Forwarded-For", "203.0.113.9")]).status == 404)
        #expect(try await local.send(.GET, "/healthz", headers: [("Forwarded", "for=203.0.113.9")]).status == 404)

        guard let address = nonLoopbackIPv4() else { return }
        let remote = SimClient(base: "http://\(address):\(port)")
        #expect(try await remote.get("/metrics").status == 404, "from \(address)")
        #expect(try await remote.get("/healthz").status == 404)
        #expect(try await remote.send(.POST, "/api/webhooks/quickbooks", body: Data("{}".utf8)).status == 503, "deliveries are not hidden")
    }
}

/// How far the slow clients got, shared with their tasks.
private final class SlowClients: Sendable {
    let started = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
}

/// Opens a webhook request and sends one header byte every `every` milliseconds, reading meanwhile; ends when the
/// daemon closes the connection, the bytes run out, `until` passes or the task is cancelled.
private func trickle(
    port: Int, bytes: Int, every: Int, until deadline: Duration, connected: @escaping @Sendable () -> Void = {}
) async throws -> (bytes: [UInt8], closedByServer: Bool) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    connected()
    return try await channel.executeThenClose { inbound, outbound in
        try await withThrowingTaskGroup(of: (bytes: [UInt8], closedByServer: Bool)?.self) { group in
            group.addTask {
                var received: [UInt8] = []
                do {
                    for try await buffer in inbound { received += buffer.readableBytesView }
                } catch {
                    // A reset is a close by the server too.
                }
                return (received, true)
            }
            group.addTask {
                do {
                    try await outbound.write(ByteBuffer(string: "POST /api/webhooks/quickbooks HTTP/1.1\r\nHost: x\r\nX-Slow: "))
                    let end = ContinuousClock.now + deadline
                    for _ in 0..<bytes where ContinuousClock.now < end {
                        await pause(milliseconds: every)  // the slow client's pace is the stimulus, not a wait
                        try await outbound.write(ByteBuffer(string: "a"))
                    }
                } catch is CancellationError {
                    return ([], false)
                } catch {
                    // The daemon closed the connection: the reader has what it said.
                    return nil
                }
                return ([], false)
            }
            for try await result in group {
                guard let result else { continue }
                group.cancelAll()
                return result
            }
            return ([], false)
        }
    }
}

private func webhookPort(_ daemon: DaemonProcess) async throws -> Int {
    let client = try await daemon.connect()
    defer { Task { await client.close() } }
    let listen = try await client.call(DaemonStatusCall.self).webhook.listen
    return try #require(Int(listen.split(separator: ":").last ?? ""))
}

/// An IPv4 address of this machine that is not loopback, if it has one.
private func nonLoopbackIPv4() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0, let first = list else { return nil }
    defer { freeifaddrs(list) }
    for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
        guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
        let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !text.hasPrefix("127.") { return text }
    }
    return nil
}
