public import Foundation

/// A QuickBooks connection's status as the protocol names it.
public enum ConnectionStatus: String, Sendable, Codable, CaseIterable {
    case connected
    case disconnected
    case needsReauthorization = "needs_reauthorization"
}

/// One organisation's connection (`OrgInfo` in spec/control-protocol.md). Every member is always
/// present, `null` when unknown, so clients see one stable shape.
public struct OrgInfo: Sendable, Equatable, Codable {
    public var org: OrgID
    public var status: ConnectionStatus
    public var realmID: String?
    public var companyName: String?
    public var environment: String?
    public var connectedAt: Date?
    public var accessTokenExpiresAt: Date?
    public var refreshTokenExpiresAt: Date?
    public var lastRefreshAt: Date?
    public var lastError: String?
    /// Added: the date by which the org must connect again (the refresh token's idle expiry or its
    /// five-year hard end, whichever is first); null when not connected.
    public var reconnectBy: Date?

    public init(
        org: OrgID, status: ConnectionStatus, realmID: String? = nil, companyName: String? = nil,
        environment: String? = nil, connectedAt: Date? = nil, accessTokenExpiresAt: Date? = nil,
        refreshTokenExpiresAt: Date? = nil, lastRefreshAt: Date? = nil, lastError: String? = nil, reconnectBy: Date? = nil
    ) {
        self.reconnectBy = reconnectBy
        self.org = org
        self.status = status
        self.realmID = realmID
        self.companyName = companyName
        self.environment = environment
        self.connectedAt = connectedAt
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.refreshTokenExpiresAt = refreshTokenExpiresAt
        self.lastRefreshAt = lastRefreshAt
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case org, status, realmID = "realmId", companyName, environment, connectedAt, accessTokenExpiresAt
        case refreshTokenExpiresAt, lastRefreshAt, lastError, reconnectBy
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(org, forKey: .org)
        try c.encode(status, forKey: .status)
        try c.encode(realmID, forKey: .realmID)
        try c.encode(companyName, forKey: .companyName)
        try c.encode(environment, forKey: .environment)
        try c.encode(connectedAt.map(Timestamp.string), forKey: .connectedAt)
        try c.encode(accessTokenExpiresAt.map(Timestamp.string), forKey: .accessTokenExpiresAt)
        try c.encode(refreshTokenExpiresAt.map(Timestamp.string), forKey: .refreshTokenExpiresAt)
        try c.encode(lastRefreshAt.map(Timestamp.string), forKey: .lastRefreshAt)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(reconnectBy.map(Timestamp.string), forKey: .reconnectBy)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func date(_ key: CodingKeys) throws -> Date? {
            try c.decodeIfPresent(String.self, forKey: key).flatMap(Timestamp.parse)
        }
        org = try c.decode(OrgID.self, forKey: .org)
        status = try c.decode(ConnectionStatus.self, forKey: .status)
        realmID = try c.decodeIfPresent(String.self, forKey: .realmID)
        companyName = try c.decodeIfPresent(String.self, forKey: .companyName)
        environment = try c.decodeIfPresent(String.self, forKey: .environment)
        connectedAt = try date(.connectedAt)
        accessTokenExpiresAt = try date(.accessTokenExpiresAt)
        refreshTokenExpiresAt = try date(.refreshTokenExpiresAt)
        lastRefreshAt = try date(.lastRefreshAt)
        lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
        reconnectBy = try date(.reconnectBy)
    }
}
