import NIOCore
import NIOHTTP1

/// Which webhook connections are served (F8).
///
/// - At most `maximum` at once. When full, a new connection is still served and the *oldest* one
///   is closed to make room: slow clients that filled the listener cannot lock Intuit out, since a
///   delivery takes milliseconds and the request deadline bounds everyone else's stay.
/// - At most `maximumPerAddress` from one non-loopback source address; a new one over it is
///   closed. Loopback peers are exempt: behind a reverse proxy on this machine every peer is the
///   proxy, and capping it would cap everyone. That proxy must enforce its own per-client limits
///   and timeouts (README, "Webhooks behind a reverse proxy").
struct WebhookAdmissionPolicy: Sendable, Equatable {
    var maximum: Int
    var maximumPerAddress: Int

    static let standard = WebhookAdmissionPolicy(maximum: 512, maximumPerAddress: 64)

    enum Decision: Sendable, Equatable {
        case admit
        /// Admit it and close the oldest open connection.
        case admitClosingOldest
        case refuse
    }

    func decide(open: Int, openFromAddress: Int, isLoopback: Bool) -> Decision {
        if !isLoopback, openFromAddress >= maximumPerAddress { return .refuse }
        return open >= maximum ? .admitClosingOldest : .admit
    }
}

/// Where a webhook connection comes from, as far as admission and the local endpoints care.
enum WebhookPeer {
    /// The source address without its port; nil for a Unix socket peer.
    static func address(_ peer: SocketAddress?) -> String? {
        guard let peer, case .some = peer.port else { return nil }
        return peer.ipAddress
    }

    /// 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104, or a Unix socket (a peer on this machine).
    static func isLoopback(_ peer: SocketAddress?) -> Bool {
        switch peer {
        case .v4(let address):
            return UInt32(bigEndian: address.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let address):
            let bytes = withUnsafeBytes(of: address.address.sin6_addr) { Array($0) }
            if bytes == Array(repeating: 0, count: 15) + [1] { return true }
            return bytes.prefix(12) == ArraySlice(Array(repeating: 0, count: 10) + [0xFF, 0xFF]) && bytes[12] == 127
        case .unixDomainSocket:
            return true
        case nil:
            return false
        }
    }

    /// Forwarding headers that a reverse proxy adds (Forwarded, X-Forwarded-For, X-Real-IP, Via).
    static let forwardingHeaders = ["forwarded", "x-forwarded-for", "x-real-ip", "via"]

    /// `/healthz` and `/metrics` are for this machine only (L11): a loopback peer whose request was
    /// not forwarded by a proxy. Anyone else gets 404, as if they did not exist.
    static func mayReachLocalEndpoints(peer: SocketAddress?, headers: HTTPHeaders) -> Bool {
        isLoopback(peer) && !forwardingHeaders.contains { headers.contains(name: $0) }
    }
}
