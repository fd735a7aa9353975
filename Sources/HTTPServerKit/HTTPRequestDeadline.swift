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
///
/// The clock is a start time, not a timer per request: one timer per connection checks it when it
/// fires and re-arms itself while requests keep coming, so back-to-back requests on a keep-alive
/// connection cost a clock read each, not a timer scheduled and cancelled each (the idle state
/// handler's own trick).
final class HTTPRequestDeadline {
    private let timeout: TimeAmount
    /// When the request under way began (nil: none is).
    private var started: NIODeadline?
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    fileprivate func bytesArrived(context: ChannelHandlerContext) {
        guard started == nil else { return }
        let now = NIODeadline.now()
        started = now
        if timer == nil { arm(at: now + timeout, context: context) }
    }

    fileprivate func requestEnded() {
        started = nil
    }

    fileprivate func stop() {
        started = nil
        timer?.cancel()
        timer = nil
    }

    /// `context` is the byte handler's: the 408 goes out below the HTTP encoder, as raw bytes.
    private func arm(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timer = nil
            guard context.channel.isActive, let started = self.started else { return }
            let due = started + self.timeout
            guard due <= NIODeadline.now() else {
                // A later request than the one this timer was armed for: check again at its deadline.
                self.arm(at: due, context: context)
                return
            }
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
        private let clock: HTTPRequestDeadline

        fileprivate init(clock: HTTPRequestDeadline) { self.clock = clock }

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
        private let clock: HTTPRequestDeadline

        fileprivate init(clock: HTTPRequestDeadline) { self.clock = clock }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .end = Self.unwrapInboundIn(data) { clock.requestEnded() }
            context.fireChannelRead(data)
        }
    }

    /// Adds the HTTP server pipeline with the deadline's two handlers around its decoder.
    static func install(on pipeline: ChannelPipeline.SynchronousOperations, timeout: TimeAmount, validatesResponseHeaders: Bool) throws {
        let clock = HTTPRequestDeadline(timeout: timeout)
        try pipeline.addHandler(Bytes(clock: clock))
        try pipeline.configureHTTPServerPipeline(withErrorHandling: true, withOutboundHeaderValidation: validatesResponseHeaders)
        let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try pipeline.addHandler(Parts(clock: clock), position: .after(decoder))
    }
}
