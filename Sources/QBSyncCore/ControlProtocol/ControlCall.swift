/// One control-protocol method as both ends see it: its name, its params and its result.
///
/// The daemon's handlers decode `Params` and encode `Result`; `QBControlClient` encodes `Params`
/// and decodes `Result`. The wire format is spec/control-protocol.md: fields are added, never
/// renamed or dropped, and a result member that the spec lists is sent as `null` when unknown.
public protocol ControlCall: Sendable {
    associatedtype Params: Codable & Sendable
    associatedtype Result: Codable & Sendable
    /// The JSON-RPC `method`.
    static var method: String { get }
}

/// One server-to-client notification's params (sent after `subscribe`).
public protocol ControlNotification: Codable, Sendable {
    /// The JSON-RPC `method` of the notification, which is also its `subscribe` topic.
    static var method: String { get }
}

/// A result that is only `{"<key>": [...], "nextCursor": ...}`, for clients that page.
public protocol PagedResult: Sendable {
    associatedtype Row: Sendable
    var rows: [Row] { get }
    var nextCursor: String? { get }
}

/// Params that page with `limit` and `cursor`.
public protocol PagedParams: Sendable {
    var limit: Int? { get set }
    var cursor: String? { get set }
}
