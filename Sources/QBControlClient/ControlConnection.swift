public import Foundation
public import NIOCore
public import NIOPosix
import NIOFoundationCompat
import Synchronization

/// A raw connection to the control socket: send bytes, read `\n`-terminated lines.
///
/// Tests use it to send malformed and pipelined input; ``ControlClient`` builds calls on it.
public final class ControlConnection: Sendable {
    public let channel: any Channel
    /// Every line the daemon sends, without its `\n`; finishes when the daemon closes the connection.
    public let lines: AsyncThrowingStream<Data, any Error>

    private init(channel: any Channel, lines: AsyncThrowingStream<Data, any Error>) {
        self.channel = channel
        self.lines = lines
    }

    public static func connect(path: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws(ControlClientError) -> ControlConnection {
        let (lines, continuation) = AsyncThrowingStream.makeStream(of: Data.self, throwing: (any Error).self)
        do {
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ClientLineDecoder()))
                        try channel.pipeline.syncOperations.addHandler(LineForwarder(continuation: continuation))
                    }
                }
                .connect(unixDomainSocketPath: path).get()
            return ControlConnection(channel: channel, lines: lines)
        } catch {
            continuation.finish()
            throw ControlClientError(.unreachable, Self.describeConnectFailure(error, path: path))
        }
    }

    /// Sends bytes as they are (add the `\n` yourself).
    public func send(_ bytes: some Sequence<UInt8>) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: Array(bytes)))
    }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    public func close() async {
        try? await channel.close()  // try?: closing a closed channel is done
    }

    static func describeConnectFailure(_ error: any Error, path: String) -> String {
        if let error = error as? IOError {
            switch error.errnoCode {
            case ENOENT: return "cannot reach qbsyncd at \(path): no such socket (is the daemon running?)"
            case ECONNREFUSED: return "cannot reach qbsyncd at \(path): connection refused (is the daemon running?)"
            case EACCES, EPERM: return "cannot reach qbsyncd at \(path): permission denied (is this user in the daemon's control group?)"
            default: return "cannot reach qbsyncd at \(path): \(String(cString: strerror(error.errnoCode)))"
            }
        }
        return "cannot reach qbsyncd at \(path): \(error)"
    }
}

/// Splits the daemon's output into lines; a response may be large (entity lists), so no cap here.
private struct ClientLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    /// Bytes after the reader index already searched for `\n`: a long answer arriving in many
    /// reads is scanned once, not again on every read (the daemon's decoder does the same, L13).
    /// Rescanning held an event loop for seconds on a long line, and every other channel on it
    /// (PostgreSQL connections in the tests among them) waited.
    private var scanned = 0

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view[(view.startIndex + min(scanned, view.count))...].firstIndex(of: UInt8(ascii: "\n")) else {
            scanned = view.count
            return .needMoreData
        }
        scanned = 0
        let line = buffer.readSlice(length: newline - view.startIndex)!
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Hands each line to the connection's stream and finishes it when the channel goes away.
private final class LineForwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncThrowingStream<Data, any Error>.Continuation

    init(continuation: AsyncThrowingStream<Data, any Error>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(Data(buffer: Self.unwrapInboundIn(data)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }
}
