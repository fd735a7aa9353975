import NIOCore
import QBSyncCore

/// Serves a connection that was not admitted: one JSON-RPC error line (`id: null`), then close.
final class ControlRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let error: RPCErrorObject
    private var sent = false

    init(error: RPCErrorObject) { self.error = error }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    /// Whatever the peer sends is not served.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        var line = ByteBuffer()
        RPCWire.failure(id: nil, error: error, into: &line)
        context.writeAndFlush(Self.wrapOutboundOut(line)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
