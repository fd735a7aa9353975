import Crypto
import Foundation
import GRDB
import QBControlClient
import QBOSimulator
import QBSyncCore
import QBTestSupport

/// A simulator, a daemon whose addresses survive restarts, and orgs each connected to a company
/// of its own, with the simulator's webhooks pointed at the daemon.
struct Fleet: Sendable {
    let pair: Pair
    let webhookBase: String
    let orgs: [(org: String, realmID: String)]

    var sim: SimulatorProcess { pair.sim }
    var daemon: DaemonProcess { pair.daemon }
    var http: SimClient { pair.http }
    var hook: SimClient { SimClient(base: webhookBase) }
    var databasePath: String { daemon.stateDirectory + "/qbsyncd.sqlite" }

    static func start(orgs count: Int, simEnvironment: [String: String] = [:], daemonEnvironment: [String: String] = [:]) async throws -> Fleet {
        let port = try freeTCPPort()
        let pair = try await Pair.start(
            simEnvironment: simEnvironment,
            daemonEnvironment: ["QBSYNCD_WEBHOOK_LISTEN": "127.0.0.1:\(port)", "QBSYNCD_LOG_LEVEL": "info"].merging(daemonEnvironment) { _, new in new }
        )
        let webhookBase = "http://127.0.0.1:\(port)"
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string(webhookBase + "/api/webhooks/quickbooks"), "format": "classic"])
        var orgs: [(String, String)] = []
        for index in 0..<count {
            let realmID = try await pair.newCompany()
            let org = "org-\(index)"
            _ = try await pair.connect(org, realmID: realmID)
            orgs.append((org, realmID))
        }
        return Fleet(pair: pair, webhookBase: webhookBase, orgs: orgs)
    }

    /// With `QBSYNC_KEEP_LOGS=DIR`, the daemon's and simulator's logs are kept there for a post-mortem.
    func cleanUp() {
        if let keep = Campaign.environment["QBSYNC_KEEP_LOGS"] {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            let stamp = Int(Date().timeIntervalSince1970)
            try? FileManager.default.copyItem(atPath: daemon.logPath, toPath: "\(keep)/qbsyncd-\(stamp).log")
            try? FileManager.default.copyItem(atPath: sim.logPath, toPath: "\(keep)/qbo-sim-\(stamp).log")
        }
        pair.cleanUp()
    }

    func control() async throws -> ControlClient { try await daemon.connect() }

    /// The daemon's database, read-only, beside the running daemon (WAL lets both in).
    func database() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        return try DatabaseQueue(path: databasePath, configuration: configuration)
    }

    func integrityCheck() throws -> String {
        try database().read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    /// A signed classic delivery, posted straight to the daemon's listener: the status it got.
    func deliver(_ body: String) async throws -> Int {
        try await hook.send(.POST, "/api/webhooks/quickbooks", headers: [("intuit-signature", Self.sign(body)), ("Content-Type", "application/json")], body: Data(body.utf8)).status
    }

    static func sign(_ body: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(SimulatorProcess.verifierToken.utf8)))).base64EncodedString()
    }

    /// A company's customers and invoices as the simulator holds them.
    func company(_ realmID: String) async throws -> (customers: [JSONValue], invoices: [JSONValue]) {
        let company = try await http.get("/sim/companies/\(realmID)").json
        return (company["customers"]?.arrayValue ?? [], company["invoices"]?.arrayValue ?? [])
    }

    static func development(_ id: String) -> JSONValue {
        ["id": .string(id), "name": .string("Court \(id)"), "address": ["line1": .string("1 \(id) Road"), "city": "Leeds", "country": "GB"]]
    }

    static func developmentInput(_ id: String) -> DevelopmentInput {
        DevelopmentInput(id: id, name: "Court \(id)", address: .init(line1: "1 \(id) Road", city: "Leeds", country: "GB"))
    }

    static func demandInput(_ id: String, development: String, pennies: Int, dueDate: String = "2099-12-31") -> DemandInput {
        DemandInput(
            id: id, developmentId: development, docNumber: "SC-\(id)", dueDate: dueDate,
            lines: [.init(description: "Service charge", amount: Money(minorUnits: Int64(pennies)))]
        )
    }

    static func demand(_ id: String, development: String, pennies: Int, dueDate: String = "2099-12-31") -> JSONValue {
        [
            "id": .string(id), "developmentId": .string(development), "docNumber": .string("SC-\(id)"), "dueDate": .string(dueDate),
            "lines": [["description": "Service charge", "amount": .string(String(format: "%d.%02d", pennies / 100, pennies % 100))]],
        ]
    }
}

extension Array {
    /// A random element drawn from a seeded generator.
    func pick(_ random: inout SplitMix64) -> Element { self[Int(random.next() % UInt64(count))] }
}
