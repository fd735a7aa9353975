import HTTPServerKit
import Logging
import NIOCore
import NIOHTTP1
import QBTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The kit over real sockets: keep-alive, the body limit, and quiescing.
@Suite(.timeLimit(.minutes(3))) struct HTTPServerTests {
    /// Answers `/hold` only when the test releases it; everything else at once with the body's size.
    final class Responder: HTTPResponder {
        let held = Mutex<[EventLoopPromise<HTTPResponse>]>([])

        func respond(to request: HTTPRequest, on eventLoop: any EventLoop) -> EventLoopFuture<HTTPResponse> {
            if request.head.uri == "/hold" {
                let promise = eventLoop.makePromise(of: HTTPResponse.self)
                held.withLock { $0.append(promise) }
                return promise.futureResult
            }
            return eventLoop.makeSucceededFuture(.text(.ok, "\(request.body.readableBytes) bytes\n"))
        }

        func release() {
            for promise in held.withLock({ $0 }) { promise.succeed(.text(.ok, "released\n")) }
        }
    }

    /// Connections the server accepted.
    final class Accepted: Sendable {
        let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
    }

    /// A running server on a free port, its connections counted; stopped at the end of `body`.
    func withServer(
        maximumBodySize: Int = 1 << 20, _ body: (HTTPServer, Responder, Accepted) async throws -> Void
    ) async throws {
        let responder = Responder()
        let accepted = Accepted()
        let configuration = HTTPServerConfiguration(
            target: .address(host: "127.0.0.1", port: 0), maximumBodySize: maximumBodySize, requestTimeout: .seconds(30),
            admit: { _ in accepted.count.add(1, ordering: .relaxed); return true }
        )
        let server = try await HTTPServer.bind(configuration, responder: responder, logger: Logger(label: "test"))
        let running = Task { try await server.run() }
        do {
            try await body(server, responder, accepted)
        } catch {
            responder.release()
            server.stop()
            _ = try? await running.value  // try?: the test's own error is the one to report
            throw error
        }
        responder.release()
        server.stop()
        try await running.value
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer { server, _, accepted in
            let connection = try await RawHTTPConnection(port: server.port)
            defer { connection.close() }
            for size in [0, 5, 300] {
                let response = try await connection.request("POST", "/echo", body: String(repeating: "x", count: size))
                #expect(response.status == 200)
                #expect(response.body == "\(size) bytes\n")
                #expect(response.header("connection") == nil)
            }
            // Two requests in one write (pipelined) are answered in order.
            try await connection.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\nPOST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
            #expect(try await connection.response().body == "0 bytes\n")
            #expect(try await connection.response().body == "2 bytes\n")
            #expect(accepted.value == 1, "one connection for all five requests")
            // `Connection: close` is honoured.
            let last = try await connection.request("GET", "/", headers: "Connection: close\r\n")
            #expect(last.header("connection") == "close")
            #expect(try await connection.waitForClose())
        }
    }

    @Test func aBodyOverTheLimitIs413AndTheConnectionCloses() async throws {
        try await withServer(maximumBodySize: 16) { server, _, _ in
            let fits = try await RawHTTPConnection(port: server.port)
            defer { fits.close() }
            #expect(try await fits.request("POST", "/", body: String(repeating: "a", count: 16)).status == 200)

            // Announced by Content-Length: refused before the body is read.
            let announced = try await RawHTTPConnection(port: server.port)
            defer { announced.close() }
            try await announced.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n")
            let refused = try await announced.response()
            #expect(refused.status == 413)
            #expect(refused.header("connection") == "close")
            #expect(try await announced.waitForClose())

            // Chunked, so only counting finds it.
            let chunked = try await RawHTTPConnection(port: server.port)
            defer { chunked.close() }
            try await chunked.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n8\r\naaaaaaaa\r\n8\r\naaaaaaaa\r\n8\r\naaaaaaaa\r\n0\r\n\r\n")
            #expect(try await chunked.response().status == 413)
            #expect(try await chunked.waitForClose())
        }
    }

    @Test func quiescingClosesIdleConnectionsAndLetsARequestInFlightFinish() async throws {
        let responder = Responder()
        let configuration = HTTPServerConfiguration(target: .address(host: "127.0.0.1", port: 0))
        let server = try await HTTPServer.bind(configuration, responder: responder, logger: Logger(label: "test"))
        let running = Task { try await server.run() }
        defer { responder.release() }

        // An idle keep-alive connection, and one with a request the responder holds.
        let idle = try await RawHTTPConnection(port: server.port)
        defer { idle.close() }
        #expect(try await idle.request("GET", "/").status == 200)
        let busy = try await RawHTTPConnection(port: server.port)
        defer { busy.close() }
        try await busy.send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
        _ = try await eventually("the request held") { responder.held.withLock { $0.count } == 1 ? true : nil }

        server.stop()
        #expect(try await idle.waitForClose(), "the idle connection is closed at once")
        // No new connections are served.
        await #expect(throws: (any Error).self) {
            let late = try await RawHTTPConnection(port: server.port)
            defer { late.close() }
            _ = try await late.request("GET", "/")
        }

        // The held request still gets its answer, then its connection closes and the server ends.
        responder.release()
        let answer = try await busy.response()
        #expect(answer.status == 200)
        #expect(answer.body == "released\n")
        #expect(try await busy.waitForClose())
        try await running.value
    }

    /// Socket activation: the server adopts a socket that is already bound and listening.
    @Test func adoptsAListeningSocket() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(fd, 16) == 0)
        let server = try await HTTPServer.bind(HTTPServerConfiguration(target: .descriptor(fd)), responder: Responder(), logger: Logger(label: "test"))
        let running = Task { try await server.run() }
        let connection = try await RawHTTPConnection(port: server.port)
        defer { connection.close() }
        #expect(server.port > 0)
        #expect(try await connection.request("POST", "/", body: "abc").body == "3 bytes\n")
        server.stop()
        try await running.value
    }

    /// The request deadline: a request still arriving after it is answered 408 and closed, while
    /// requests that each arrive in time keep one connection alive for longer than the deadline.
    @Test func aRequestStillArrivingAtItsDeadlineIs408() async throws {
        let configuration = HTTPServerConfiguration(target: .address(host: "127.0.0.1", port: 0), requestTimeout: .milliseconds(500))
        let server = try await HTTPServer.bind(configuration, responder: Responder(), logger: Logger(label: "test"))
        let running = Task { try await server.run() }

        let prompt = try await RawHTTPConnection(port: server.port)
        defer { prompt.close() }
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .milliseconds(1200) {
            #expect(try await prompt.request("POST", "/", body: "x").status == 200)
        }

        let slow = try await RawHTTPConnection(port: server.port)
        defer { slow.close() }
        try await slow.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        let answer = try await slow.response()
        #expect(answer.status == 408)
        #expect(try await slow.waitForClose())
        server.stop()
        try await running.value
    }
}
