import Foundation
import QBSyncCore
import QBSyncStore

/// `invoice.explain`: why an invoice has its status. Every push, delivery, event, change-feed
/// row, read and Overdue pass that touched it, oldest first, and the rule that gives the status.
struct InvoiceExplainMethod: RPCMethod {
    typealias Call = InvoiceExplainCall
    typealias Result = Call.Result
    static let access = RPCAccess.read
    let mappings: any MappingStore
    let history: any InvoiceHistoryStore

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        guard let record = try await mappings.find(org: params.org, kind: .demand, localID: params.demandId), let qboID = record.qboID else {
            throw QBSyncError.notFound(what: "demand \(params.demandId)")
        }
        let rows = try await history.history(org: params.org, demandID: params.demandId)
        var events: [InvoiceEventRecord] = []
        if let realmID = record.realmID { events = try await history.events(realmID: realmID, qboID: qboID) }
        // Ordered by time, then delivery before its events before the state changes they led to.
        var chain: [(at: Date, rank: Int, id: Int64, entry: JSONValue)] = rows.map { ($0.at, 2, $0.id, Self.entry($0)) }
        var deliveries = Set<Int64>()
        for item in events {
            if deliveries.insert(item.deliveryID).inserted {
                let delivery: JSONValue = [
                    "at": .string(Timestamp.string(item.deliveryReceivedAt)), "kind": "delivery", "deliveryId": .int(item.deliveryID),
                    "format": .string(item.deliveryFormat),
                ]
                chain.append((item.deliveryReceivedAt, 0, item.deliveryID, delivery))
            }
            var event = item.event.event
            if case .object(var fields) = event {
                fields["eventId"] = fields["id"]
                fields["kind"] = "event"
                fields["at"] = fields["receivedAt"]
                event = .object(fields)
            }
            chain.append((item.event.receivedAt, 1, item.event.id, event))
        }
        chain.sort { ($0.at, $0.rank, $0.id) < ($1.at, $1.rank, $1.id) }
        let rebuilt = rows.last?.rebuilt
        return Result(
            mapping: record.mapping, status: record.status.rawValue, rule: rebuilt?.rule ?? "no history: nothing explains the stored status",
            rebuilt: rebuilt?.status.rawValue, chain: chain.map(\.entry)
        )
    }

    /// One state change: what it stored, and the rule its facts give.
    static func entry(_ row: InvoiceHistoryRow) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let changes: JSONValue = row.changes.map { .array($0.map { ["field": .string($0.field), "pushed": $0.pushed, "now": $0.now] }) } ?? .null
        return [
            "at": .string(Timestamp.string(row.at)), "kind": .string(row.kind), "status": .string(row.status.rawValue), "rule": .string(row.rebuilt.rule),
            "qboId": .string(row.qboID), "syncToken": text(row.syncToken), "requestId": text(row.requestID),
            "contentHash": text(row.contentHash.map { $0.map { String(format: "%02x", $0) }.joined() }), "totalAmount": text(row.total?.description),
            "balance": text(row.balance?.description), "dueDate": text(row.dueDate), "docNumber": text(row.docNumber), "qboState": .string(row.qboState.rawValue),
            "qboUpdatedAt": text(row.qboUpdatedAt.map(Timestamp.string)), "changes": changes, "detail": text(row.detail),
        ]
    }
}

/// `audit.verify`: rebuilds every invoice status from the append-only history alone and lists
/// those that differ from the stored status. The rebuild reads `qb_invoice_history` only, so
/// archiving old webhook deliveries never makes it differ; it also checks the archive files.
struct AuditVerifyMethod: RPCMethod {
    typealias Call = AuditVerifyCall
    typealias Result = Call.Result
    typealias Mismatch = AuditVerifyCall.Mismatch
    typealias Archives = AuditVerifyCall.Archives
    static let access = RPCAccess.read
    let history: any InvoiceHistoryStore
    let archives: any LogArchiveStore

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        let invoices = try await history.latest(org: params.org)
        var mismatches: [Mismatch] = []
        for invoice in invoices {
            let rebuilt = invoice.latest?.rebuilt
            if rebuilt?.status != invoice.stored {
                mismatches.append(Mismatch(org: invoice.org.rawValue, demandId: invoice.demandID, stored: invoice.stored.rawValue, rebuilt: rebuilt?.status.rawValue, rule: rebuilt?.rule))
            }
        }
        if !mismatches.isEmpty {
            context.logger.warning("audit.verify found stored invoice statuses the history does not give", metadata: [LogKey.checked: "\(invoices.count)", LogKey.mismatches: "\(mismatches.count)"])
        }
        let checks = try await archives.verify()
        let mismatched = checks.filter { $0.outcome == .mismatched }
        if !mismatched.isEmpty {
            context.logger.error("audit.verify found webhook log archives that differ from their record", metadata: [LogKey.mismatched: "\(mismatched.count)"])
        }
        return Result(
            checked: invoices.count, mismatches: mismatches,
            archives: Archives(
                checked: checks.count, verified: checks.count { $0.outcome == .verified }, missing: checks.filter { $0.outcome == .missing }.map(\.archive.file),
                mismatched: mismatched.map { ["id": .int($0.archive.id), "file": .string($0.archive.file), "reason": .string($0.detail ?? "")] }
            )
        )
    }
}
