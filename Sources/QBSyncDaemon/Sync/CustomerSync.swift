import Foundation
import QBOClient
import QBSyncCore
import QBSyncStore

/// Developments as QuickBooks customers.
extension SyncService {
    /// `customer.sync`. A customer edited in QuickBooks since the last push is not overwritten
    /// (`conflict` with the changes) unless `force` is set. Pushes of one development run one
    /// at a time, in the org's current company only.
    func syncCustomer(org: OrgID, development: DevelopmentInput, force: Bool = false) async throws -> Mapping {
        try development.validate()
        let realm = try await access.currentRealm(org)
        return try await entityLocks.run("\(org)|development|\(development.id)") {
            try await pushCustomer(org: org, realm: realm, development: development, force: force)
        }
    }

    private func pushCustomer(org: OrgID, realm: String, development: DevelopmentInput, force: Bool) async throws -> Mapping {
        let company = try self.company(org, realm: realm)
        let hash = SyncValidation.contentHash(development)
        let existing = try await mappings.find(org: org, realm: realm, kind: .development, localID: development.id)
        if let existing, existing.qboID != nil {
            if let drift = existing.drift, !force { throw Self.driftConflict(existing, changes: drift.changes) }
            if existing.contentHash == hash, !force { return existing.mapping }
        }

        let address = development.address.map {
            CustomerPayload.Address(line1: $0.line1, line2: $0.line2, city: $0.city, region: $0.region, postalCode: $0.postalCode, country: $0.country)
        }
        let base = CustomerPayload(displayName: development.name.trimmingCharacters(in: .whitespaces), email: development.email, phone: development.phone, address: address, notes: Self.customerMarker(development.id))
        // A create's requestid is stored before the call; an update gets its own (a second after a stale SyncToken).
        let intent = existing?.qboID == nil
            ? try await mappings.intendCreate(org: org, realm: realm, kind: .development, localID: development.id, developmentID: nil, contentHash: hash, now: Date()) : nil
        if let existing, existing.qboID != nil {
            try await mappings.intendUpdate(org: org, realm: realm, kind: .development, localID: development.id, update: PendingUpdate(base.intendedFields))
        }
        let requestID = intent?.requestID ?? UUID().uuidString.lowercased()
        let retryRequestID = UUID().uuidString.lowercased()
        do {
            let outcome = try await company.call { client, session async throws(QBOClientError) -> PushOutcome<QBOCustomer> in
                if let existing, let qboID = existing.qboID {
                    var update = base.sparseUpdate(of: qboID, at: existing.syncToken)
                    do throws(QBOClientError) {
                        return .saved(try await client.saveCustomer(update, realmID: session.realmID, requestID: requestID, accessToken: session.accessToken), requestID: requestID)
                    } catch .rejected(let fault) where fault.code == "5010" {
                        let current = try await client.readCustomer(id: qboID, realmID: session.realmID, accessToken: session.accessToken)
                        if !force, Self.isDrift(current.pushedFields, from: existing, intended: update.intendedFields) { return .drifted(current) }
                        update.SyncToken = current.SyncToken
                        return .saved(
                            try await client.saveCustomer(update, realmID: session.realmID, requestID: retryRequestID, accessToken: session.accessToken),
                            requestID: retryRequestID
                        )
                    }
                }
                let created: QBOCustomer
                var adopted = false
                do throws(QBOClientError) {
                    created = try await client.saveCustomer(base, realmID: session.realmID, requestID: requestID, accessToken: session.accessToken)
                } catch .rejected(let fault) where fault.code == "6240" {
                    // The name is taken. Only a customer this daemon made (its marker in Notes: a create
                    // whose answer was lost) is adopted; anyone else's is never taken over.
                    let sql = "SELECT * FROM Customer WHERE \(AccountingClient.condition("DisplayName", equals: base.DisplayName))"
                    let found = try await client.query(sql, entity: "Customer", as: QBOCustomer.self, realmID: session.realmID, accessToken: session.accessToken)
                    guard let ours = found.first(where: { $0.Notes == base.Notes }) else { throw .rejected(fault) }
                    created = ours
                    adopted = true
                }
                // An earlier attempt's customer (Intuit's answer to a repeated requestid, or found again)
                // holds that attempt's content: this push's content follows as an update (F9).
                guard Self.holdsEarlierContent(intent: intent, hash: hash, adopted: adopted, differs: !base.intendedFields.changes(to: created.pushedFields).isEmpty) else {
                    return .saved(created, requestID: requestID)
                }
                let update = base.sparseUpdate(of: created.Id, at: created.SyncToken)
                return .saved(
                    try await client.saveCustomer(update, realmID: session.realmID, requestID: retryRequestID, accessToken: session.accessToken),
                    requestID: retryRequestID
                )
            }
            switch outcome {
            case .drifted(let current):
                let record = try await recordCustomer(current, org: org, realm: realm, localID: development.id, hash: nil, pushed: false)
                throw Self.driftConflict(record, changes: record.drift?.changes ?? [])
            case .saved(let customer, _):
                return try await recordCustomer(customer, org: org, realm: realm, localID: development.id, hash: hash, pushed: true).mapping
            }
        } catch {
            try? await mappings.recordError(org: org, realm: realm, kind: .development, localID: development.id, error: Self.describe(error), refused: Self.isRefusal(error), now: Date())  // try?: the push's own error is what the caller needs
            throw error
        }
    }

    /// Stores a customer as QuickBooks answered a push (its fields become the fingerprint) or a
    /// read (compared with the fingerprint: drift), and notifies a drift found.
    func recordCustomer(_ customer: QBOCustomer, org: OrgID, realm: String, localID: String, hash: Data?, pushed: Bool) async throws -> MappingRecord {
        var state = SyncedState(
            qboID: customer.Id, syncToken: customer.SyncToken, status: .synced, docNumber: nil, total: nil, balance: nil, dueDate: nil, qboState: .active,
            contentHash: hash, qboUpdatedAt: customer.MetaData?.lastUpdated
        )
        if pushed { state.pushed = customer.pushedFields } else { state.observed = customer.pushedFields }
        let result = try await mappings.recordSynced(org: org, realm: realm, kind: .development, localID: localID, state: state, now: Date())
        if result.driftFound { notifyDrift(result.record) }
        return result.record
    }

    /// Settles a webhook event about a customer; nil when qbsyncd does not sync that customer (the
    /// triage decides). qbsyncd's own write needs nothing; anyone else's change is read (one
    /// metered read) and compared with what qbsyncd last pushed, which marks any drift.
    func settleCustomerEvent(_ event: EventRecord, org: OrgID) async throws -> (status: String, resolution: String?, error: String?)? {
        let qboID = event.fact.entityID
        let realm = event.realmID
        guard let mapping = try await mappings.findByQBOID(org: org, realm: realm, qboType: "Customer", qboID: qboID) else { return nil }
        if let time = event.fact.lastUpdated.flatMap(IntuitTime.parse), let stored = mapping.qboUpdatedAt,
            time.timeIntervalSince1970.rounded(.down) <= stored.timeIntervalSince1970
        {
            return ("processed", "qbsyncd's own write or an earlier read (SyncToken \(mapping.syncToken ?? "?")): no read", nil)
        }
        guard mapping.pushed != nil else {
            return ("processed", "not read: the customer was pushed before qbsyncd kept what it pushed; the next customer.sync compares", nil)
        }
        do {
            let company = try self.company(org, realm: realm, reads: .event)
            // Under the development's lock: a push in flight and this read never cross (F9).
            let record = try await entityLocks.run("\(org)|development|\(mapping.localID)") {
                let customer = try await company.call { client, session async throws(QBOClientError) -> QBOCustomer in
                    try await client.readCustomer(id: qboID, realmID: session.realmID, accessToken: session.accessToken)
                }
                return try await recordCustomer(customer, org: org, realm: realm, localID: mapping.localID, hash: nil, pushed: false)
            }
            let found = record.drift.map { "edited in QuickBooks (\($0.changes.map(\.field).joined(separator: ", ")))" } ?? "as qbsyncd pushed it"
            return ("processed", "read customer \(qboID): \(found)", nil)
        } catch where Self.isAnswer(error) {
            return ("failed", nil, "the customer could not be read: \(Self.describe(error)); the next customer.sync compares it with QuickBooks")
        }
    }
}
