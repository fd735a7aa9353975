import Foundation
import NIOCore
import QBSyncCore

/// One QuickBooks company: its entities by type and id, and its counters.
struct Company: Sendable, Codable {
    /// A stored entity; a deleted one stays as a stub for CDC.
    struct Entity: Sendable, Codable {
        var body: [String: JSONValue]
        var deleted = false
        /// Voided invoices stay readable with zero amounts but refuse edits.
        var voided = false
        var updatedAt: Date
    }

    var realmID: String
    var name: String
    var createdAt: Date
    /// Entity type ("Customer", "Invoice", …) → id → entity.
    var entities: [String: [String: Entity]] = [:]
    var nextID = 1
    var nextDocNumber = 1001
    /// Counters visible through `/sim/companies/{realm}`.
    var requestsServed = 0
    var throttled = 0
    var createsDeduplicated = 0

    mutating func newID() -> String {
        defer { nextID += 1 }
        return String(nextID)
    }

    func live(_ type: String) -> [Entity] {
        (entities[type] ?? [:]).values.filter { !$0.deleted }.sorted { (Int($0.body["Id"]?.stringValue ?? "") ?? 0) < (Int($1.body["Id"]?.stringValue ?? "") ?? 0) }
    }
}

/// An authorization code from the authorize endpoint.
struct AuthorizationCode: Sendable, Codable {
    var realmID: String
    var redirectURI: String
    var issuedAt: Date
    var used = false
    /// The grant its redemption made: redeeming the code again revokes it (Intuit treats reuse as fraud).
    var grantID: String?
}

/// One OAuth grant (a connection of the app to a company).
struct Grant: Sendable, Codable {
    var realmID: String
    var createdAt: Date
    var refreshToken: String
    var refreshIssuedAt: Date
    var refreshExpiresAt: Date
    var revoked = false
}

/// An access token issued by a grant.
struct AccessToken: Sendable, Codable {
    var grantID: String
    var realmID: String
    var expiresAt: Date
}

/// A fault to inject into the next matching requests (`POST /sim/faults`).
struct FaultRule: Sendable {
    enum Kind: Sendable {
        case status(Int)
        /// A 401 or 403 with one of Intuit's particular codes (``IntuitFault/authAnswer(status:code:)``).
        case answer(status: Int, code: String)
        /// A 429 with a Retry-After header (Intuit's own carries none).
        case throttled(retryAfterSeconds: Int)
        case delay(milliseconds: Int)
        case drop
        /// Processes the request, then drops the connection: the answer is lost on the way back.
        case dropAfterProcessing
        case invalidGrant
    }

    var realmID: String?
    var pathContains: String?
    var kind: Kind
    /// Faults left to inject; the rule goes when it reaches zero.
    var remaining: Int
    /// With a rate, each matching request faults with this probability (drawn from `random`, seeded
    /// so that a campaign can be replayed); without one, every matching request does.
    var rate: Double?
    var random: SplitMix64
    var injected = 0

    /// What `GET /sim/faults` shows of the rule.
    var summary: JSONValue {
        let kind: String = switch self.kind {
        case .status(let code): "status \(code)"
        case .answer(let status, let code): "status \(status), code \(code)"
        case .throttled(let seconds): "status 429, Retry-After \(seconds)"
        case .delay(let milliseconds): "delay \(milliseconds) ms"
        case .drop: "drop"
        case .dropAfterProcessing: "drop_after"
        case .invalidGrant: "invalid_grant"
        }
        return [
            "realmId": realmID.map(JSONValue.string) ?? .null, "path": pathContains.map(JSONValue.string) ?? .null, "kind": .string(kind),
            "remaining": .int(Int64(remaining)), "rate": rate.map(JSONValue.double) ?? .null, "injected": .int(Int64(injected)),
        ]
    }

    /// Whether this matching request is one to fault.
    mutating func draw() -> Bool {
        guard let rate else { return true }
        return Double(random.next() >> 11) / Double(1 << 53) < rate
    }

    func matches(realmID: String?, path: String, isTokenEndpoint: Bool) -> Bool {
        if case .invalidGrant = kind, !isTokenEndpoint { return false }
        if let wanted = self.realmID, wanted != realmID { return false }
        if let pathContains, !path.contains(pathContains) { return false }
        return true
    }
}

/// A change Intuit would report by webhook.
struct ChangeEvent: Sendable, Codable {
    var realmID: String
    var entityName: String
    var entityID: String
    /// Create, Update, Delete, Void, Emailed, Merge.
    var operation: String
    var at: Date
    /// The CloudEvent `id`, given once when the change is recorded and kept across retries and duplicates.
    var id = UUID().uuidString.lowercased()
}

/// Everything the simulator knows, behind one lock.
struct SimState: Sendable {
    var configuration: SimulatorConfiguration
    var clockOffset: TimeInterval = 0
    var companies: [String: Company] = [:]
    var defaultRealmID: String
    var codes: [String: AuthorizationCode] = [:]
    var grants: [String: Grant] = [:]
    /// Every refresh token ever issued → its grant; only the grant's current one works.
    var refreshTokens: [String: String] = [:]
    var accessTokens: [String: AccessToken] = [:]
    var faults: [FaultRule] = []
    /// Every fault injected since start, for a campaign's accounting.
    var faultsInjected = 0
    /// `requestid` → the first answer, per realm.
    var replies: [String: [String: SimResponse]] = [:]
    var pendingChanges: [ChangeEvent] = []
    /// Real-time request stamps per realm (the last minute) and requests in flight.
    var recentRequests: [String: CircularBuffer<Double>] = [:]
    var inFlight: [String: Int] = [:]
    /// The app's CorePlus meter for the current month of the simulator's clock.
    var usage: UsageMeter
    /// Draws for webhook loss, and the changes lost so far.
    var webhookLoss: SplitMix64
    var webhooksLost = 0

    init(configuration: SimulatorConfiguration, now: Date) {
        self.configuration = configuration
        usage = UsageMeter(month: UsageMeter.month(of: now))
        webhookLoss = SplitMix64(seed: configuration.webhookLossSeed ?? UInt64.random(in: 0...UInt64.max))
        let realmID = Opaque.realmID()
        defaultRealmID = realmID
        companies[realmID] = Company.seeded(realmID: realmID, name: "Sandbox Company_US_1", at: now)
    }

    /// The simulator's clock: real time moved by `POST /sim/clock`.
    func now(real: Date = Date()) -> Date { real.addingTimeInterval(clockOffset) }
}

extension Company {
    /// A new company with Intuit's defaults: CompanyInfo, the "Services" and "Hours" items and an
    /// income account for them.
    static func seeded(realmID: String, name: String, at now: Date) -> Company {
        var company = Company(realmID: realmID, name: name, createdAt: now)
        let meta: JSONValue = ["CreateTime": .string(IntuitTime.metaData(now)), "LastUpdatedTime": .string(IntuitTime.metaData(now))]
        company.entities["CompanyInfo"] = [
            "1": Entity(
                body: [
                    "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": false, "CompanyName": .string(name), "LegalName": .string(name),
                    "Country": "US", "FiscalYearStartMonth": "January", "CompanyStartDate": .string(IntuitTime.day(now)), "MetaData": meta,
                    "SupportedLanguages": "en", "Email": ["Address": "noreply@quickbooks.com"],
                ],
                updatedAt: now
            )
        ]
        // A new company has several Income accounts (reference query-account.xml); queries answer
        // them in Name order, so "Sales of Product Income" comes first, not "Services".
        for (id, accountName, subType) in [
            ("1", "Services", "ServiceFeeIncome"), ("30", "Sales of Product Income", "SalesOfProductIncome"), ("31", "Uncategorized Income", "OtherPrimaryIncome"),
        ] {
            company.entities["Account", default: [:]][id] = Entity(
                body: [
                    "Id": .string(id), "SyncToken": "0", "domain": "QBO", "sparse": false, "Name": .string(accountName), "FullyQualifiedName": .string(accountName),
                    "AccountType": "Income", "AccountSubType": .string(subType), "Classification": "Revenue", "Active": true,
                    "CurrentBalance": 0, "MetaData": meta,
                ],
                updatedAt: now
            )
        }
        for (id, itemName) in [("1", "Services"), ("2", "Hours")] {
            company.entities["Item", default: [:]][id] = Entity(
                body: [
                    "Id": .string(id), "SyncToken": "0", "domain": "QBO", "sparse": false, "Name": .string(itemName),
                    "FullyQualifiedName": .string(itemName), "Type": "Service", "Active": true, "Taxable": false, "UnitPrice": 0,
                    "IncomeAccountRef": ["value": "1", "name": "Services"], "MetaData": meta,
                ],
                updatedAt: now
            )
        }
        company.nextID = 3
        return company
    }
}

/// What `--state` keeps across restarts: companies, grants and tokens, the clock and the usage meter.
struct PersistedState: Codable, Equatable {
    var clockOffset: TimeInterval
    var defaultRealmID: String
    var companies: [String: Company]
    var codes: [String: AuthorizationCode]
    var grants: [String: Grant]
    var refreshTokens: [String: String]
    var accessTokens: [String: AccessToken]
    /// Absent in files written before 0.2: the meter starts from zero.
    var usage: UsageMeter?

    static func == (lhs: PersistedState, rhs: PersistedState) -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(lhs)) == (try? encoder.encode(rhs))  // try?: simulator values always encode
    }
}

extension SimState {
    var persisted: PersistedState {
        PersistedState(
            clockOffset: clockOffset, defaultRealmID: defaultRealmID, companies: companies, codes: codes, grants: grants,
            refreshTokens: refreshTokens, accessTokens: accessTokens, usage: usage
        )
    }

    mutating func restore(_ saved: PersistedState) {
        clockOffset = saved.clockOffset
        defaultRealmID = saved.defaultRealmID
        companies = saved.companies
        codes = saved.codes
        grants = saved.grants
        refreshTokens = saved.refreshTokens
        accessTokens = saved.accessTokens
        if let saved = saved.usage { usage = saved }
    }
}
