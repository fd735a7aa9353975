import NIOCore
import NIOHTTP1
import Testing
@testable import QBSyncDaemon

/// F8 and L11's decisions, without I/O.
@Suite struct WebhookAdmissionTests {
    @Test func aFullListenerMakesRoomAndOneAddressCannotFillIt() {
        let policy = WebhookAdmissionPolicy(maximum: 512, maximumPerAddress: 64)
        #expect(policy.decide(open: 10, openFromAddress: 3, isLoopback: false) == .admit)
        #expect(policy.decide(open: 512, openFromAddress: 3, isLoopback: false) == .admitClosingOldest)
        #expect(policy.decide(open: 100, openFromAddress: 64, isLoopback: false) == .refuse)
        #expect(policy.decide(open: 100, openFromAddress: 400, isLoopback: true) == .admit, "a local reverse proxy carries everyone")
        #expect(policy.decide(open: 512, openFromAddress: 512, isLoopback: true) == .admitClosingOldest)
    }

    @Test func loopbackIsThisMachineOnly() throws {
        for local in ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"] {
            #expect(WebhookPeer.isLoopback(try SocketAddress(ipAddress: local, port: 80)), "\(local)")
        }
        for remote in ["192.0.2.2", "10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "128.0.0.1"] {
            #expect(!WebhookPeer.isLoopback(try SocketAddress(ipAddress: remote, port: 80)), "\(remote)")
        }
        #expect(!WebhookPeer.isLoopback(nil))
        #expect(WebhookPeer.address(try SocketAddress(ipAddress: "192.0.2.2", port: 4242)) == "192.0.2.2")
    }

    @Test func localEndpointsRefuseForwardedRequests() throws {
        let local = try SocketAddress(ipAddress: "127.0.0.1", port: 80)
        #expect(WebhookPeer.mayReachLocalEndpoints(peer: local, headers: ["Host": "x"]))
        for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP", "Via"] {
            #expect(!WebhookPeer.mayReachLocalEndpoints(peer: local, headers: [header: "203.0.113.9"]), "\(header)")
        }
        #expect(!WebhookPeer.mayReachLocalEndpoints(peer: try SocketAddress(ipAddress: "192.0.2.2", port: 80), headers: [:]))
    }
}
