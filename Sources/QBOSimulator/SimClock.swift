import Foundation

/// Intuit's formats for times.
enum IntuitTime {
    /// An envelope's `time`: ISO 8601 with milliseconds and the Pacific offset, e.g.
    /// `2015-07-23T11:04:15.496-07:00`.
    static func pacific(_ date: Date) -> String {
        pacific(date, fraction: true)
    }

    /// Entity `MetaData` times: whole seconds (cut, not rounded) and the Pacific offset, e.g.
    /// `2020-09-29T05:58:07-07:00`, as in every real sample.
    static func metaData(_ date: Date) -> String {
        pacific(date, fraction: false)
    }

    private static func pacific(_ date: Date, fraction: Bool) -> String {
        let pacific = TimeZone(identifier: "America/Los_Angeles") ?? TimeZone(secondsFromGMT: -8 * 3600)!
        let offset = pacific.secondsFromGMT(for: date)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: offset)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond], from: date)
        let millis = (c.nanosecond ?? 0) / 1_000_000
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 3600
        let minutes = abs(offset) % 3600 / 60
        let seconds = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        return seconds + (fraction ? String(format: ".%03d", millis) : "") + String(format: "%@%02d:%02d", sign, hours, minutes)
    }

    /// A date as `YYYY-MM-DD` in the Pacific time zone (a US sandbox company's).
    static func day(_ date: Date) -> String {
        String(pacific(date).prefix(10))
    }

    /// Parses Intuit's and RFC 3339 timestamps (offsets, `Z`, fractional seconds).
    static func parse(_ text: String) -> Date? {
        let styles: [Date.ISO8601FormatStyle] = [
            Date.ISO8601FormatStyle(includingFractionalSeconds: true),
            Date.ISO8601FormatStyle(),
        ]
        for style in styles {
            if let date = try? style.parse(text) { return date }  // try?: not this format: try the next
        }
        if text.count == 10, let date = try? Date.ISO8601FormatStyle().year().month().day().parse(text) { return date }  // try?: not a date: nil below
        return nil
    }
}

/// `intuit_tid` values: `1-<8 hex>-<24 hex>`.
enum IntuitTID {
    static func make() -> String {
        func hex(_ count: Int) -> String { String((0..<count).map { _ in "0123456789abcdef".randomElement()! }) }
        return "1-\(hex(8))-\(hex(24))"
    }
}

/// Random opaque strings for codes and tokens.
enum Opaque {
    static func token(prefix: String = "", length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return prefix + String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }

    /// A realm id: a numeric string of 16 digits, as sandbox companies have.
    static func realmID() -> String {
        "9341" + String((0..<12).map { _ in "0123456789".randomElement()! })
    }
}
