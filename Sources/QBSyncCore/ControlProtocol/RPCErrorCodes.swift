/// A JSON-RPC error object as it goes on the wire.
public struct RPCErrorObject: Sendable, Equatable, Codable {
    public var code: Int
    public var message: String
    /// Always an object carrying at least `reason`.
    public var data: JSONValue

    public init(code: Int, message: String, data: JSONValue) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// The stable machine-readable reason (`data.reason`).
    public var reason: String? { data["reason"]?.stringValue }
}

/// The protocol's error codes and reasons (spec/control-protocol.md, "Error codes"); clients branch on the reason.
public enum RPCErrorCode {
    public static let parseError = -32700
    public static let invalidRequest = -32600
    public static let methodNotFound = -32601
    public static let invalidParams = -32602
    public static let internalError = -32603
    public static let integrationDisabled = 1001
    public static let orgNotConnected = 1002
    public static let needsReauthorization = 1003
    public static let customerNotSynced = 1004
    public static let notFound = 1005
    public static let invalidState = 1006
    public static let realmInUse = 1007
    public static let qboRejected = 1008
    public static let qboUnavailable = 1009
    public static let rateLimited = 1010
    public static let forbidden = 1011
    public static let conflict = 1012
    public static let readQuotaExhausted = 1013
    public static let realmChanged = 1014
}

extension QBSyncError {
    /// The one mapping from a failure to what the caller sees. Messages never carry secrets.
    public var rpcError: RPCErrorObject {
        func make(_ code: Int, _ reason: String, _ message: String, _ extra: [String: JSONValue] = [:]) -> RPCErrorObject {
            var data = extra
            data["reason"] = .string(reason)
            return RPCErrorObject(code: code, message: message, data: .object(data))
        }
        switch self {
        case .parseError(let detail):
            return make(RPCErrorCode.parseError, "parse_error", "the line is not valid JSON: \(detail)")
        case .invalidRequest(let detail):
            return make(RPCErrorCode.invalidRequest, "invalid_request", detail)
        case .methodNotFound(let method, let detail):
            return make(RPCErrorCode.methodNotFound, "method_not_found", detail ?? "unknown method '\(method)'", ["method": .string(method)])
        case .invalidParams(let field, let detail):
            return make(RPCErrorCode.invalidParams, "invalid_params", "invalid params: \(field): \(detail)", ["field": .string(field)])
        case .internalError(let correlationID):
            return make(
                RPCErrorCode.internalError, "internal",
                "internal error; the daemon's log has the details under correlation id \(correlationID)",
                ["correlationId": .string(correlationID)]
            )
        case .integrationDisabled(let missing):
            return make(
                RPCErrorCode.integrationDisabled, "integration_disabled",
                "the QuickBooks integration is disabled: set \(missing.joined(separator: ", "))",
                ["missing": .array(missing.map { .string($0) })]
            )
        case .orgNotConnected(let org):
            return make(RPCErrorCode.orgNotConnected, "org_not_connected", "organisation \(org) has no QuickBooks connection", ["org": .string(org.rawValue)])
        case .needsReauthorization(let org):
            return make(
                RPCErrorCode.needsReauthorization, "needs_reauthorization",
                "organisation \(org) must connect to QuickBooks again", ["org": .string(org.rawValue)]
            )
        case .customerNotSynced(let org, let developmentID):
            return make(
                RPCErrorCode.customerNotSynced, "customer_not_synced",
                "development \(developmentID) is not synced as a QuickBooks customer",
                ["org": .string(org.rawValue), "developmentId": .string(developmentID)]
            )
        case .notFound(let what):
            return make(RPCErrorCode.notFound, "not_found", "\(what) is unknown")
        case .invalidState:
            return make(RPCErrorCode.invalidState, "invalid_state", "the OAuth state is unknown, already used or expired")
        case .realmInUse(let realmID):
            return make(
                RPCErrorCode.realmInUse, "realm_in_use",
                "QuickBooks company \(realmID) is already connected to another organisation", ["realmId": .string(realmID)]
            )
        case .realmChanged(let previous, let realmID):
            return make(
                RPCErrorCode.realmChanged, "realm_changed",
                "the organisation's records belong to QuickBooks company \(previous), not \(realmID); call again with fresh:true to archive them and start afresh",
                ["previousRealmId": .string(previous), "realmId": .string(realmID)]
            )
        case .qboRejected(let fault):
            return make(
                RPCErrorCode.qboRejected, "qbo_rejected", "QuickBooks refused the request: \(fault.message)",
                [
                    "qbo": [
                        "code": .string(fault.code), "message": .string(fault.message), "detail": .string(fault.detail),
                        "type": .string(fault.type),
                    ]
                ]
            )
        case .qboUnavailable(let detail):
            return make(RPCErrorCode.qboUnavailable, "qbo_unavailable", "QuickBooks could not be reached: \(detail)")
        case .rateLimited(let seconds):
            return make(
                RPCErrorCode.rateLimited, "rate_limited", "the QuickBooks request budget is spent; retry in \(seconds) s",
                ["retryAfterSeconds": .int(Int64(seconds))]
            )
        case .forbidden(let method):
            return make(RPCErrorCode.forbidden, "forbidden", "this caller may not call \(method)", ["method": .string(method)])
        case .conflict(let detail, let changes):
            let encoded = changes.map { change -> JSONValue in ["field": .string(change.field), "pushed": change.pushed, "now": change.now] }
            return make(RPCErrorCode.conflict, "conflict", detail, changes.isEmpty ? [:] : ["changes": .array(encoded)])
        case .readQuotaExhausted(let refusal):
            return make(
                RPCErrorCode.readQuotaExhausted, "read_quota_exhausted",
                "the app's monthly budget of QuickBooks reads is spent (\(refusal.used) of \(refusal.budget) in \(refusal.month)); it resets at \(Timestamp.string(refusal.resetsAt))",
                [
                    "used": .int(Int64(refusal.used)), "budget": .int(Int64(refusal.budget)), "month": .string(refusal.month),
                    "resetsAt": .string(Timestamp.string(refusal.resetsAt)),
                ]
            )
        }
    }
}
