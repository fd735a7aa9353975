/// A JSON-RPC request id: a number or a string (or null), echoed back exactly.
public enum RPCID: Sendable, Hashable, Codable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)
    case null

    public init(from decoder: any Decoder) throws {
        switch try JSONValue(from: decoder) {
        case .null: self = .null
        case .int(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        case .bool, .array, .object:
            throw DecodingError.typeMismatch(
                RPCID.self, .init(codingPath: decoder.codingPath, debugDescription: "id must be a number, a string or null")
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    public var description: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value): return String(value)
        case .string(let value): return value
        case .null: return "null"
        }
    }
}
