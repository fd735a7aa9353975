/// `event.list`: webhook events (`Event` rows, open-ended), newest first, with filters and a cursor.
public enum EventListCall: ControlCall {
    public static let method = "event.list"

    public struct Params: Codable, Sendable, Equatable, PagedParams {
        public var org: OrgID?
        /// `pending`, `processed`, `failed` or `ignored`.
        public var status: String?
        /// 1…500, default 100.
        public var limit: Int?
        public var cursor: String?
        public init(org: OrgID? = nil, status: String? = nil, limit: Int? = nil, cursor: String? = nil) {
            self.org = org
            self.status = status
            self.limit = limit
            self.cursor = cursor
        }
    }

    public struct Result: Codable, Sendable, Equatable, PagedResult {
        public var events: [JSONValue]
        /// `null` on the last page.
        public var nextCursor: String?
        public var rows: [JSONValue] { events }
        public init(events: [JSONValue], nextCursor: String?) {
            self.events = events
            self.nextCursor = nextCursor
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(events, forKey: .events)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
        enum CodingKeys: String, CodingKey { case events, nextCursor }
    }
}

/// `event.retry`: back to pending and served now; answers the `Event` once settled (or after 30 s).
public enum EventRetryCall: ControlCall {
    public static let method = "event.retry"
    public typealias Result = JSONValue

    public struct Params: Codable, Sendable, Equatable {
        public var id: Int64
        public init(id: Int64) { self.id = id }
    }
}
