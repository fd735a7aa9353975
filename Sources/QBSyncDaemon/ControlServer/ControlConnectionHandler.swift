import NIOCore
import QBSyncCore

/// Serves one control connection on its event loop.
///
/// Lines whose answer is known at once (malformed lines, refusals, synchronous methods such as
/// `daemon.status`) are answered right there; the rest run as tasks. Answers leave in request
/// order (``ResponseSlots``): the ready prefix is written and flushed.
///
/// Backpressure (F3, ``ControlBackpressure``): at most 64 requests are in flight, from dispatch to
/// the moment their answer is written; further lines wait undispatched, and the pipeline's `read`
/// is held back while any line waits or the channel is not writable, so a peer that does not read
/// its answers stops being read. A connection with nothing in flight and no subscription is closed
/// after the idle timeout. After the input is closed (EOF, or the server draining) the connection
/// closes once every slot is written; after an oversize line, once the refusal is.
final class ControlConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ControlFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Waiting {
        case line(ByteBuffer)
        case oversize
    }

    private let dispatcher: RPCDispatcher
    private let peer: PeerCredentials
    private let connection: ConnectionContext
    private let idleTimeout: TimeAmount

    private var flow = ControlBackpressure()
    /// Lines read but not yet dispatched.
    private var waiting = CircularBuffer<Waiting>()
    /// Answers not yet written, in request order.
    private var answers = ResponseSlots()
    /// The pipeline asked to read while reading was paused.
    private var readHeld = false
    private var pumping = false
    private var pumpAgain = false
    private var idleTimer: Scheduled<Void>?
    private var inputClosed = false
    private var closeWhenWritten = false
    private var closing = false
    /// The daemon stops: what was read is answered, newer input is read and dropped.
    private var draining = false

    /// Sent by the server when the daemon stops. Closing the input instead would leave the peer's
    /// unread requests in the socket, and a close with unread bytes resets the connection, which
    /// can destroy answers the peer has not read yet. So the connection answers what it read,
    /// half-closes its output (the peer sees every answer, then the end), and keeps reading and
    /// dropping input until the peer closes, for at most ``lingerTimeout``.
    struct Drain {}
    static let lingerTimeout: TimeAmount = .seconds(2)

    init(dispatcher: RPCDispatcher, peer: PeerCredentials, connection: ConnectionContext, idleTimeout: TimeAmount) {
        self.dispatcher = dispatcher
        self.peer = peer
        self.connection = connection
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armIdleTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closeWhenWritten, !draining else { return }
        idleTimer?.cancel()
        idleTimer = nil
        switch Self.unwrapInboundIn(data) {
        case .lines(let lines):
            waiting.append(contentsOf: lines.lazy.map { .line($0) })
        case .oversize:
            waiting.append(.oversize)
        }
        pump(context: context)
    }

    /// Reads only while the connection can take more; otherwise the read waits for ``pump(context:)``.
    /// After an oversize line the rest is read and discarded: closing with unread bytes would reset
    /// the connection before the peer saw the refusal.
    func read(context: ChannelHandlerContext) {
        if flow.mayRead || closeWhenWritten || draining {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            if closing, draining {
                context.close(promise: nil)
            } else {
                pump(context: context)
            }
        } else if event is Drain {
            draining = true
            pump(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.logger.debug("control connection error", metadata: [LogKey.error: "\(error)"])
        context.close(promise: nil)
    }

    /// Dispatches what may be, writes what is ready, then resumes reading, closes or arms the idle
    /// timer. Not reentrant: a write that completes at once asks for one more round instead.
    private func pump(context: ChannelHandlerContext) {
        guard !pumping else {
            pumpAgain = true
            return
        }
        pumping = true
        repeat {
            pumpAgain = false
            dispatchWaiting(context: context)
            writeReadySlots(context: context)
        } while pumpAgain
        pumping = false
        if readHeld, flow.mayRead || closeWhenWritten || draining, context.channel.isActive {
            readHeld = false
            context.read()
        }
        closeIfDone(context: context)
        armIdleTimer(context: context)
    }

    private func dispatchWaiting(context: ChannelHandlerContext) {
        flow.writable = context.channel.isWritable
        while flow.mayDispatch, !closeWhenWritten, let next = waiting.popFirst() {
            flow.unwritten += 1
            switch next {
            case .line(let line):
                switch dispatcher.prepare(line: line, peer: peer, connection: connection) {
                case .immediate(let response):
                    // A client notification has no answer: an empty buffer keeps its place.
                    answers.append(ready: response ?? ByteBuffer())
                case .deferred(let work):
                    start(work, slot: answers.reserve(), context: context)
                }
            case .oversize:
                var refusal = ByteBuffer()
                let error = QBSyncError.invalidRequest(detail: "the line is longer than 1 MiB; closing the connection")
                RPCWire.failure(id: nil, error: error.rpcError, into: &refusal)
                answers.append(ready: refusal)
                closeWhenWritten = true
                waiting.removeAll()
                connection.logger.notice("control line over 1 MiB; connection closed")
            }
        }
        flow.waiting = waiting.count
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
        answers.fill(slot, with: response ?? ByteBuffer())
        pump(context: context)
    }

    /// Writes the ready prefix of the answers; they stop counting as unwritten once the write completes.
    private func writeReadySlots(context: ChannelHandlerContext) {
        guard let (output, count) = answers.takeReady() else { return }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(output), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in
            self.flow.unwritten -= count
            self.pump(context: context)
        }
    }

    /// Closes once every answer is written; the empty write's promise completes after all before it.
    private func closeIfDone(context: ChannelHandlerContext) {
        guard answers.isEmpty, waiting.isEmpty, inputClosed || closeWhenWritten || draining, !closing else { return }
        closing = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer()), promise: promise)
        let linger = draining && !inputClosed
        promise.futureResult.assumeIsolated().whenComplete { _ in
            guard linger, context.channel.isActive else { return context.close(promise: nil) }
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTimeout) { context.close(promise: nil) }
        }
    }

    /// Starts the idle clock when nothing is in flight; a subscriber is never idle.
    private func armIdleTimer(context: ChannelHandlerContext) {
        guard idleTimer == nil, flow.isIdle, !closing, context.channel.isActive else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) {
            self.idleTimer = nil
            guard self.flow.isIdle, !self.closing else { return }
            if self.connection.notifications.isSubscribed {
                return
            }
            self.connection.logger.debug("idle control connection closed")
            self.closing = true
            context.close(promise: nil)
        }
    }
}
