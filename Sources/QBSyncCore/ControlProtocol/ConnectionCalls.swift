/// `oauth.begin`: a consent URL and a fresh, single-use state bound to the org.
public enum OAuthBeginCall: ControlCall {
    public static let method = "oauth.begin"
    public typealias Params = OrgParams

    public struct Result: Codable, Sendable, Equatable {
        public var authorizeUrl: String
        public var state: String
        public var expiresAt: String
        public init(authorizeUrl: String, state: String, expiresAt: String) {
            self.authorizeUrl = authorizeUrl
            self.state = state
            self.expiresAt = expiresAt
        }
    }
}

/// `oauth.complete`: exchanges the code for the state's org; `fresh` archives another company's records.
public enum OAuthCompleteCall: ControlCall {
    public static let method = "oauth.complete"
    public typealias Result = OrgInfo

    public struct Params: Codable, Sendable, Equatable {
        public var state: String
        public var code: String
        public var realmId: String
        public var fresh: Bool?
        public init(state: String, code: String, realmId: String, fresh: Bool? = nil) {
            self.state = state
            self.code = code
            self.realmId = realmId
            self.fresh = fresh
        }
    }
}

/// `org.test`: reads CompanyInfo with the org's token.
public enum OrgTestCall: ControlCall {
    public static let method = "org.test"
    public typealias Params = OrgParams

    public struct Result: Codable, Sendable, Equatable {
        /// Added: the service item invoices name and the Income account it posts to (once looked up).
        public struct InvoiceItem: Codable, Sendable, Equatable {
            public var name: String
            public var id: String
            public var incomeAccount: String?
            public init(name: String, id: String, incomeAccount: String?) {
                self.name = name
                self.id = id
                self.incomeAccount = incomeAccount
            }
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(name, forKey: .name)
                try c.encode(id, forKey: .id)
                try c.encode(incomeAccount, forKey: .incomeAccount)
            }
            enum CodingKeys: String, CodingKey { case name, id, incomeAccount }
        }
        public var ok: Bool
        public var realmId: String
        public var companyName: String
        public var latencyMs: Int
        /// `null` until the company's item has been looked up.
        public var invoiceItem: InvoiceItem?
        public init(ok: Bool, realmId: String, companyName: String, latencyMs: Int, invoiceItem: InvoiceItem?) {
            self.ok = ok
            self.realmId = realmId
            self.companyName = companyName
            self.latencyMs = latencyMs
            self.invoiceItem = invoiceItem
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(ok, forKey: .ok)
            try c.encode(realmId, forKey: .realmId)
            try c.encode(companyName, forKey: .companyName)
            try c.encode(latencyMs, forKey: .latencyMs)
            try c.encode(invoiceItem, forKey: .invoiceItem)
        }
        enum CodingKeys: String, CodingKey { case ok, realmId, companyName, latencyMs, invoiceItem }
    }
}

/// `org.disconnect`: revokes at Intuit, then forgets the tokens.
public enum OrgDisconnectCall: ControlCall {
    public static let method = "org.disconnect"
    public typealias Params = OrgParams

    public struct Result: Codable, Sendable, Equatable {
        public var org: String
        /// Always `disconnected`.
        public var status: String
        /// Whether Intuit confirmed the revocation.
        public var revoked: Bool
        public init(org: String, status: String, revoked: Bool) {
            self.org = org
            self.status = status
            self.revoked = revoked
        }
    }
}

/// `token.refresh`: refreshes now and answers the org's connection.
public enum TokenRefreshCall: ControlCall {
    public static let method = "token.refresh"
    public typealias Params = OrgParams
    public typealias Result = OrgInfo
}
