public import Foundation

/// What a local entity is in BlockManOS.
public enum MappingKind: String, Sendable, Codable, CaseIterable {
    case development
    case demand

    public var qboType: String { self == .development ? "Customer" : "Invoice" }
}

/// A synced entity's status: customers are `Synced`; invoices derive theirs from QuickBooks.
public enum EntityStatus: String, Sendable, Codable, CaseIterable {
    case synced = "Synced"
    case outstanding = "Outstanding"
    case paid = "Paid"
    case overdue = "Overdue"
    case voided = "Voided"

    /// Paid (balance 0, total > 0), Voided (voided or deleted), Overdue (balance > 0, due date
    /// before today), else Outstanding (DESIGN.md).
    public static func invoice(total: Money, balance: Money, dueDate: String?, voided: Bool, today: String) -> EntityStatus {
        InvoiceStatusRule.evaluate(total: total, balance: balance, dueDate: dueDate, gone: voided, today: today).status
    }
}

/// One synced entity (`Mapping` in spec/control-protocol.md); every member always present.
public struct Mapping: Sendable, Equatable, Codable {
    public var org: OrgID
    public var kind: MappingKind
    public var localId: String
    public var qboType: String
    public var qboId: String?
    public var syncToken: String?
    public var status: EntityStatus
    public var docNumber: String?
    public var totalAmount: Money?
    public var balance: Money?
    public var dueDate: String?
    public var lastSyncedAt: Date?
    public var lastError: String?
    /// 0.2: the QuickBooks company of the record.
    public var realmId: String?
    /// 0.2: the record was edited in QuickBooks since qbsyncd last pushed it (nil: it was not).
    public var drift: Drift?

    public init(
        org: OrgID, kind: MappingKind, localId: String, qboType: String, qboId: String?, syncToken: String?, status: EntityStatus,
        docNumber: String?, totalAmount: Money?, balance: Money?, dueDate: String?, lastSyncedAt: Date?, lastError: String?,
        realmId: String? = nil, drift: Drift? = nil
    ) {
        self.realmId = realmId
        self.drift = drift
        self.org = org
        self.kind = kind
        self.localId = localId
        self.qboType = qboType
        self.qboId = qboId
        self.syncToken = syncToken
        self.status = status
        self.docNumber = docNumber
        self.totalAmount = totalAmount
        self.balance = balance
        self.dueDate = dueDate
        self.lastSyncedAt = lastSyncedAt
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey {
        case org, kind, localId, qboType, qboId, syncToken, status, docNumber, totalAmount, balance, dueDate, lastSyncedAt, lastError, realmId, drift
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(org, forKey: .org)
        try c.encode(kind, forKey: .kind)
        try c.encode(localId, forKey: .localId)
        try c.encode(qboType, forKey: .qboType)
        try c.encode(qboId, forKey: .qboId)
        try c.encode(syncToken, forKey: .syncToken)
        try c.encode(status, forKey: .status)
        try c.encode(docNumber, forKey: .docNumber)
        try c.encode(totalAmount, forKey: .totalAmount)
        try c.encode(balance, forKey: .balance)
        try c.encode(dueDate, forKey: .dueDate)
        try c.encode(lastSyncedAt.map(Timestamp.string), forKey: .lastSyncedAt)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(realmId, forKey: .realmId)
        try c.encode(drift, forKey: .drift)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        org = try c.decode(OrgID.self, forKey: .org)
        kind = try c.decode(MappingKind.self, forKey: .kind)
        localId = try c.decode(String.self, forKey: .localId)
        qboType = try c.decode(String.self, forKey: .qboType)
        qboId = try c.decodeIfPresent(String.self, forKey: .qboId)
        syncToken = try c.decodeIfPresent(String.self, forKey: .syncToken)
        status = try c.decode(EntityStatus.self, forKey: .status)
        docNumber = try c.decodeIfPresent(String.self, forKey: .docNumber)
        totalAmount = try c.decodeIfPresent(Money.self, forKey: .totalAmount)
        balance = try c.decodeIfPresent(Money.self, forKey: .balance)
        dueDate = try c.decodeIfPresent(String.self, forKey: .dueDate)
        lastSyncedAt = try c.decodeIfPresent(String.self, forKey: .lastSyncedAt).flatMap(Timestamp.parse)
        lastError = try c.decodeIfPresent(String.self, forKey: .lastError)
        realmId = try c.decodeIfPresent(String.self, forKey: .realmId)
        drift = try c.decodeIfPresent(Drift.self, forKey: .drift)
    }
}
