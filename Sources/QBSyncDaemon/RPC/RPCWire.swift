import Foundation
import NIOCore
import QBSyncCore

/// Writes JSON-RPC responses and notifications as single `\n`-terminated lines.
enum RPCWire {
    /// Shared: JSONEncoder is thread-safe for concurrent `encode` calls.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// A result's JSON: its own writer where it has one, `JSONEncoder` otherwise.
    static func encode(_ result: some Encodable) throws -> Data {
        if let fast = result as? any FastJSONEncodable {
            var output = JSONOutput()
            fast.write(to: &output)
            return Data(output.bytes)
        }
        return try encoder.encode(result)
    }

    static func success(id: RPCID, result: Data, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"jsonrpc":"2.0","id":"#)
        writeID(id, into: &buffer)
        buffer.writeStaticString(#","result":"#)
        buffer.writeBytes(result)
        buffer.writeStaticString("}\n")
    }

    static func failure(id: RPCID?, error: RPCErrorObject, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"jsonrpc":"2.0","id":"#)
        writeID(id ?? .null, into: &buffer)
        buffer.writeStaticString(#","error":"#)
        buffer.writeBytes((try? encoder.encode(error)) ?? Data(#"{"code":-32603,"message":"internal error"}"#.utf8))  // try?: an error that cannot encode still answers
        buffer.writeStaticString("}\n")
    }

    /// A server-to-client notification line.
    static func notification(method: String, params: some Encodable) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeStaticString(#"{"jsonrpc":"2.0","method":"#)
        buffer.writeBytes(try encoder.encode(method))
        buffer.writeStaticString(#","params":"#)
        buffer.writeBytes(try encoder.encode(params))
        buffer.writeStaticString("}\n")
        return buffer
    }

    private static func writeID(_ id: RPCID, into buffer: inout ByteBuffer) {
        switch id {
        case .int(let value): buffer.writeString(String(value))
        case .null: buffer.writeStaticString("null")
        case .double, .string: buffer.writeBytes((try? encoder.encode(id)) ?? Data("null".utf8))  // try?: a non-finite id answers null
        }
    }
}
