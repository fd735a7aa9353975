public import NIOCore
public import QBSyncCore

/// Where Intuit is and who the app is: from `Settings.QuickBooks`.
public struct QBOEndpoints: Sendable {
    public var clientID: String
    public var clientSecret: Secret<String>
    public var redirectURI: String
    public var authorizeURL: String
    public var tokenURL: String
    public var revokeURL: String
    public var apiBaseURL: String
    public var minorVersion: Int
    public var environment: String
    /// How long one Accounting API call may take.
    public var timeout: TimeAmount

    public init(
        clientID: String, clientSecret: Secret<String>, redirectURI: String, authorizeURL: String, tokenURL: String, revokeURL: String, apiBaseURL: String,
        minorVersion: Int = 75, environment: String = "sandbox", timeout: TimeAmount = .seconds(30)
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.authorizeURL = authorizeURL
        self.tokenURL = tokenURL
        self.revokeURL = revokeURL
        self.apiBaseURL = apiBaseURL
        self.minorVersion = minorVersion
        self.environment = environment
        self.timeout = timeout
    }

    /// nil while the integration is disabled.
    public init?(_ settings: Settings.QuickBooks) {
        guard let clientID = settings.clientID, let secret = settings.clientSecret, let redirect = settings.redirectURI else { return nil }
        self.clientID = clientID
        clientSecret = secret
        redirectURI = redirect
        authorizeURL = settings.authorizeURL
        tokenURL = settings.tokenURL
        revokeURL = settings.revokeURL
        apiBaseURL = settings.apiBaseURL
        minorVersion = settings.minorVersion
        environment = settings.environment.rawValue
        timeout = .seconds(Int64(settings.timeoutSeconds))
    }
}
