public import NIOCore
public import NIOPosix

/// How an ``HTTPServer`` listens and what it tolerates.
public struct HTTPServerConfiguration: Sendable {
    /// Where the server listens: an address it binds, or a listening socket it adopts.
    public struct Target: Sendable, CustomStringConvertible {
        enum Kind: Sendable {
            case address(host: String, port: Int)
            case descriptor(Int32)
        }

        let kind: Kind

        /// Binds `host:port` (port 0 picks a free one).
        public static func address(host: String, port: Int) -> Target { Target(kind: .address(host: host, port: port)) }

        /// Adopts an already bound and listening socket (systemd's `LISTEN_FDS`).
        public static func descriptor(_ fd: Int32) -> Target { Target(kind: .descriptor(fd)) }

        public var description: String {
            switch kind {
            case .address(let host, let port): "\(host):\(port)"
            case .descriptor(let fd): "fd \(fd)"
            }
        }
    }

    public var target: Target
    /// A request body over this many bytes is answered by ``HTTPResponder/bodyTooLarge(_:)`` and the connection closed.
    public var maximumBodySize: Int
    /// A connection that sends nothing for this long is closed (nil: never).
    public var idleTimeout: TimeAmount?
    /// From a request's first byte to the end of its body; past it, 408 and close (nil: none).
    public var requestTimeout: TimeAmount?
    /// Check each response's headers for characters that would split a response (NIO's
    /// validator). A responder whose headers are constants may turn it off.
    public var validatesResponseHeaders: Bool
    /// The listen backlog (ignored for an adopted socket).
    public var backlog: Int32
    /// Sees each accepted connection before it is served; false closes it at once.
    public var admit: (@Sendable (any Channel) -> Bool)?
    public var eventLoopGroup: any EventLoopGroup

    public init(
        target: Target, maximumBodySize: Int = 1 << 20, idleTimeout: TimeAmount? = .seconds(60), requestTimeout: TimeAmount? = nil,
        validatesResponseHeaders: Bool = true, backlog: Int32 = 256,
        admit: (@Sendable (any Channel) -> Bool)? = nil, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.target = target
        self.maximumBodySize = maximumBodySize
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.validatesResponseHeaders = validatesResponseHeaders
        self.backlog = backlog
        self.admit = admit
        self.eventLoopGroup = eventLoopGroup
    }
}
