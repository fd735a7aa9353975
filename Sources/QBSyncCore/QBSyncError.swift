/// A fault reported by QuickBooks in its `Fault` envelope, as the protocol passes it on in `data.qbo`.
public struct QBOFault: Sendable, Hashable, Codable {
    public var code: String
    public var message: String
    public var detail: String
    public var type: String

    public init(code: String, message: String, detail: String, type: String) {
        self.code = code
        self.message = message
        self.detail = detail
        self.type = type
    }
}

/// Every failure a control-protocol call can end in.
///
/// One package owns this enum, so it is switched exhaustively; `ControlProtocol/RPCErrorCodes.swift`
/// alone maps each case to its JSON-RPC code and stable `reason`.
public enum QBSyncError: Error, Sendable, Equatable {
    /// The line is not JSON.
    case parseError(detail: String)
    /// Not a JSON-RPC request object, or a line over the limit.
    case invalidRequest(detail: String)
    case methodNotFound(method: String, detail: String? = nil)
    /// Missing or ill-typed params; `field` names the first bad one (dotted path).
    case invalidParams(field: String, detail: String)
    /// A bug: the description is logged under this id, the caller only sees the id.
    case internalError(correlationID: String)
    /// The `QUICKBOOKS_*` settings named in `missing` are absent or invalid.
    case integrationDisabled(missing: [String])
    case orgNotConnected(OrgID)
    case needsReauthorization(OrgID)
    case customerNotSynced(org: OrgID, developmentID: String)
    /// `what` is e.g. "org acme", "demand dem-1", "event 17".
    case notFound(what: String)
    case invalidState
    case realmInUse(realmID: String)
    /// `oauth.complete` named another company than the one the org's mappings belong to (0.2).
    case realmChanged(previousRealmID: String, realmID: String)
    case qboRejected(QBOFault)
    case qboUnavailable(detail: String)
    case rateLimited(retryAfterSeconds: Int)
    case forbidden(method: String)
    /// The record is voided or deleted in QuickBooks, or (0.2) was edited there since qbsyncd last
    /// pushed it; `changes` says what differs (`data.changes`).
    case conflict(detail: String, changes: [FieldChange] = [])
    /// The app-wide monthly budget of Intuit's metered reads is spent for this caller's class.
    case readQuotaExhausted(QuotaRefusal)
}
