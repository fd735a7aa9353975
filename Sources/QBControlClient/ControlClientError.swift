public import QBSyncCore

/// Why a control call failed: the daemon could not be reached, it answered with an error, or the
/// connection broke.
public struct ControlClientError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No daemon at the socket path, or no permission to connect.
        case unreachable
        /// The daemon answered with a JSON-RPC error.
        case rpc(RPCErrorObject)
        /// The connection closed or sent something that is not a response.
        case connection
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var rpcError: RPCErrorObject? {
        if case .rpc(let error) = kind { return error }
        return nil
    }

    public var description: String { message }
}
