import Foundation
public import HTTPServerKit
public import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle

/// The simulator on the project's one HTTP server (HTTPServerKit): whole ``SimRequest``s in, a
/// ``SimOutcome`` out. A slow answer is the handler's to make; a dropped connection is
/// ``SimOutcome/dropConnection``.
public final class SimHTTPServer: Service, Sendable {
    public typealias Handler = @Sendable (SimRequest) async -> SimOutcome
    /// Requests over this size are answered 413.
    static let maximumBodySize = 10 << 20

    private let server: HTTPServer

    /// The bound port (useful with port 0).
    public var port: Int { server.port }

    private init(server: HTTPServer) { self.server = server }

    public static func bind(host: String, port: Int, logger: Logger, handler: @escaping Handler) async throws -> SimHTTPServer {
        let configuration = HTTPServerConfiguration(target: .address(host: host, port: port), maximumBodySize: maximumBodySize, idleTimeout: nil)
        let responder = AsyncHTTPResponder { request in
            let outcome = await handler(
                SimRequest(method: request.head.method, uri: request.head.uri, headers: request.head.headers, body: Data(request.body.readableBytesView))
            )
            switch outcome {
            case .dropConnection:
                return .drop
            case .respond(let response):
                return HTTPResponse(status: response.status, headers: HTTPHeaders(response.headers), body: ByteBuffer(bytes: response.body))
            }
        }
        return SimHTTPServer(server: try await HTTPServer.bind(configuration, responder: responder, logger: logger))
    }

    public func run() async throws {
        try await server.run()
    }
}
