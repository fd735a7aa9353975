import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What came back on one raw TCP exchange.
struct RawExchange {
    var bytes: [UInt8]
    /// The peer never closed: the deadline closed the connection.
    var timedOut: Bool
    /// The status of the first HTTP response, if one came.
    var status: Int? {
        guard bytes.count >= 12, bytes.starts(with: Array("HTTP/1.".utf8)) else { return nil }
        return Int(String(decoding: bytes[9..<12], as: UTF8.self))
    }
}

/// Sends `chunks` on a fresh connection, half-closes, and collects the answer until the peer
/// closes or `deadline` passes (a hang shows as `timedOut`). `between` runs after each chunk, for
/// slow clients.
func rawExchange(port: Int, _ chunks: [[UInt8]], deadline: TimeAmount = .seconds(15), halfClose: Bool = true, between: (() async -> Void)? = nil) async throws -> RawExchange {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)) }
        }
    let timedOut = NIOLockedValueBox(false)
    let watchdog = channel.channel.eventLoop.scheduleTask(in: deadline) {
        timedOut.withLockedValue { $0 = true }
        channel.channel.close(promise: nil)
    }
    defer { watchdog.cancel() }
    var received: [UInt8] = []
    do {
        try await channel.executeThenClose { inbound, outbound in
            for chunk in chunks {
                try await outbound.write(ByteBuffer(bytes: chunk))
                await between?()
            }
            if halfClose { outbound.finish() }
            for try await buffer in inbound { received += buffer.readableBytesView }
        }
    } catch {
        // A reset or a close mid-write is an answer too: what arrived before it counts.
    }
    return RawExchange(bytes: received, timedOut: timedOut.withLockedValue { $0 })
}
