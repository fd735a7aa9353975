import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An in-process stand-in for Intuit's API: a real HTTP/1.1 server on 127.0.0.1, on a port the
/// system picks, answering each request with the next answer of its script.
final class ScriptedIntuit: Sendable {
    enum Answer: Sendable {
        case status(Int, body: String = "{}", headers: [String: String] = [:])
        /// Closes the connection without answering.
        case drop
        /// Never answers (the client's timeout ends the call).
        case stall
    }

    struct Request: Sendable {
        var method: String
        var uri: String
        var authorization: String?
    }

    private let script: Mutex<[Answer]>
    private let seen = Mutex<[Request]>([])
    private let children = Mutex<[any Channel]>([])
    private let listener = Mutex<(any Channel)?>(nil)

    private init(_ answers: [Answer]) { script = Mutex(answers) }

    /// Binds and starts answering `answers`, in order; past them every request gets 500.
    static func start(_ answers: [Answer]) async throws -> ScriptedIntuit {
        let server = ScriptedIntuit(answers)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                server.children.withLock { $0.append(child) }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(Responder(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        server.listener.withLock { $0 = channel }
        return server
    }

    var baseURL: String { "http://127.0.0.1:\(listener.withLock { $0?.localAddress?.port ?? 0 })" }

    /// The requests received, in order.
    var requests: [Request] { seen.withLock { $0 } }

    /// Closes the listener and every connection (without waiting: a test's `defer` calls it).
    func shutdown() {
        for child in children.withLock({ $0 }) { child.close(promise: nil) }
        listener.withLock { $0 }?.close(promise: nil)
    }

    fileprivate func next(_ request: Request) -> Answer {
        seen.withLock { $0.append(request) }
        return script.withLock { $0.isEmpty ? .status(500, body: "script exhausted") : $0.removeFirst() }
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: ScriptedIntuit
        var head: HTTPRequestHead?

        init(server: ScriptedIntuit) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let request = Request(method: head.method.rawValue, uri: head.uri, authorization: head.headers.first(name: "Authorization"))
                switch server.next(request) {
                case .drop: context.close(promise: nil)
                case .stall: break
                case .status(let code, let body, let extra):
                    var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.utf8.count)")])
                    for (name, value) in extra { headers.add(name: name, value: value) }
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: code), headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                }
            }
        }
    }
}
