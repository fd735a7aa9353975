public import Foundation

/// Decodes a method's `params` from the request line, turning every decoding failure into
/// `invalid_params` whose `field` is the dotted path of the first bad field (`demand.lines[0].amount`).
public enum RPCParamsDecoder {
    private static let decoder = JSONDecoder()

    public static func decode<Params: Decodable>(_ type: Params.Type, from line: Data, hasParams: Bool) throws(QBSyncError) -> Params {
        // A method without params accepts any: nothing to decode.
        if let none = NoParams() as? Params { return none }
        do {
            if hasParams {
                return try decoder.decode(ParamsBox<Params>.self, from: line).params
            }
            return try decoder.decode(Params.self, from: Data("{}".utf8))
        } catch let error as DecodingError {
            throw Self.invalidParams(error)
        } catch let error as QBSyncError {
            throw error
        } catch {
            throw .invalidParams(field: "params", detail: "could not be read")
        }
    }

    static func invalidParams(_ error: DecodingError) -> QBSyncError {
        switch error {
        case .keyNotFound(let key, let context):
            return .invalidParams(field: path(context.codingPath + [key]), detail: "is required")
        case .valueNotFound(_, let context):
            return .invalidParams(field: path(context.codingPath), detail: "must not be null")
        case .typeMismatch(let type, let context):
            return .invalidParams(field: path(context.codingPath), detail: "must be \(describe(type))")
        case .dataCorrupted(let context):
            return .invalidParams(field: path(context.codingPath), detail: context.debugDescription)
        @unknown default:
            return .invalidParams(field: "params", detail: "could not be read")
        }
    }

    /// `params.demand.lines.Index 0.amount` → `demand.lines[0].amount`; the bare params object is `params`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var keys = codingPath
        if keys.first?.stringValue == "params" { keys.removeFirst() }
        var result = ""
        for key in keys {
            if let index = key.intValue {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return result.isEmpty ? "params" : result
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is OrgID.Type: return "a string"
        case is Int.Type, is Int64.Type, is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "an object"
        }
    }
}

private struct ParamsBox<Params: Decodable>: Decodable {
    enum Keys: String, CodingKey { case params }
    let params: Params

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        params = try container.decode(Params.self, forKey: .params)
    }
}

/// The params of a method that takes none; any object is accepted, and a client sends none.
public struct NoParams: Codable, Sendable, Equatable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws { _ = encoder.container(keyedBy: ParamsBox<NoParams>.Keys.self) }
}
