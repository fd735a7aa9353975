import Foundation
import QBOClient
import QBSyncCore
import QBSyncStore

/// Demands as QuickBooks invoices, and every read that updates their status. Each stored change
/// appends a row to the invoice's history (`invoice.explain`, `audit.verify`).
extension SyncService {
    /// `invoice.sync`. An invoice edited in QuickBooks since the last push is not overwritten
    /// (`conflict` with the changes) unless `force` is set; a voided or deleted one never is.
    /// Pushes and reads of one demand run one at a time, in the org's current company only.
    func syncInvoice(org: OrgID, demand: DemandInput, force: Bool = false) async throws -> Mapping {
        try demand.validate()
        let realm = try await access.currentRealm(org)
        return try await entityLocks.run(Self.lockKey(org, demand.id)) {
            try await recoveringInactiveReferences(org: org, realm: realm, developmentID: demand.developmentId) {
                try await pushInvoice(org: org, realm: realm, demand: demand, force: force)
            }
        }
    }

    static func lockKey(_ org: OrgID, _ demandID: String) -> String { "\(org)|demand|\(demandID)" }

    private func pushInvoice(org: OrgID, realm: String, demand: DemandInput, force: Bool) async throws -> Mapping {
        let company = try self.company(org, realm: realm)
        guard let customer = try await mappings.find(org: org, realm: realm, kind: .development, localID: demand.developmentId), let customerID = customer.qboID else {
            throw QBSyncError.customerNotSynced(org: org, developmentID: demand.developmentId)
        }
        let existing = try await mappings.find(org: org, realm: realm, kind: .demand, localID: demand.id)
        if let existing, existing.qboState != .active {
            throw QBSyncError.conflict(
                detail: "the invoice of demand \(demand.id) is \(existing.qboState.rawValue) in QuickBooks and cannot be updated",
                changes: existing.drift?.changes ?? [FieldChange(field: "status", pushed: "Active", now: .string(existing.qboState == .voided ? "Voided" : "Deleted"))]
            )
        }
        if let existing, existing.qboID != nil, let drift = existing.drift, !force { throw Self.driftConflict(existing, changes: drift.changes) }
        let itemName = settings().invoiceItemName
        let hash = SyncValidation.contentHash(demand, extra: customerID + "|" + itemName)
        if let existing, existing.qboID != nil, existing.contentHash == hash, !force { return existing.mapping }
        let itemID = try await serviceItem(org: org, realm: realm, name: itemName, company: company)
        let payload = InvoicePayload(
            customerID: customerID, docNumber: demand.docNumber, txnDate: demand.txnDate, dueDate: demand.dueDate, memo: demand.memo,
            privateNote: Self.invoiceMarker(demand.id), lines: demand.lines.map { InvoicePayload.Line(amount: $0.amount, description: $0.description, itemID: itemID) }
        )
        // A create's requestid is stored before the call; an update gets its own (a second after a stale SyncToken).
        let intent = existing?.qboID == nil
            ? try await mappings.intendCreate(
                org: org, realm: realm, kind: .demand, localID: demand.id, developmentID: demand.developmentId, contentHash: hash, now: Date()
            ) : nil
        if let existing, existing.qboID != nil {
            try await mappings.intendUpdate(org: org, realm: realm, kind: .demand, localID: demand.id, update: PendingUpdate(payload.intendedFields))
        }
        let hadPending = intent?.isNew == false
        let requestID = intent?.requestID ?? UUID().uuidString.lowercased()
        let retryRequestID = UUID().uuidString.lowercased()
        do {
            let outcome = try await company.call { client, session async throws(QBOClientError) -> PushOutcome<QBOInvoice> in
                let realm = session.realmID
                let token = session.accessToken
                if let existing, let qboID = existing.qboID {
                    var update = payload.sparseUpdate(of: qboID, at: existing.syncToken)
                    do throws(QBOClientError) {
                        return .saved(try await client.saveInvoice(update, realmID: realm, requestID: requestID, accessToken: token), requestID: requestID)
                    } catch .rejected(let fault) where fault.code == "5010" {
                        // Changed since the last push: a payment (not drift), or an edit made in QuickBooks.
                        let current = try await client.readInvoice(id: qboID, realmID: realm, accessToken: token)
                        if current.isVoided { return .drifted(current) }
                        if !force, Self.isDrift(current.pushedFields, from: existing, intended: update.intendedFields) { return .drifted(current) }
                        update.SyncToken = current.SyncToken
                        return .saved(try await client.saveInvoice(update, realmID: realm, requestID: retryRequestID, accessToken: token), requestID: retryRequestID)
                    }
                }
                // A create that was in flight before (a crash, or an outage longer than Intuit keeps
                // requestids): look for the invoice it may have made before sending it again.
                var created: QBOInvoice?
                if hadPending, let docNumber = demand.docNumber {
                    let sql = "SELECT * FROM Invoice WHERE \(AccountingClient.condition("DocNumber", equals: docNumber))"
                    let found = try await client.query(sql, entity: "Invoice", as: QBOInvoice.self, realmID: realm, accessToken: token)
                    created = found.first(where: { $0.PrivateNote == payload.PrivateNote })
                }
                let adopted = created != nil
                let answer: QBOInvoice
                if let created { answer = created } else { answer = try await client.saveInvoice(payload, realmID: realm, requestID: requestID, accessToken: token) }
                // An earlier attempt's invoice (Intuit's answer to a repeated requestid, or found again)
                // holds that attempt's amounts: this push's content follows as an update (F9).
                guard Self.holdsEarlierContent(intent: intent, hash: hash, adopted: adopted, differs: !payload.intendedFields.changes(to: answer.pushedFields).isEmpty) else {
                    return .saved(answer, requestID: requestID)
                }
                let update = payload.sparseUpdate(of: answer.Id, at: answer.SyncToken)
                return .saved(try await client.saveInvoice(update, realmID: realm, requestID: retryRequestID, accessToken: token), requestID: retryRequestID)
            }
            switch outcome {
            case .drifted(let current):
                let note = HistoryNote(kind: .read, detail: "re-read after a stale SyncToken: edited in QuickBooks since the last push; the push was not sent")
                let record = try await record(current, org: org, realm: realm, demandID: demand.id, developmentID: nil, hash: nil, note: note)
                if current.isVoided {
                    throw QBSyncError.conflict(
                        detail: "the invoice of demand \(demand.id) was voided in QuickBooks and cannot be updated",
                        changes: record.drift?.changes ?? [FieldChange(field: "status", pushed: "Active", now: "Voided")]
                    )
                }
                throw Self.driftConflict(record, changes: record.drift?.changes ?? [])
            case .saved(let invoice, let sentID):
                let note = HistoryNote(kind: .push, requestID: sentID, detail: force ? (existing?.drift != nil ? "force:true, overwrote an edit made in QuickBooks" : "force:true") : nil)
                return try await record(invoice, org: org, realm: realm, demandID: demand.id, developmentID: demand.developmentId, hash: hash, note: note, pushed: true).mapping
            }
        } catch where Self.isAnswer(error) {
            throw try await conflictIfGone(error, org: org, realm: realm, demandID: demand.id, existing: existing)
        } catch {
            try? await mappings.recordError(org: org, realm: realm, kind: .demand, localID: demand.id, error: Self.describe(error), now: Date())  // try?: the push's own error is what the caller needs
            throw error
        }
    }

    /// Reads the invoice from QuickBooks and updates its balance and status (an operator's
    /// `invoice.refresh`, or the pipeline's direct read), under the demand's lock.
    func refreshInvoice(org: OrgID, realm: String? = nil, demandID: String, readClass: ReadClass = .operator) async throws -> Mapping {
        let realm = if let realm { realm } else { try await access.currentRealm(org) }
        return try await entityLocks.run(Self.lockKey(org, demandID)) {
            try await readInvoice(org: org, realm: realm, demandID: demandID, readClass: readClass)
        }
    }

    /// ``refreshInvoice(org:realm:demandID:readClass:)`` for a caller that holds the demand's lock.
    private func readInvoice(org: OrgID, realm: String, demandID: String, readClass: ReadClass) async throws -> Mapping {
        let company = try self.company(org, realm: realm, reads: readClass)
        guard let existing = try await mappings.find(org: org, realm: realm, kind: .demand, localID: demandID), let qboID = existing.qboID else {
            throw QBSyncError.notFound(what: "demand \(demandID)")
        }
        let kind: InvoiceHistoryKind = readClass == .operator ? .refresh : .read
        do {
            let invoice = try await company.call { client, session async throws(QBOClientError) -> QBOInvoice in
                return try await client.readInvoice(id: qboID, realmID: session.realmID, accessToken: session.accessToken)
            }
            return try await record(invoice, org: org, realm: realm, demandID: demandID, developmentID: nil, hash: nil, note: HistoryNote(kind: kind)).mapping
        } catch let error as CompanyCallError where error.isFault("610") {
            return try await markGone(existing, state: .deleted, note: HistoryNote(kind: kind, detail: "QuickBooks answered 610: the invoice was deleted")).mapping
        }
    }

    /// Applies a change from the feed to its mapping, without reading the invoice again.
    func apply(_ row: CDCInvoice, to mapping: MappingRecord) async throws -> Mapping {
        try await entityLocks.run(Self.lockKey(mapping.org, mapping.localID)) {
            if row.isDeleted { return try await markGone(mapping, state: .deleted, note: HistoryNote(kind: .feed, detail: "deleted in QuickBooks")).mapping }
            guard let invoice = row.invoice else { return mapping.mapping }
            return try await record(
                invoice, org: mapping.org, realm: mapping.realmID ?? "", demandID: mapping.localID, developmentID: nil, hash: nil, note: HistoryNote(kind: .feed)
            ).mapping
        }
    }

    /// Records an invoice as QuickBooks answered a push (its fields become the fingerprint) or a
    /// read (compared with it: drift), with its history row; notifies a status change and a drift.
    private func record(
        _ invoice: QBOInvoice, org: OrgID, realm: String, demandID: String, developmentID: String?, hash: Data?, note: HistoryNote, pushed: Bool = false
    ) async throws -> MappingRecord {
        guard let total = Money(exactly: invoice.TotalAmt), let balance = Money(exactly: invoice.Balance) else {
            throw CompanyCallError(org: org, error: .unavailable("QuickBooks answered an amount that is not a two-place decimal"))
        }
        // One instant for the status and its history row, so the history rebuilds the same status.
        let now = Date()
        let voided = invoice.isVoided
        let status = EntityStatus.invoice(total: total, balance: balance, dueDate: invoice.DueDate, voided: voided, today: Self.today(now))
        var state = SyncedState(
            qboID: invoice.Id, syncToken: invoice.SyncToken, status: status, docNumber: invoice.DocNumber, total: total, balance: balance, dueDate: invoice.DueDate,
            qboState: voided ? .voided : .active, contentHash: hash, qboUpdatedAt: invoice.MetaData?.lastUpdated
        )
        if pushed { state.pushed = invoice.pushedFields } else { state.observed = invoice.pushedFields }
        state.history = note
        let result = try await mappings.recordSynced(org: org, realm: realm, kind: .demand, localID: demandID, state: state, developmentID: developmentID, now: now)
        if let previous = result.previous, previous != status { notify(result.record, from: previous) }
        if result.driftFound { notifyDrift(result.record) }
        return result.record
    }

    /// An update refused because the invoice was deleted or voided is a `conflict`; any other
    /// refusal (a 610 for an inactive customer or item among them) stays what Intuit said.
    private func conflictIfGone(_ error: any Error, org: OrgID, realm: String, demandID: String, existing: MappingRecord?) async throws -> any Error {
        guard let existing, existing.qboID != nil, Self.isRefusal(error) else {
            try? await mappings.recordError(org: org, realm: realm, kind: .demand, localID: demandID, error: Self.describe(error), refused: Self.isRefusal(error), now: Date())  // try?: the push's own error is what the caller needs
            return error
        }
        // Voided or deleted in QuickBooks, or, for a 610, perhaps only a customer or item made
        // inactive (Intuit answers both with 610): the invoice is read to know. A read's 610 does
        // mean deleted (refreshInvoice records it).
        guard let refreshed = try? await readInvoice(org: org, realm: realm, demandID: demandID, readClass: .event), refreshed.status == .voided,  // try?: an unreadable invoice keeps Intuit's refusal
            let gone = try await mappings.find(org: org, realm: realm, kind: .demand, localID: demandID)
        else {
            try? await mappings.recordError(org: org, realm: realm, kind: .demand, localID: demandID, error: Self.describe(error), now: Date())  // try?: the push's own error is what the caller needs
            return error
        }
        return QBSyncError.conflict(detail: "the invoice of demand \(demandID) was voided or deleted in QuickBooks and cannot be updated", changes: gone.drift?.changes ?? [])
    }

    /// Records that QuickBooks no longer has the invoice (Voided, with a `status` drift).
    private func markGone(_ existing: MappingRecord, state qboState: QBOState, note: HistoryNote) async throws -> MappingRecord {
        var state = SyncedState(
            qboID: existing.qboID!, syncToken: existing.syncToken ?? "0", status: .voided, docNumber: existing.docNumber, total: existing.total,
            balance: existing.balance, dueDate: existing.dueDate, qboState: qboState, contentHash: nil
        )
        if var observed = existing.pushed {
            observed.values["status"] = .string(qboState == .voided ? "Voided" : "Deleted")
            state.observed = observed
        }
        state.history = note
        let result = try await mappings.recordSynced(org: existing.org, realm: existing.realmID ?? "", kind: .demand, localID: existing.localID, state: state, now: Date())
        if let previous = result.previous, previous != .voided { notify(result.record, from: previous) }
        if result.driftFound { notifyDrift(result.record) }
        return result.record
    }
}
