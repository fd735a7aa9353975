public import Foundation

/// JSON text columns, the same in both stores (sorted keys, so equal values store equal text).
public enum StoredJSON {
    public static func text<Value: Encodable>(_ value: Value?) -> String? {
        guard let value else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }  // try?: the stored types always encode
    }

    public static func decode<Value: Decodable>(_ type: Value.Type, _ text: String?) -> Value? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))  // try?: a column written by an older version reads as absent
    }
}
