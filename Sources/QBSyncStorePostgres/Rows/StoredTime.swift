import Foundation

extension Date {
    /// The store's epoch milliseconds (the SQLite store's representation too).
    init(millis: Int64) { self.init(timeIntervalSince1970: TimeInterval(millis) / 1000) }
    var millis: Int64 { Int64(timeIntervalSince1970 * 1000) }

    /// Whole epoch seconds (`qb_configs`, `oauth_states`, mappings, the feed state), as the SQLite store keeps them.
    var seconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }
    init?(seconds: Int64?) {
        guard let seconds else { return nil }
        self.init(timeIntervalSince1970: TimeInterval(seconds))
    }
    init?(millis: Int64?) {
        guard let millis else { return nil }
        self.init(millis: millis)
    }
}
