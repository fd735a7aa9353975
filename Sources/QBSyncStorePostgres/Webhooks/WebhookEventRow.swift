public import Foundation
import PostgresNIO
public import QBSyncCore

/// One row of `qb_webhook_events`, as the PostgreSQL store reads it: the same fields as the
/// SQLite store's `EventRecord` (which has no public initialiser yet; the shared store protocol
/// will return one type for both).
public struct WebhookEventRow: Sendable, Equatable {
    public var id: Int64
    public var deliveryID: Int64
    public var receivedAt: Date
    public var realmID: String
    public var org: OrgID?
    public var fact: WebhookEventFact
    public var status: String
    public var processError: String?
    public var resolution: String?
    public var attempts: Int
    public var processedAt: Date?

    /// The columns ``init(_:)`` decodes, in order.
    static let columns = """
        id, delivery_id, received_at, realm_id, org, entity_name, entity_id, operation, last_updated, type, cloud_event_id,
        status, process_error, resolution, attempts, processed_at
        """

    init(_ row: PostgresRow) throws {
        let (id, deliveryID, receivedAt, realmID, org, entityName, entityID, operation, lastUpdated, type, cloudEventID) =
            try row.decode((Int64, Int64, Int64, String, String?, String, String, String, String?, String, String?).self)
        let cells = row.makeRandomAccess()
        self.id = id
        self.deliveryID = deliveryID
        self.receivedAt = Date(millis: receivedAt)
        self.realmID = realmID
        self.org = org.flatMap(OrgID.init)
        fact = WebhookEventFact(
            realmID: realmID, entityName: entityName, entityID: entityID, operation: operation, lastUpdated: lastUpdated, type: type, cloudEventID: cloudEventID
        )
        status = try cells[11].decode(String.self)
        processError = try cells[12].decode(String?.self)
        resolution = try cells[13].decode(String?.self)
        attempts = Int(try cells[14].decode(Int64.self))
        processedAt = try cells[15].decode(Int64?.self).map(Date.init(millis:))
    }
}

extension Date {
    /// The store's epoch milliseconds (the SQLite store's representation too).
    init(millis: Int64) { self.init(timeIntervalSince1970: TimeInterval(millis) / 1000) }
    var millis: Int64 { Int64(timeIntervalSince1970 * 1000) }
}
