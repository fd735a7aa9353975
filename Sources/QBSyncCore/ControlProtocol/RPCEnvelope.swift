public import Foundation

/// The parts of a JSON-RPC request line that the dispatcher needs before it knows the method.
///
/// `params` stay in the line: the method's own `Params` type decodes them (see ``RPCParamsDecoder``),
/// so each line is parsed for the envelope and, where params exist, once more for them.
public struct RPCEnvelope: Sendable, Equatable {
    /// nil for a client notification (no `id` member): it runs and gets no response.
    public var id: RPCID?
    public var method: String
    /// Whether the request carries a `params` member (an object or an array).
    public var hasParams: Bool

    /// Parses one line. A failure carries the id where it could be read, so the error echoes it.
    public static func parse(_ line: Data) -> Result<RPCEnvelope, RPCEnvelopeFailure> {
        let raw: RawEnvelope
        do {
            raw = try decoder.decode(RawEnvelope.self, from: line)
        } catch let error as DecodingError {
            switch error {
            case .typeMismatch(_, let context) where context.codingPath.isEmpty:
                return .failure(.init(id: nil, error: .invalidRequest(detail: "a request is one JSON object per line")))
            case .dataCorrupted(let context) where context.codingPath.isEmpty:
                return .failure(.init(id: nil, error: .parseError(detail: Self.describe(context))))
            default:
                return .failure(.init(id: nil, error: .invalidRequest(detail: "not a JSON-RPC 2.0 request object")))
            }
        } catch {
            return .failure(.init(id: nil, error: .parseError(detail: "unreadable input")))
        }
        return raw.validated()
    }

    /// Shared: decoding is thread-safe, and one decoder per line was measurable on the hot path.
    private static let decoder = JSONDecoder()

    private static func describe(_ context: DecodingError.Context) -> String {
        if let underlying = context.underlyingError {
            return String(describing: underlying).prefix(200).description
        }
        return context.debugDescription
    }
}

/// A line that is not a usable request, with whatever id could be read from it.
public struct RPCEnvelopeFailure: Error, Sendable, Equatable {
    public var id: RPCID?
    public var error: QBSyncError
}

/// Decodes the envelope leniently, so that each defect becomes the right protocol error.
private struct RawEnvelope: Decodable {
    enum Keys: String, CodingKey { case jsonrpc, id, method, params }
    enum ParamsKind { case absent, structured, invalid }

    var jsonrpc: String?
    var idPresent = false
    var id: RPCID?
    var idInvalid = false
    var method: String?
    var methodInvalid = false
    var params = ParamsKind.absent

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        jsonrpc = try? container.decodeIfPresent(String.self, forKey: .jsonrpc)  // try?: a bad version is invalid_request below
        if container.contains(.id) {
            idPresent = true
            if let value = try? container.decode(RPCID.self, forKey: .id) { id = value } else { idInvalid = true }  // try?: recorded as idInvalid
        }
        if container.contains(.method) {
            if let value = try? container.decode(String.self, forKey: .method) { method = value } else { methodInvalid = true }  // try?: recorded as methodInvalid
        }
        if container.contains(.params) {
            if (try? container.nestedContainer(keyedBy: Keys.self, forKey: .params)) != nil {  // try?: a shape probe
                params = .structured
            } else if (try? container.nestedUnkeyedContainer(forKey: .params)) != nil {  // try?: a shape probe
                params = .structured
            } else {
                params = .invalid
            }
        }
    }

    func validated() -> Result<RPCEnvelope, RPCEnvelopeFailure> {
        let echo = idInvalid ? nil : id
        func fail(_ detail: String) -> Result<RPCEnvelope, RPCEnvelopeFailure> {
            .failure(.init(id: echo ?? (idPresent ? .null : nil), error: .invalidRequest(detail: detail)))
        }
        guard jsonrpc == "2.0" else { return fail("\"jsonrpc\" must be \"2.0\"") }
        guard !idInvalid else { return .failure(.init(id: .null, error: .invalidRequest(detail: "\"id\" must be a number, a string or null"))) }
        guard let method, !methodInvalid else { return fail("\"method\" must be a string") }
        guard params != .invalid else { return fail("\"params\" must be an object or an array") }
        return .success(RPCEnvelope(id: idPresent ? (id ?? .null) : nil, method: method, hasParams: params == .structured))
    }
}
