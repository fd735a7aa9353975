import NIOCore
import NIOEmbedded
import Testing
@testable import QBSyncDaemon

@Suite struct LineFrameDecoderTests {
    func channel(limit: Int = 16) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLineLength: limit)))
        return channel
    }

    func lines(_ frame: ControlFrame?) -> [String]? {
        guard case .lines(let buffers) = frame else { return nil }
        return buffers.map { String(buffer: $0) }
    }

    @Test func allCompleteLinesOfOneReadArriveAsOneBatch() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "a\nbb\r\n\n  \nccc\npartial"))
        #expect(lines(try channel.readInbound(as: ControlFrame.self)) == ["a", "bb", "ccc"])
        #expect(try channel.readInbound(as: ControlFrame.self) == nil)
        try channel.writeInbound(ByteBuffer(string: "-line\n"))
        #expect(lines(try channel.readInbound(as: ControlFrame.self)) == ["partial-line"])
    }

    @Test func aLineExactlyAtTheLimitIsAccepted() throws {
        let channel = try channel(limit: 16)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 16) + "\n"))
        #expect(lines(try channel.readInbound(as: ControlFrame.self)) == [String(repeating: "x", count: 16)])
    }

    @Test func aLineOverTheLimitEndsTheStreamAfterTheLinesBeforeIt() throws {
        let channel = try channel(limit: 16)
        try channel.writeInbound(ByteBuffer(string: "ok\n" + String(repeating: "x", count: 17) + "\nlater\n"))
        #expect(lines(try channel.readInbound(as: ControlFrame.self)) == ["ok"])
        guard case .oversize = try channel.readInbound(as: ControlFrame.self) else {
            Issue.record("expected oversize")
            return
        }
        try channel.writeInbound(ByteBuffer(string: "more\n"))
        #expect(try channel.readInbound(as: ControlFrame.self) == nil, "nothing after an oversize line")
    }

    @Test func anUnterminatedLineOverTheLimitIsCaughtBeforeItsNewline() throws {
        let channel = try channel(limit: 16)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "y", count: 17)))
        guard case .oversize = try channel.readInbound(as: ControlFrame.self) else {
            Issue.record("expected oversize")
            return
        }
    }

    @Test func aFinalLineWithoutNewlineIsServedAtEndOfInput() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "last"))
        #expect(try channel.readInbound(as: ControlFrame.self) == nil)
        channel.pipeline.fireChannelInactive()
        #expect(lines(try channel.readInbound(as: ControlFrame.self)) == ["last"])
    }

    /// A line trickled in is searched for its end once, from where the last read stopped (L13):
    /// not rescanned from its start on every read (quadratic for a 1 MiB line sent in pieces).
    @Test func aTrickledLineIsScannedOnce() throws {
        final class Sink: ChannelInboundHandler, Sendable { typealias InboundIn = ControlFrame }
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(Sink())
        let context = try channel.pipeline.syncOperations.context(handlerType: Sink.self)
        var decoder = LineFrameDecoder(maximumLineLength: 1 << 20)
        var buffer = ByteBuffer()
        for piece in ["{\"jsonrpc\":", "\"2.0\",", "\"id\":1}"] {
            buffer.writeString(piece)
            _ = try decoder.decode(context: context, buffer: &buffer)
            #expect(decoder.scanned == buffer.readableBytes, "everything read so far was searched once")
        }
        buffer.writeString("\nnext")
        _ = try decoder.decode(context: context, buffer: &buffer)
        #expect(buffer.readableBytes == 4 && decoder.scanned == 4, "the line went up; the rest is scanned from its own start")
    }
}
