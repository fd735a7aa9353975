import NIOCore
import NIOHTTP1

/// Gathers one request at a time (NIO's pipeline handler holds back the next until this one is
/// answered), hands it whole to the responder, and writes the answer on the event loop the moment
/// the responder's future completes: head, body and end in one flush.
final class HTTPRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer?)
        /// Answered early (413); the rest of the request is ignored until the connection closes.
        case discarding
        case responding
    }

    private let responder: any HTTPResponder
    private let maximumBodySize: Int
    private var state = State.idle
    private var remoteAddress: SocketAddress?

    init(responder: any HTTPResponder, maximumBodySize: Int) {
        self.responder = responder
        self.maximumBodySize = maximumBodySize
    }

    func handlerAdded(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (Self.unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maximumBodySize {
                refuseTooLarge(head, context: context)
            } else {
                state = .receiving(head, nil)
            }
        case (.body(var chunk), .receiving(let head, var body)):
            if (body?.readableBytes ?? 0) + chunk.readableBytes > maximumBodySize {
                refuseTooLarge(head, context: context)
                return
            }
            state = .responding  // drop the reference while appending, so the buffer is not copied
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .responding
            let request = HTTPRequest(head: head, body: body ?? context.channel.allocator.buffer(capacity: 0), remoteAddress: remoteAddress)
            responder.respond(to: request, on: context.eventLoop).hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let response): self.write(response, for: head, context: context)
                case .failure: self.write(.text(.internalServerError, "internal error\n", closesConnection: true), for: head, context: context)
                }
            }
        case (_, .discarding):
            break
        default:
            // A part out of order: NIO's decoder does not produce one; treat it as a broken connection.
            context.close(promise: nil)
        }
    }

    private func refuseTooLarge(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        var response = responder.bodyTooLarge(head)
        response.closesConnection = true
        write(response, for: head, context: context)
    }

    private func write(_ response: HTTPResponse, for request: HTTPRequestHead, context: ChannelHandlerContext) {
        if case .responding = state { state = .idle }
        guard context.channel.isActive else { return }
        if response.dropsConnection {
            context.close(promise: nil)
            return
        }
        let keepAlive = request.isKeepAlive && !response.closesConnection
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if request.version.minor == 0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Closes a connection that sent nothing for the idle timeout (a slow or idle client).
final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
