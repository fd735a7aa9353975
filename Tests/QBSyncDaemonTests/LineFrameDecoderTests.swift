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
}
