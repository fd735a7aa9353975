/// `org.list`: every organisation the daemon knows, in pages of at most 1,000, in org order.
public enum OrgListCall: ControlCall {
    public static let method = "org.list"

    public struct Params: Codable, Sendable, Equatable, PagedParams {
        /// `connected`, `disconnected` or `needs_reauthorization`.
        public var status: String?
        /// 1…1000, default 1000.
        public var limit: Int?
        public var cursor: String?
        public init(status: String? = nil, limit: Int? = nil, cursor: String? = nil) {
            self.status = status
            self.limit = limit
            self.cursor = cursor
        }
    }

    public struct Result: Codable, Sendable, Equatable, PagedResult {
        public var orgs: [OrgInfo]
        /// `null` on the last page.
        public var nextCursor: String?
        public var rows: [OrgInfo] { orgs }
        public init(orgs: [OrgInfo], nextCursor: String?) {
            self.orgs = orgs
            self.nextCursor = nextCursor
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(orgs, forKey: .orgs)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
        enum CodingKeys: String, CodingKey { case orgs, nextCursor }
    }
}

/// `org.show`: one organisation; `not_found` when the daemon has never seen it.
public enum OrgShowCall: ControlCall {
    public static let method = "org.show"
    public typealias Params = OrgParams
    public typealias Result = OrgInfo
}

/// `{org}`: the params of every method about one organisation.
public struct OrgParams: Codable, Sendable, Equatable {
    public var org: OrgID
    public init(org: OrgID) { self.org = org }
}
