public import QBSyncCore
import Foundation

/// Typed calls: the method's ``ControlCall`` gives its name, params and result, so a caller cannot
/// misspell a method or a field.
extension ControlClient {
    /// Calls `call` with `params`; returns its decoded result or throws ``ControlClientError``
    /// (`.rpc` for an error response, `.connection` for an answer that is not the call's result).
    public func call<C: ControlCall>(_ call: C.Type, _ params: C.Params) async throws(ControlClientError) -> C.Result {
        try await answer(call, params).result
    }

    /// Calls a method that takes no params.
    public func call<C: ControlCall>(_ call: C.Type) async throws(ControlClientError) -> C.Result where C.Params == NoParams {
        try await self.call(call, NoParams())
    }
}

extension JSONValue {
    private static let encoder = JSONEncoder()
    private static let decoder = JSONDecoder()

    /// A value's JSON as its encoder writes it (explicit `null`s kept).
    public init(encoding value: some Encodable) throws {
        self = try Self.decoder.decode(JSONValue.self, from: Self.encoder.encode(value))
    }

    /// This JSON read as `type`.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try Self.decoder.decode(T.self, from: Self.encoder.encode(self))
    }
}

/// A typed call's result together with the JSON the daemon sent, for callers that show the
/// daemon's own answer (`qbctl --json`) as well as read it.
public struct ControlAnswer<Result: Sendable>: Sendable {
    public var result: Result
    public var json: JSONValue
}

extension ControlClient {
    /// ``call(_:_:)`` that also keeps the daemon's JSON.
    public func answer<C: ControlCall>(_ call: C.Type, _ params: C.Params) async throws(ControlClientError) -> ControlAnswer<C.Result> {
        let value: JSONValue?
        if params is NoParams {
            value = nil
        } else {
            do {
                value = try JSONValue(encoding: params)
            } catch {
                throw ControlClientError(.connection, "cannot encode the params of \(C.method): \(error)")
            }
        }
        let json = try await self.call(C.method, params: value)
        do {
            return ControlAnswer(result: try json.decode(as: C.Result.self), json: json)
        } catch {
            throw ControlClientError(.connection, "the answer to \(C.method) is not its result: \(error)")
        }
    }
}
