/// `daemon.status`: version, uptime, integration, org counts, listener and event counters.
public enum DaemonStatusCall: ControlCall {
    public static let method = "daemon.status"
    public typealias Params = NoParams
    public typealias Result = DaemonStatus
}

/// `subscribe`: notifications on this connection until it closes.
public enum SubscribeCall: ControlCall {
    public static let method = "subscribe"

    public struct Params: Codable, Sendable, Equatable {
        public var org: OrgID?
        /// Topics (notification methods); nil is every topic.
        public var topics: [String]?
        public init(org: OrgID? = nil, topics: [String]? = nil) {
            self.org = org
            self.topics = topics
        }
    }

    public struct Result: Codable, Sendable, Equatable {
        public var subscribed: Bool
        /// Added: the topics this connection now receives.
        public var topics: [String]
        public init(subscribed: Bool, topics: [String]) {
            self.subscribed = subscribed
            self.topics = topics
        }
    }
}

/// `quota.show`: the `quota` of `daemon.status`, and this month's reads by company (top 100).
public enum QuotaShowCall: ControlCall {
    public static let method = "quota.show"
    public typealias Params = NoParams

    public struct Result: Codable, Sendable, Equatable {
        /// One company's metered reads this month.
        public struct Realm: Codable, Sendable, Equatable {
            public var realmId: String
            public var org: String?
            public var reads: Int
            public init(realmId: String, org: String?, reads: Int) {
                self.realmId = realmId
                self.org = org
                self.reads = reads
            }
            /// `org` is `null`, not absent, for a company no org holds now.
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(realmId, forKey: .realmId)
                try c.encode(org, forKey: .org)
                try c.encode(reads, forKey: .reads)
            }
            enum CodingKeys: String, CodingKey { case realmId, org, reads }
        }

        /// Flattened into the result: its members sit beside `byRealm`.
        public var quota: QuotaStatus
        public var byRealm: [Realm]

        public init(quota: QuotaStatus, byRealm: [Realm]) {
            self.quota = quota
            self.byRealm = byRealm
        }

        public init(from decoder: any Decoder) throws {
            quota = try QuotaStatus(from: decoder)
            byRealm = try decoder.container(keyedBy: CodingKeys.self).decode([Realm].self, forKey: .byRealm)
        }

        public func encode(to encoder: any Encoder) throws {
            try quota.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(byRealm, forKey: .byRealm)
        }
        enum CodingKeys: String, CodingKey { case byRealm }
    }
}
