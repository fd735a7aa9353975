import NIOCore

/// What the control connection reads: every complete line that arrived in one read, or the
/// notice that a line went past the limit (after which the connection is closed).
enum ControlFrame: Sendable {
    case lines([ByteBuffer])
    case oversize
}

/// Newline-delimited framing for the control socket.
///
/// All complete lines of one read go up as one batch, so a pipelining client gets its responses
/// in one write (one flush). A trailing `\r` is dropped and blank lines are skipped. A line longer
/// than `maximumLineLength` bytes (without its `\n`) ends the stream with `.oversize`; the bytes
/// after it are discarded because the connection is about to close.
struct LineFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ControlFrame

    let maximumLineLength: Int
    private var overflowed = false
    /// Bytes after the reader index already searched for `\n`: a line trickled in is scanned once,
    /// not again on every read (L13).
    private(set) var scanned = 0

    init(maximumLineLength: Int) { self.maximumLineLength = maximumLineLength }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard !overflowed else {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        var lines: [ByteBuffer] = []
        while true {
            let view = buffer.readableBytesView
            guard let newline = view[(view.startIndex + min(scanned, view.count))...].firstIndex(of: UInt8(ascii: "\n")) else {
                scanned = view.count
                if buffer.readableBytes > maximumLineLength { overflow(&buffer) }
                break
            }
            scanned = 0
            let length = newline - view.startIndex
            if length > maximumLineLength {
                overflow(&buffer)
                break
            }
            var line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
            if !Self.isBlank(line) { lines.append(line) }
        }
        if !lines.isEmpty { context.fireChannelRead(Self.wrapInboundOut(.lines(lines))) }
        if overflowed { context.fireChannelRead(Self.wrapInboundOut(.oversize)) }
        return .needMoreData
    }

    /// At end of input a final line without `\n` is still a request.
    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        _ = try decode(context: context, buffer: &buffer)
        if !overflowed, buffer.readableBytes > 0 {
            let line = buffer.readSlice(length: buffer.readableBytes)!
            if !Self.isBlank(line) { context.fireChannelRead(Self.wrapInboundOut(.lines([line]))) }
        }
        return .needMoreData
    }

    private mutating func overflow(_ buffer: inout ByteBuffer) {
        overflowed = true
        buffer.moveReaderIndex(to: buffer.writerIndex)
    }

    private static func isBlank(_ line: ByteBuffer) -> Bool {
        line.readableBytesView.allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
    }
}
