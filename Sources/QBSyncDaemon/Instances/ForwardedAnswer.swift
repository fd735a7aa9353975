import Foundation
import QBSyncCore

/// What the holder of a company answers a forwarded call: the method's result as JSON, or the
/// protocol error the caller's client is to get (mapped on the holder, where the call ran).
struct ForwardedAnswer: Codable, Sendable, Equatable {
    var result: Data?
    var error: RPCErrorObject?
}

/// A protocol error the holder of the company answered a forwarded call with: passed on as it is.
struct RelayedRPCError: Error, Sendable {
    var rpcError: RPCErrorObject
}
