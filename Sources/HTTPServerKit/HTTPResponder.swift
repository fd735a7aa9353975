public import NIOCore
public import NIOHTTP1

/// One whole request: its head and its body, as the connection read them (no copy of the body).
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: ByteBuffer
    /// The peer, as the connection saw it when accepted.
    public var remoteAddress: SocketAddress?

    public init(head: HTTPRequestHead, body: ByteBuffer, remoteAddress: SocketAddress?) {
        self.head = head
        self.body = body
        self.remoteAddress = remoteAddress
    }
}

/// One response. `Content-Length` is set by the server; `Connection: close` too when it closes.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    /// Close the connection after this answer, whatever the request asked.
    public var closesConnection: Bool
    /// Close the connection without answering at all (a simulated network fault).
    public var dropsConnection: Bool

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(), closesConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closesConnection = closesConnection
        dropsConnection = false
    }

    /// A plain-text answer.
    public static func text(_ status: HTTPResponseStatus, _ text: String, contentType: String = "text/plain", closesConnection: Bool = false) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: ByteBuffer(string: text), closesConnection: closesConnection)
    }

    /// No answer: the connection is closed (what a dropped connection looks like to a client).
    public static var drop: HTTPResponse {
        var response = HTTPResponse(status: .internalServerError)
        response.dropsConnection = true
        return response
    }
}

/// What answers requests. Called on the connection's event loop; the answer is written on that
/// loop as soon as the returned future completes, so a responder that completes a promise from
/// elsewhere (a commit) costs one hop back to the loop and nothing more.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, on eventLoop: any EventLoop) -> EventLoopFuture<HTTPResponse>

    /// The answer to a request whose body passed the limit; the connection closes after it.
    func bodyTooLarge(_ head: HTTPRequestHead) -> HTTPResponse
}

extension HTTPResponder {
    public func bodyTooLarge(_ head: HTTPRequestHead) -> HTTPResponse {
        .text(.payloadTooLarge, "request body too large\n", closesConnection: true)
    }
}

/// A responder written as an async function (one task per request: for servers where that cost
/// does not matter, such as the simulator).
public struct AsyncHTTPResponder: HTTPResponder {
    let handler: @Sendable (HTTPRequest) async -> HTTPResponse

    public init(_ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
        self.handler = handler
    }

    public func respond(to request: HTTPRequest, on eventLoop: any EventLoop) -> EventLoopFuture<HTTPResponse> {
        let promise = eventLoop.makePromise(of: HTTPResponse.self)
        promise.completeWithTask { await handler(request) }
        return promise.futureResult
    }
}
