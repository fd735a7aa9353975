public import Logging

/// Everything the daemon reads from its environment, settings file and credentials.
///
/// Built only by ``Settings/load(environment:)``, which `--check-config`, start-up and SIGHUP all use.
public struct Settings: Sendable {
    /// The `QUICKBOOKS_*` settings: the integration is enabled when ``Settings/integrationMissing`` is empty.
    public struct QuickBooks: Sendable {
        public var clientID: String?
        public var clientSecret: Secret<String>?
        public var redirectURI: String?
        public var environment: QBOEnvironment
        public var webhookVerifierToken: Secret<String>?
        public var authorizeURL: String
        public var tokenURL: String
        public var revokeURL: String
        public var apiBaseURL: String
        public var minorVersion: Int
        /// Seconds an Accounting API call may take before it counts as a timeout (the token
        /// endpoint gets two thirds of it).
        public var timeoutSeconds: Int
    }

    public var quickBooks: QuickBooks
    /// Holds `qbsyncd.sqlite`.
    public var stateDirectory: String
    /// The shared PostgreSQL database used instead of the SQLite store (nil: SQLite); printed only redacted.
    public var databaseURL: DatabaseURL?
    /// Seconds a company lease lasts without renewal (several instances on PostgreSQL): a killed
    /// holder's companies move to the others within it and one heartbeat (a sixth of it).
    public var leaseSeconds: Int
    public var controlSocketPath: String
    public var controlGroup: String
    public var readonlyGroup: String?
    public var webhookListen: ListenAddress
    /// Control connections open at once, in all and per peer uid; an excess one is told and closed.
    public var controlMaxConnections: Int
    public var controlMaxConnectionsPerUID: Int
    /// Seconds a control connection with no subscription and no request in flight may stay silent.
    public var controlIdleTimeoutSeconds: Int
    /// Seconds from a webhook request's first byte to the end of its body; past it, 408 and close.
    public var webhookRequestTimeoutSeconds: Int
    public var tokenKey: TokenKeySource
    public var refreshMarginSeconds: Int
    /// How many days before an org's `reconnectBy` it is warned about (logged and notified).
    public var reconnectWarningDays: Int
    /// The QuickBooks service item every invoice line names (found or created once per company).
    public var invoiceItemName: String
    /// The Income account a newly created service item posts to (nil: the first of the
    /// service-fee subtype, else the first).
    public var incomeAccountName: String?
    /// Every company's change feed is read at least once in this many seconds (the sweep that
    /// catches up lost webhooks); stretched when the read budget cannot afford it.
    public var sweepPeriodSeconds: Int
    /// A change younger than this is not yet counted as missed by webhooks (its webhook may be on the way).
    public var reconcileGraceSeconds: Int
    /// The app's monthly budget of Intuit's metered reads (0: none).
    public var readQuota: Int
    /// Percent of ``readQuota`` kept for operator reads.
    public var readReservePercent: Int
    /// Seconds a company's webhook events wait for more before one change-feed read serves them all.
    public var coalesceWindowSeconds: Double
    /// Companies whose events are processed at once.
    public var pipelineConcurrency: Int
    /// Percentage of changes found only by the feed above which a warning is raised.
    public var webhookLossThresholdPercent: Int
    public var logLevel: Logger.Level
    /// The settings file that was read (it may not exist when it is the default path).
    public var configFilePath: String
    /// Names of the `QUICKBOOKS_*` variables that are missing or invalid; empty when the integration is enabled.
    public var integrationMissing: [String]

    public var integrationEnabled: Bool { integrationMissing.isEmpty }

    /// The path of the SQLite database inside the state directory.
    public var databasePath: String { stateDirectory + "/qbsyncd.sqlite" }
}

/// `sandbox` or `production`: picks Intuit's endpoints.
public enum QBOEnvironment: String, Sendable, CaseIterable {
    case sandbox
    case production

    public var defaultAPIBaseURL: String {
        switch self {
        case .sandbox: return SettingDefaults.sandboxAPIBaseURL
        case .production: return SettingDefaults.productionAPIBaseURL
        }
    }
}

/// Where the 32-byte token-sealing key comes from.
public enum TokenKeySource: Sendable, Equatable, CustomStringConvertible {
    /// `QBSYNCD_TOKEN_KEY_FILE`: must exist.
    case file(String)
    /// The systemd credential `token_key`.
    case credential(String)
    /// `<state dir>/token.key`, created 0600 on first start.
    case generated(String)

    public var path: String {
        switch self {
        case .file(let path), .credential(let path), .generated(let path): return path
        }
    }

    public var description: String {
        switch self {
        case .file(let path): return "file \(path)"
        case .credential(let path): return "credential \(path)"
        case .generated(let path): return "generated \(path)"
        }
    }
}

/// A TCP listen address: `127.0.0.1:8731`, `[::1]:8731` or `0.0.0.0:8731`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT`; nil when either part is missing or the port is out of range.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why settings could not be loaded: one line per problem, `NAME: what is wrong`.
public struct SettingsProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "; ") }
}
