import NIOCore
import NIOHTTP1

/// A deadline from a request's first byte to the end of its body (F8): past it the client gets
/// `408 Request Timeout` and the connection is closed. The idle read timeout resets on every byte,
/// so without this a client trickling a byte every few seconds held a connection for days.
///
/// Two handlers share one clock: ``Bytes`` sits before the HTTP decoder and starts the clock on a
/// request's first read; ``Parts`` sits right after the decoder and stops it at the request's end.
/// Bytes that came in the same read as an end start the next clock with the next read; until then
/// the idle timeout covers them. An idle keep-alive connection has no clock running.
final class WebhookRequestDeadline {
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    fileprivate func bytesArrived(context: ChannelHandlerContext) {
        if timer == nil { start(context: context) }
    }

    fileprivate func requestEnded() {
        stop()
    }

    fileprivate func stop() {
        timer?.cancel()
        timer = nil
    }

    /// `context` is the byte handler's: the 408 goes out below the HTTP encoder, as raw bytes.
    private func start(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.timer = nil
            guard context.channel.isActive else { return }
            var response = ByteBuffer()
            response.writeString(Self.timeoutResponse)
            context.writeAndFlush(NIOAny(response)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    static let timeoutResponse =
        "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 36\r\nConnection: close\r\n\r\nthe request took too long to arrive\n"

    /// Before the decoder: starts the clock.
    final class Bytes: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let clock: WebhookRequestDeadline

        fileprivate init(clock: WebhookRequestDeadline) { self.clock = clock }

        func handlerRemoved(context: ChannelHandlerContext) {
            clock.stop()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            clock.bytesArrived(context: context)
            context.fireChannelRead(data)
        }

        func channelInactive(context: ChannelHandlerContext) {
            clock.stop()
            context.fireChannelInactive()
        }
    }

    /// After the decoder: stops the clock at each request's end.
    final class Parts: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        private let clock: WebhookRequestDeadline

        fileprivate init(clock: WebhookRequestDeadline) { self.clock = clock }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .end = Self.unwrapInboundIn(data) { clock.requestEnded() }
            context.fireChannelRead(data)
        }
    }

    /// Adds the HTTP server pipeline with the deadline's two handlers around its decoder.
    static func install(on pipeline: ChannelPipeline.SynchronousOperations, timeout: TimeAmount) throws {
        let clock = WebhookRequestDeadline(timeout: timeout)
        try pipeline.addHandler(Bytes(clock: clock))
        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
        let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try pipeline.addHandler(Parts(clock: clock), position: .after(decoder))
    }
}
