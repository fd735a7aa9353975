import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// A running simulator and a daemon pointed at it.
struct Pair {
    let sim: SimulatorProcess
    let daemon: DaemonProcess
    let http: SimClient
    let control: ControlClient

    static func start(simEnvironment: [String: String] = [:], daemonEnvironment: [String: String] = [:]) async throws -> Pair {
        let sim = try SimulatorProcess()
        try await sim.start(extraEnvironment: simEnvironment)
        let daemon = try DaemonProcess.pointed(at: sim, extraEnvironment: daemonEnvironment)
        try await daemon.start()
        return Pair(sim: sim, daemon: daemon, http: SimClient(base: sim.baseURL), control: try await daemon.connect())
    }

    /// Synchronous, so a `defer` runs it before the test returns (no process outlives it).
    func cleanUp() {
        daemon.cleanUp()
        sim.cleanUp()
    }

    /// oauth.begin, the browser's visit to the authorize URL, then oauth.complete.
    func connect(_ org: String, realmID: String? = nil) async throws -> JSONValue {
        let (state, query) = try await consent(org, realmID: realmID)
        return try await control.call("oauth.complete", params: ["state": .string(state), "code": .string(query["code"]!), "realmId": .string(query["realmId"]!)])
    }

    func consent(_ org: String, realmID: String? = nil) async throws -> (state: String, redirect: [String: String]) {
        let begun = try await control.call("oauth.begin", params: ["org": .string(org)])
        var url = try #require(begun["authorizeUrl"]?.stringValue)
        #expect(url.hasPrefix(sim.baseURL + "/connect/oauth2?"))
        if let realmID { url += "&realmId=\(realmID)" }
        let reply = try await http.get(String(url.dropFirst(sim.baseURL.count)))
        return (begun["state"]!.stringValue!, SimClient.redirectQuery(reply))
    }

    func newCompany() async throws -> String {
        try await http.post("/sim/companies", json: ["name": .string("Company \(UUID().uuidString.prefix(8))")]).json["realmId"]!.stringValue!
    }
}

/// The protocol reason of a failed call.
func rpcReason(_ error: any Error) -> String? { (error as? ControlClientError)?.rpcError?.reason }
