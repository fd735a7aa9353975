import Foundation
import PostgresNIO
import QBSyncCore
import QBSyncStore

extension LogArchiveFile {
    /// A row as the SQLite store's archive writes it: each column by name, integers as numbers,
    /// BYTEA in base64, NULL as null.
    static func json(_ row: PostgresRow) throws -> JSONValue {
        var object: [String: JSONValue] = [:]
        for cell in row {
            guard cell.bytes != nil else {
                object[cell.columnName] = .null
                continue
            }
            switch cell.dataType {
            case .int2, .int4, .int8: object[cell.columnName] = .int(try cell.decode(Int64.self))
            case .float4, .float8: object[cell.columnName] = .double(try cell.decode(Double.self))
            case .bytea: object[cell.columnName] = .string(try cell.decode(Data.self).base64EncodedString())
            default: object[cell.columnName] = .string(try cell.decode(String.self))
            }
        }
        return .object(object)
    }
}
