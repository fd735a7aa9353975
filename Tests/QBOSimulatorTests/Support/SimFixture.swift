import Foundation
import QBSyncCore
import QBTestSupport

/// A running qbo-sim with one company connected, and, when asked, a receiver its webhooks go to.
/// `cleanUp()` stops both.
struct SimFixture {
    /// Where the simulator's webhooks go.
    struct Webhooks {
        /// `classic` or `cloudevents`.
        var format = "cloudevents"
        /// The receiver answers this many POSTs 500 first.
        var failures = 0
        /// Whether the simulator starts with the receiver's URL (else a test sets it later).
        var configured = true
    }

    let sim: SimulatorProcess
    let client: SimClient
    let grant: (access: String, refresh: String, realmID: String)
    let receiver: WebhookReceiver!
    private let serving: Task<Void, any Error>?

    var token: String { grant.access }
    var realm: String { grant.realmID }
    var prefix: String { "/v3/company/\(realm)" }

    static func start(webhooks: Webhooks? = nil, environment: [String: String] = [:]) async throws -> SimFixture {
        var receiver: WebhookReceiver?
        var serving: Task<Void, any Error>?
        if let webhooks {
            let started = try await WebhookReceiver()
            started.record.failures.store(webhooks.failures, ordering: .relaxed)
            serving = Task { try await started.server.run() }
            receiver = started
        }
        let sim = try SimulatorProcess()
        do {
            let url = webhooks?.configured == true ? receiver?.url : nil
            try await sim.start(webhookURL: url, webhookFormat: webhooks?.format ?? "cloudevents", extraEnvironment: environment)
            let client = SimClient(base: sim.baseURL)
            let grant = try await client.connect()
            return SimFixture(sim: sim, client: client, grant: grant, receiver: receiver, serving: serving)
        } catch {
            serving?.cancel()
            sim.cleanUp()
            throw error
        }
    }

    func cleanUp() {
        serving?.cancel()
        sim.cleanUp()
    }

    func post(_ path: String, _ json: JSONValue) async throws -> SimClient.Reply {
        try await client.post(prefix + path, json: json, token: token)
    }

    func get(_ path: String) async throws -> SimClient.Reply {
        try await client.get(prefix + path, token: token)
    }

    /// A second company, connected.
    func connectAnother(name: String) async throws -> (access: String, refresh: String, realmID: String) {
        let realm = try await client.post("/sim/companies", json: ["name": .string(name)]).json["realmId"]!.stringValue!
        return try await client.connect(realmID: realm)
    }
}
