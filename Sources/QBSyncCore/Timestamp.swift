public import Foundation

/// RFC 3339 UTC timestamps as the protocol writes them (`2026-11-24T10:00:00Z`).
public enum Timestamp {
    private static let style = Date.ISO8601FormatStyle(timeZone: .gmt)
    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    public static func string(_ date: Date) -> String { date.formatted(style) }

    /// Accepts whole or fractional seconds.
    public static func parse(_ string: String) -> Date? {
        (try? style.parse(string)) ?? (try? fractional.parse(string))  // try?: not a timestamp is nil
    }
}
