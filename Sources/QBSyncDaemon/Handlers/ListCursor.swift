import Foundation
import QBSyncCore

/// Opaque list cursors: base64 of `<prefix>:<row id>`, so clients cannot build or edit one.
enum ListCursor {
    static func make(prefix: String, id: Int64) -> String { Data("\(prefix):\(id)".utf8).base64EncodedString() }

    static func parse(_ cursor: String, prefix: String) throws(QBSyncError) -> Int64 {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8), text.hasPrefix(prefix + ":"),
            let id = Int64(text.dropFirst(prefix.count + 1))
        else { throw .invalidParams(field: "cursor", detail: "is not a cursor this daemon gave") }
        return id
    }

    /// A cursor over a text key (org names).
    static func make(prefix: String, text: String) -> String { Data("\(prefix):\(text)".utf8).base64EncodedString() }

    static func parseText(_ cursor: String, prefix: String) throws(QBSyncError) -> String {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8), text.hasPrefix(prefix + ":") else {
            throw .invalidParams(field: "cursor", detail: "is not a cursor this daemon gave")
        }
        return String(text.dropFirst(prefix.count + 1))
    }

    /// 1…500, default 100.
    static func limit(_ requested: Int?) throws(QBSyncError) -> Int {
        let limit = requested ?? 100
        guard (1...500).contains(limit) else { throw .invalidParams(field: "limit", detail: "must be from 1 to 500") }
        return limit
    }
}
