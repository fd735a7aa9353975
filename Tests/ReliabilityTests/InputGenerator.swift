import Foundation
import QBOSimulator
import QBSyncCore

/// Seeded generators of hostile input: random bytes, mutations of valid requests, deep nesting,
/// broken UTF-8, odd numbers. Never a `\n` inside a control line (the framing is tested apart).
struct InputGenerator {
    var random: SplitMix64

    static let methods = [
        "daemon.status", "org.list", "org.show", "oauth.begin", "oauth.complete", "org.test", "org.disconnect", "token.refresh",
        "customer.sync", "invoice.sync", "invoice.refresh", "entity.list", "sync.summary", "event.list", "event.retry", "subscribe",
        "", "rpc.discover", "daemon.status ", "DAEMON.STATUS", "org.list\u{0}", "💥",
    ]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ p: Double) -> Bool { Double(random.next() >> 11) / Double(1 << 53) < p }

    mutating func string() -> String {
        switch int(0...7) {
        case 0: return ""
        case 1: return "acme"
        case 2: return String(repeating: "x", count: int(0...5000))
        case 3: return "dev-\(int(0...9))"
        case 4: return "\u{202E}\u{0}\\\"/\t"
        case 5: return String(decoding: (0..<int(1...40)).map { _ in UInt8(int(32...126)) }, as: UTF8.self)
        case 6: return "2026-02-30"
        default: return "-1"
        }
    }

    /// Any JSON value, nested up to `depth`.
    mutating func json(depth: Int = 3) -> String {
        switch int(0...(depth > 0 ? 9 : 6)) {
        case 0: return "null"
        case 1: return chance(0.5) ? "true" : "false"
        case 2: return String(int(Int.min...Int.max))
        case 3: return ["1e999", "-0", "0.1", "1.005", "123456789012345678901234567890", "1E-400", "12.345"][int(0...6)]
        case 4, 5, 6: return "\"" + string().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\t", with: "\\t").replacingOccurrences(of: "\u{0}", with: "\\u0000") + "\""
        case 7: return "[" + (0..<int(0...4)).map { _ in json(depth: depth - 1) }.joined(separator: ",") + "]"
        default:
            let keys = ["org", "development", "demand", "id", "name", "lines", "amount", "dueDate", "developmentId", "limit", "cursor", "kind", "status", "topics", "state", "code", "realmId", "demandId"]
            return "{" + (0..<int(0...5)).map { _ in "\"\(keys[int(0...keys.count - 1)])\":\(json(depth: depth - 1))" }.joined(separator: ",") + "}"
        }
    }

    /// A request that is well formed as JSON-RPC, with anything in its params and id.
    mutating func request(id: String) -> String {
        let method = Self.methods[int(0...Self.methods.count - 1)]
        var members = [#""jsonrpc":"2.0""#, #""id":\#(id)"#, #""method":"\#(method)""#]
        if chance(0.8) { members.append(#""params":\#(json(depth: 4))"#) }
        if chance(0.1) { members.append(#""extra":\#(json(depth: 1))"#) }
        return "{" + members.shuffled(using: &random).joined(separator: ",") + "}"
    }

    /// One control line (without its `\n`) and whether it is certain to get an answer.
    mutating func controlLine(id: String) -> [UInt8] {
        var bytes: [UInt8]
        switch int(0...11) {
        case 0: bytes = (0..<int(0...300)).map { _ in UInt8(int(0...255)) }
        case 1: bytes = Array(request(id: id).utf8.prefix(int(0...60)))
        case 2: bytes = Array(String(repeating: "[", count: int(100...200_000)).utf8)
        case 3: bytes = Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"org.show","params":{"org":"\#u{FF}"}}"#.utf8) + [0xFF, 0xFE, 0xC0, 0x80]
        case 4: bytes = Array(#"{"jsonrpc":"1.0","id":\#(id),"method":"daemon.status"}"#.utf8)
        case 5: bytes = Array(#"{"jsonrpc":"2.0","id":\#(json(depth: 2)),"method":"daemon.status"}"#.utf8)
        case 6: bytes = Array(#"{"jsonrpc":"2.0","id":\#(id),"id":\#(id),"method":"daemon.status","method":"org.list"}"#.utf8)
        case 7: bytes = Array("   \t \r".utf8)
        default:
            bytes = Array(request(id: id).utf8)
            if chance(0.3), !bytes.isEmpty {
                for _ in 0..<int(1...4) { bytes[int(0...bytes.count - 1)] = UInt8(int(0...255)) }
            }
        }
        return bytes.map { $0 == 0x0A ? 0x20 : $0 }
    }

    /// One HTTP request to the webhook listener: well formed or not, signed or not.
    mutating func httpRequest(sign: (String) -> String) -> [UInt8] {
        let body = chance(0.5) ? json(depth: 4) : String(decoding: (0..<int(0...500)).map { _ in UInt8(int(0...255)) }, as: UTF8.self)
        let path = ["/api/webhooks/quickbooks", "/healthz", "/metrics", "/", "/api/webhooks/quickbooks/../x", "/%00", String(repeating: "/a", count: int(1...3000))][int(0...6)]
        let method = ["POST", "GET", "PUT", "DELETE", "BREW", "POST", "POST"][int(0...6)]
        var headers = ["Host: 127.0.0.1", "Connection: close"]
        switch int(0...5) {
        case 0: headers.append("intuit-signature: \(sign(body))")
        case 1: headers.append("intuit-signature: \(String(repeating: "A", count: int(0...100)))=")
        case 2: headers.append("X-Huge: \(String(repeating: "h", count: int(1_000...200_000)))")
        case 3: headers += (0..<int(100...3000)).map { "X-Many-\($0): v" }
        default: break
        }
        switch int(0...4) {
        case 0: headers.append("Content-Length: \(body.utf8.count)")
        case 1: headers.append("Content-Length: \(int(-5...1_000_000_000))")
        case 2: headers.append("Transfer-Encoding: chunked")
        case 3: headers.append("Content-Length: \(body.utf8.count)"); headers.append("Content-Length: 1")
        default: headers.append("Content-Length: \(body.utf8.count)")
        }
        var request = Array("\(method) \(path) HTTP/1.1\r\n\(headers.joined(separator: "\r\n"))\r\n\r\n\(body)".utf8)
        if chance(0.15) { request = Array(request.prefix(int(0...request.count))) }
        if chance(0.1) { request = (0..<int(1...2000)).map { _ in UInt8(int(0...255)) } }
        return request
    }
}
