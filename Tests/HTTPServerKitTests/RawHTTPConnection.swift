import Foundation
import NIOCore
import NIOPosix

/// A client connection speaking HTTP/1.1 as raw bytes, to see exactly what the server does with a
/// connection: answers on it, and whether (and when) it closes it.
final class RawHTTPConnection {
    private let channel: any Channel
    private var inbound: AsyncStream<ByteBuffer>.Iterator
    private var buffered: [UInt8] = []
    /// The server closed the connection.
    private(set) var closed = false

    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: String
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    /// Hands what the server sends to the test, and says when it closed.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<ByteBuffer>.Continuation
        init(_ continuation: AsyncStream<ByteBuffer>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(Self.unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { continuation.finish() }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }

    init(port: Int) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(continuation)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        inbound = stream.makeAsyncIterator()
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func request(_ method: String, _ path: String, body: String = "", headers: String = "") async throws -> Response {
        try await send("\(method) \(path) HTTP/1.1\r\nHost: test\r\nContent-Length: \(body.utf8.count)\r\n\(headers)\r\n\(body)")
        return try await response()
    }

    /// Reads one whole response (by its Content-Length).
    func response() async throws -> Response {
        while true {
            if let end = buffered.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: buffered[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                let status = Int(head[0].split(separator: " ")[1]) ?? 0
                let headers = head.dropFirst().map { line -> (String, String) in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
                }
                let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
                if buffered.count - end.upperBound >= length {
                    let body = String(decoding: buffered[end.upperBound..<(end.upperBound + length)], as: UTF8.self)
                    buffered.removeFirst(end.upperBound + length)
                    return Response(status: status, headers: headers, body: body)
                }
            }
            guard try await readMore() else { throw ClosedEarly(buffered: String(decoding: buffered, as: UTF8.self)) }
        }
    }

    /// Waits for the server to close the connection (true), reading and keeping what it sends.
    func waitForClose() async throws -> Bool {
        while try await readMore() {}
        return closed
    }

    private func readMore() async throws -> Bool {
        guard !closed else { return false }
        guard let chunk = await inbound.next() else {
            closed = true
            return false
        }
        buffered += chunk.readableBytesView
        return true
    }

    func close() {
        channel.close(promise: nil)
    }

    struct ClosedEarly: Error { var buffered: String }
}
