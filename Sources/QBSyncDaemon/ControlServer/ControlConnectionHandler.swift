import NIOCore
import QBSyncCore

/// Serves one control connection on its event loop.
///
/// Lines whose answer is known at once (malformed lines, refusals, synchronous methods such as
/// `daemon.status`) are answered right there; the rest run as tasks. Answers leave in request
/// order: each request takes a slot, and the ready prefix of the slots is written, with one flush
/// per batch of lines read together. After the input is closed (EOF, or the server draining) the
/// connection closes once every slot is written; after an oversize line, once the refusal is.
final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ControlFrame
    typealias OutboundOut = ByteBuffer

    private let dispatcher: RPCDispatcher
    private let peer: PeerCredentials
    private let connection: ConnectionContext

    /// Answers not yet written, in request order; nil while a task still works on one.
    private var slots = CircularBuffer<ByteBuffer?>()
    /// The request number of `slots.first`.
    private var firstSlot = 0
    private var inputClosed = false
    private var closeWhenWritten = false

    init(dispatcher: RPCDispatcher, peer: PeerCredentials, connection: ConnectionContext) {
        self.dispatcher = dispatcher
        self.peer = peer
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closeWhenWritten else { return }
        switch Self.unwrapInboundIn(data) {
        case .lines(let lines):
            var direct = ByteBuffer()
            for line in lines {
                switch dispatcher.prepare(line: line, peer: peer, connection: connection) {
                case .immediate(nil):
                    continue
                case .immediate(var response?):
                    if slots.isEmpty { direct.writeBuffer(&response) } else { slots.append(response) }
                case .deferred(let work):
                    start(work, slot: firstSlot + slots.count, context: context)
                    slots.append(nil)
                }
            }
            if direct.readableBytes > 0 { context.write(Self.wrapOutboundOut(direct), promise: nil) }
            writeReadySlots(context: context)
        case .oversize:
            var refusal = ByteBuffer()
            let error = QBSyncError.invalidRequest(detail: "the line is longer than 1 MiB; closing the connection")
            RPCWire.failure(id: nil, error: error.rpcError, into: &refusal)
            slots.append(refusal)
            closeWhenWritten = true
            connection.logger.notice("control line over 1 MiB; connection closed")
            writeReadySlots(context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            closeIfDone(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.logger.debug("control connection error", metadata: [LogKey.error: "\(error)"])
        context.close(promise: nil)
    }

    /// Runs a handler that awaits; its answer comes back to this event loop and fills its slot.
    private func start(_ work: @escaping @Sendable () async -> ByteBuffer?, slot: Int, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        Task {
            let response = await work()
            bound.eventLoop.execute {
                let (handler, context) = bound.value
                handler.complete(slot: slot, response: response, context: context)
            }
        }
    }

    private func complete(slot: Int, response: ByteBuffer?, context: ChannelHandlerContext) {
        // A client notification that had to await has no answer: an empty buffer keeps its place.
        slots[slots.index(slots.startIndex, offsetBy: slot - firstSlot)] = response ?? ByteBuffer()
        writeReadySlots(context: context)
    }

    private func writeReadySlots(context: ChannelHandlerContext) {
        var output = ByteBuffer()
        while let first = slots.first, var ready = first {
            output.writeBuffer(&ready)
            slots.removeFirst()
            firstSlot += 1
        }
        if output.readableBytes > 0 { context.write(Self.wrapOutboundOut(output), promise: nil) }
        context.flush()
        closeIfDone(context: context)
    }

    private var closing = false

    /// Closes once every answer is written; the empty write's promise completes after all before it.
    private func closeIfDone(context: ChannelHandlerContext) {
        guard slots.isEmpty, inputClosed || closeWhenWritten, !closing else { return }
        closing = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer()), promise: promise)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
    }
}
