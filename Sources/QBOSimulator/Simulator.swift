import Foundation
import ServiceLifecycle
public import Logging
import NIOCore
import NIOHTTP1
import QBSyncCore
import Synchronization

/// The Intuit simulator: routes a request to OAuth, the Accounting API or `/sim`, with Intuit's
/// per-realm throttling, injected faults and `requestid` replay. All state sits behind one lock;
/// only delays and webhook delivery happen outside it.
public final class Simulator: Sendable {
    let state: Mutex<SimState>
    let logger: Logger
    private let base = Mutex("http://127.0.0.1")
    /// Wakes the webhook sender (changes queued, or a flush asked for).
    let webhookWakeups: AsyncStream<Void>.Continuation
    let wakeups: AsyncStream<Void>
    let sender = Mutex<WebhookSender?>(nil)

    public init(configuration: SimulatorConfiguration, logger: Logger) {
        state = Mutex(SimState(configuration: configuration, now: Date()))
        self.logger = logger
        (wakeups, webhookWakeups) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The URL the discovery document points at (set once the port is known).
    public var baseURL: String {
        get { base.withLock { $0 } }
        set { base.withLock { $0 = newValue } }
    }

    public var defaultRealmID: String { state.withLock { $0.defaultRealmID } }

    public func handle(_ request: SimRequest) async -> SimOutcome {
        var outcome = await route(request)
        if case .respond(var response) = outcome, response.header("intuit_tid") == nil {
            response.headers.append(("intuit_tid", IntuitTID.make()))
            outcome = .respond(response)
        }
        return outcome
    }

    private func route(_ request: SimRequest) async -> SimOutcome {
        let parts = request.path.split(separator: "/").map(String.init)
        let path = request.path.hasSuffix("/") && request.path.count > 1 ? String(request.path.dropLast()) : request.path
        switch (request.method, path) {
        case (.GET, "/.well-known/openid_sandbox_configuration"), (.GET, "/.well-known/openid_configuration"),
            (.GET, "/.well-known/openid-sandbox-configuration"), (.GET, "/.well-known/openid-configuration"):
            let url = baseURL
            return .respond(state.withLock { $0.discovery(baseURL: url) })
        case (.GET, "/connect/oauth2"):
            return .respond(state.withLock { $0.authorize(request) })
        case (.POST, "/oauth2/v1/tokens/bearer"):
            let fault = takeFault(realmID: nil, path: path, isTokenEndpoint: true)
            if let early = await apply(fault) { return early }
            let invalidGrant = if case .invalidGrant? = fault { true } else { false }
            let response = state.withLock { $0.token(request, injectInvalidGrant: invalidGrant) }
            if case .dropAfterProcessing? = fault { return .dropConnection }
            return .respond(response)
        case (.POST, "/v2/oauth2/tokens/revoke"):
            if let early = await apply(takeFault(realmID: nil, path: path, isTokenEndpoint: false)) { return early }
            return .respond(state.withLock { $0.revoke(request) })
        case (.POST, "/sim/webhooks/flush"):
            return .respond(.json(.ok, await flushWebhooks()))
        default:
            break
        }
        if parts.first == "sim" {
            let response = state.withLock { $0.control(request, path: Array(parts.dropFirst())) }
            webhookWakeups.yield()
            return .respond(response)
        }
        guard parts.count >= 4, parts[0] == "v3", parts[1] == "company" else {
            return .respond(.json(.notFound, ["error": "not found"] as JSONValue))
        }
        return await accounting(request, realmID: parts[2], rest: Array(parts.dropFirst(3)), path: path)
    }

    private func accounting(_ request: SimRequest, realmID: String, rest: [String], path: String) async -> SimOutcome {
        let realNow = ProcessInfo.processInfo.systemUptime
        // Throttling is checked before anything else, as Intuit's gateway does.
        let admitted: SimResponse? = state.withLock { state in
            if let failure = state.authenticate(request, realmID: realmID) { return failure }
            // Stamps arrive in time order: expired ones leave from the front, O(1) per request.
            var stamps = state.recentRequests.removeValue(forKey: realmID) ?? CircularBuffer()
            while let first = stamps.first, realNow - first >= 60 { stamps.removeFirst() }
            defer { state.recentRequests[realmID] = stamps }
            if stamps.count >= state.configuration.requestsPerMinute || state.inFlight[realmID, default: 0] >= state.configuration.concurrentRequests {
                state.companies[realmID]?.throttled += 1
                return IntuitFault.throttled()
            }
            stamps.append(realNow)
            state.inFlight[realmID, default: 0] += 1
            return nil
        }
        if let admitted { return .respond(admitted) }
        defer { state.withLock { $0.inFlight[realmID, default: 1] -= 1 } }

        let fault = takeFault(realmID: realmID, path: path, isTokenEndpoint: false)
        if let early = await apply(fault) { return early }
        let requestID = request.method == .POST ? request.query["requestid"] : nil
        let response: SimResponse = state.withLock { state in
            state.companies[realmID]?.requestsServed += 1
            // The monthly quota is counted only for admitted calls (after authentication and throttling).
            if let refusal = state.meter(request, realmID: realmID, rest: rest) { return refusal }
            if let requestID, let first = state.replies[realmID]?[requestID] {
                // Intuit replays the first answer to a repeated requestid and does the work once.
                state.companies[realmID]?.createsDeduplicated += 1
                return first
            }
            let response = state.accounting(request, realmID: realmID, rest: rest)
            if let requestID { state.replies[realmID, default: [:]][requestID] = response }
            return response
        }
        webhookWakeups.yield()
        if case .dropAfterProcessing? = fault { return .dropConnection }
        return .respond(response)
    }

    /// Takes one use of the first matching fault rule.
    private func takeFault(realmID: String?, path: String, isTokenEndpoint: Bool) -> FaultRule.Kind? {
        state.withLock { state in
            for index in state.faults.indices where state.faults[index].matches(realmID: realmID, path: path, isTokenEndpoint: isTokenEndpoint) {
                guard state.faults[index].draw() else { continue }
                let kind = state.faults[index].kind
                state.faults[index].remaining -= 1
                state.faults[index].injected += 1
                state.faultsInjected += 1
                if state.faults[index].remaining == 0 { state.faults.remove(at: index) }
                return kind
            }
            return nil
        }
    }

    /// Status and drop faults answer at once; a delay waits and lets the request go on.
    private func apply(_ fault: FaultRule.Kind?) async -> SimOutcome? {
        switch fault {
        case .status(let code)?:
            let status = HTTPResponseStatus(statusCode: code)
            switch code {
            case 429: return .respond(IntuitFault.throttled())
            case 500: return .respond(IntuitFault.systemFault(now: state.withLock { $0.now() }))
            case 401: return .respond(IntuitFault.unauthorized(detail: nil, now: Date()))
            case 403: return .respond(IntuitFault.forbidden(now: Date()))
            case 502...504: return .respond(IntuitFault.gatewayError(status))
            default: return .respond(SimResponse(status: status))
            }
        case .answer(let status, let code)?:
            return IntuitFault.authAnswer(status: status, code: code).map { .respond($0) }
        case .throttled(let seconds)?:
            var response = IntuitFault.throttled()
            response.headers.append(("Retry-After", String(seconds)))
            return .respond(response)
        case .drop?:
            return .dropConnection
        case .delay(let milliseconds)?:
            try? await Task.sleep(for: .milliseconds(milliseconds))  // try?: a cancelled delay just ends
            return nil
        case .invalidGrant?, .dropAfterProcessing?, nil:
            return nil
        }
    }
}
