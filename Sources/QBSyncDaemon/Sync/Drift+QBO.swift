import Foundation
import Logging
import QBOClient
import QBSyncCore
import QBSyncStore

/// What a push came to: QuickBooks' answer, or the record as QuickBooks holds it when it was
/// edited there since the last push (the push was not sent).
enum PushOutcome<Record: Sendable>: Sendable {
    case saved(Record, requestID: String?)
    case drifted(Record)
}

extension QBOInvoice {
    /// The fields qbsyncd pushes (and a QuickBooks user may edit): amounts as two-place strings.
    /// A payment changes none of them (only `Balance`); a void changes `status`, `TotalAmt` and `Line`.
    var pushedFields: PushedFields {
        var values: [String: JSONValue] = [
            "status": isVoided ? "Voided" : "Active", "TotalAmt": Self.amount(TotalAmt),
            "DueDate": DueDate.map(JSONValue.string) ?? .null, "DocNumber": DocNumber.map(JSONValue.string) ?? .null,
        ]
        // A change-feed row may lack these; a field it does not carry is not compared.
        if !CustomerRef.value.isEmpty { values["CustomerRef"] = .string(CustomerRef.value) }
        if let lines = Line { values["Line"] = .array(lines.filter { $0.DetailType == "SalesItemLineDetail" }.map { Self.amount($0.Amount ?? 0) }) }
        return PushedFields(values)
    }

    static func amount(_ value: Decimal) -> JSONValue { .string(Money(exactly: value)?.description ?? "\(value)") }
}

extension InvoicePayload {
    /// The fields this push sets, as QuickBooks holds them once it landed: an invoice already like
    /// this is qbsyncd's own earlier push whose answer was lost, not an edit made in QuickBooks.
    var intendedFields: PushedFields {
        var values: [String: JSONValue] = [
            "status": "Active", "TotalAmt": QBOInvoice.amount(self.Line.reduce(Decimal(0)) { $0 + $1.Amount }), "DueDate": .string(DueDate),
            "CustomerRef": .string(CustomerRef.value), "Line": .array(self.Line.map { QBOInvoice.amount($0.Amount) }),
        ]
        if let DocNumber { values["DocNumber"] = .string(DocNumber) }
        return PushedFields(values)
    }
}

extension CustomerPayload {
    /// The fields this push sets (a sparse update leaves the others alone), as QuickBooks holds them
    /// once it landed; see ``InvoicePayload/intendedFields``.
    var intendedFields: PushedFields {
        var values: [String: JSONValue] = ["status": "Active", "DisplayName": .string(DisplayName)]
        if let CompanyName { values["CompanyName"] = .string(CompanyName) }
        if let email = PrimaryEmailAddr?.Address { values["PrimaryEmailAddr"] = .string(email) }
        if let phone = PrimaryPhone?.FreeFormNumber { values["PrimaryPhone"] = .string(phone) }
        if let BillAddr {
            let parts: [(String, String?)] = [
                ("Line1", BillAddr.Line1), ("Line2", BillAddr.Line2), ("City", BillAddr.City), ("CountrySubDivisionCode", BillAddr.CountrySubDivisionCode),
                ("PostalCode", BillAddr.PostalCode), ("Country", BillAddr.Country),
            ]
            values["BillAddr"] = .object(Dictionary(uniqueKeysWithValues: parts.compactMap { key, value in value.map { (key, JSONValue.string($0)) } }))
        }
        return PushedFields(values)
    }
}

extension QBOCustomer {
    /// The fields qbsyncd pushes to a customer (and a QuickBooks user may edit).
    var pushedFields: PushedFields {
        var address: JSONValue = .null
        if let BillAddr {
            let parts: [(String, String?)] = [
                ("Line1", BillAddr.Line1), ("Line2", BillAddr.Line2), ("City", BillAddr.City), ("CountrySubDivisionCode", BillAddr.CountrySubDivisionCode),
                ("PostalCode", BillAddr.PostalCode), ("Country", BillAddr.Country),
            ]
            address = .object(Dictionary(uniqueKeysWithValues: parts.compactMap { key, value in value.map { (key, JSONValue.string($0)) } }))
        }
        return PushedFields([
            "status": Active == false ? "Inactive" : "Active", "DisplayName": .string(DisplayName), "CompanyName": CompanyName.map(JSONValue.string) ?? .null,
            "PrimaryEmailAddr": PrimaryEmailAddr?.Address.map(JSONValue.string) ?? .null, "PrimaryPhone": PrimaryPhone?.FreeFormNumber.map(JSONValue.string) ?? .null,
            "BillAddr": address,
        ])
    }
}

extension SyncService {
    /// The `conflict` of a push refused because the record was edited in QuickBooks.
    static func driftConflict(_ record: MappingRecord, changes: [FieldChange]) -> QBSyncError {
        let what = record.kind == .demand ? "invoice of demand" : "customer of development"
        let fields = changes.map(\.field).joined(separator: ", ")
        return .conflict(
            detail: "the QuickBooks \(what) \(record.localID) was edited in QuickBooks since qbsyncd last pushed it (\(fields)); resend with force:true to overwrite",
            changes: changes
        )
    }

    /// Tells subscribers (and the log, by field name only: never QuickBooks values) that a record
    /// was found edited in QuickBooks.
    func notifyDrift(_ record: MappingRecord) {
        guard let drift = record.drift else { return }
        hub.publish(
            topic: NotificationTopic.mappingDrift, org: record.org,
            params: MappingDriftNotice(
                org: record.org.rawValue, kind: record.kind.rawValue, localId: record.localID, qboId: record.qboID ?? "", changes: drift.changes,
                at: Timestamp.string(drift.detectedAt)
            )
        )
        var log = logger
        log[metadataKey: LogKey.org] = "\(record.org)"
        log.notice(
            "a record was edited in QuickBooks since qbsyncd pushed it",
            metadata: [LogKey.kind: "\(record.kind.rawValue)", LogKey.localID: "\(record.localID)", LogKey.fields: "\(drift.changes.map(\.field).joined(separator: ","))"]
        )
    }
}

extension SyncService {
    /// Whether a record found changed after a stale SyncToken (`current`) was edited in QuickBooks:
    /// only if it holds neither what was last pushed, nor what this push sets (an earlier attempt
    /// of it whose answer was lost), nor what an earlier update whose answer was lost set.
    static func isDrift(_ current: PushedFields, from existing: MappingRecord, intended: PushedFields) -> Bool {
        guard let pushed = existing.pushed else { return false }
        return !pushed.changes(to: current).isEmpty && !intended.changes(to: current).isEmpty
            && !existing.pendingUpdates.contains { $0.isHeld(by: current) }
    }
}
