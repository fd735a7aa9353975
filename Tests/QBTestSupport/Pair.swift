import Foundation
public import QBControlClient
public import QBSyncCore

/// A running simulator and a daemon pointed at it.
public struct Pair: Sendable {
    public let sim: SimulatorProcess
    public let daemon: DaemonProcess
    public let http: SimClient
    public let control: ControlClient

    public static func start(simEnvironment: [String: String] = [:], daemonEnvironment: [String: String] = [:]) async throws -> Pair {
        let sim = try SimulatorProcess()
        try await sim.start(extraEnvironment: simEnvironment)
        let daemon: DaemonProcess
        do {
            daemon = try DaemonProcess.pointed(at: sim, extraEnvironment: daemonEnvironment)
        } catch {
            sim.cleanUp()
            throw error
        }
        do {
            try await daemon.start()
            return Pair(sim: sim, daemon: daemon, http: SimClient(base: sim.baseURL), control: try await daemon.connect())
        } catch {
            // The caller's `defer` is not set up yet: nothing may outlive the test.
            daemon.cleanUp()
            sim.cleanUp()
            throw error
        }
    }

    public init(sim: SimulatorProcess, daemon: DaemonProcess, http: SimClient, control: ControlClient) {
        self.sim = sim
        self.daemon = daemon
        self.http = http
        self.control = control
    }

    /// Synchronous, so a `defer` runs it before the test returns (no process outlives it).
    public func cleanUp() {
        daemon.cleanUp()
        sim.cleanUp()
    }

    /// oauth.begin, the browser's visit to the authorize URL, then oauth.complete.
    public func connect(_ org: String, realmID: String? = nil, via control: ControlClient? = nil) async throws -> OrgInfo {
        let control = control ?? self.control
        let (state, query) = try await consent(org, realmID: realmID, via: control)
        guard let code = query["code"], let realm = query["realmId"] else { throw DeadlineExceeded(description: "the consent redirect carried no code: \(query)") }
        return try await control.call(OAuthCompleteCall.self, .init(state: state, code: code, realmId: realm))
    }

    public func consent(_ org: String, realmID: String? = nil, via control: ControlClient? = nil) async throws -> (state: String, redirect: [String: String]) {
        let begun = try await (control ?? self.control).call(OAuthBeginCall.self, .named(org))
        guard begun.authorizeUrl.hasPrefix(sim.baseURL + "/connect/oauth2?") else {
            throw DeadlineExceeded(description: "oauth.begin answered no authorize URL on the simulator: \(begun)")
        }
        var url = begun.authorizeUrl
        let state = begun.state
        if let realmID { url += "&realmId=\(realmID)" }
        let reply = try await http.get(String(url.dropFirst(sim.baseURL.count)))
        return (state, SimClient.redirectQuery(reply))
    }

    public func newCompany() async throws -> String {
        try await http.post("/sim/companies", json: ["name": .string("Company \(UUID().uuidString.prefix(8))")]).json["realmId"]!.stringValue!
    }
}

/// The protocol reason of a failed call.
public func rpcReason(_ error: any Error) -> String? { (error as? ControlClientError)?.rpcError?.reason }
