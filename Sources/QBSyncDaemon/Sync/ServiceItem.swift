import Foundation
import QBOClient
import QBSyncCore
import QBSyncStore

/// The service item invoice lines name, and the references of an invoice that a QuickBooks user
/// made inactive (intuit-fidelity.md #5). Intuit renames an inactive item or customer
/// `"<name> (deleted)"`, leaves it out of default queries and frees its name; an invoice that
/// still names it is refused with 2500 (create) or 610 (update), and the fault does not say which
/// reference it was.
///
/// Choice: what qbsyncd uses is made active again (a sparse update restoring its name) rather than
/// replaced. The invoice being pushed shows the customer is still billed; one item keeps the
/// company's reports on one line, where a new item would leave a "(deleted)" twin after every
/// deactivation. An active item with the configured name (a user's) is adopted instead.
extension SyncService {
    /// The service item found or made, and whether it was made active again just now.
    struct ItemResolution: Sendable {
        var item: QBOItem
        var reactivated = false
    }

    /// Finds the service item by name, inactive ones included, makes an inactive one active
    /// again, or creates it; stores its id for the company.
    func findOrCreateItem(org: OrgID, realm: String, name: String, company: OrgCompany) async throws -> String {
        try await resolveItem(org: org, realm: realm, name: name, company: company, previous: nil).item.Id
    }

    /// ``findOrCreateItem(org:realm:name:company:)``, preferring `previous` (the id used so far)
    /// among inactive items.
    func resolveItem(org: OrgID, realm: String, name: String, company: OrgCompany, previous: String?) async throws -> ItemResolution {
        let incomeAccount = settings().incomeAccountName
        let resolution = try await company.call { client, session async throws(QBOClientError) -> ItemResolution in
            let realm = session.realmID
            let token = session.accessToken
            // A concurrent reactivation moves the SyncToken (5010): look again once.
            for attempt in 1...2 {
                let found = try await client.itemsNamedLike(name, realmID: realm, accessToken: token)
                if let active = Self.activeItem(found, named: name) { return ItemResolution(item: active) }
                let inactive = found.filter { $0.Active == false && $0.Name.map(AccountingClient.undeletedName) == name }
                guard let dormant = inactive.first(where: { $0.Id == previous }) ?? inactive.first else { break }
                do throws(QBOClientError) {
                    let item = try await client.reactivateItem(id: dormant.Id, syncToken: dormant.SyncToken ?? "0", name: name, realmID: realm, accessToken: token)
                    return ItemResolution(item: item, reactivated: true)
                } catch .rejected(let fault) where fault.code == "5010" && attempt == 1 {
                    continue
                }
            }
            do throws(QBOClientError) {
                return ItemResolution(item: try await client.createServiceItem(name: name, incomeAccount: incomeAccount, realmID: realm, accessToken: token))
            } catch .rejected(let fault) where fault.code == "6240" {
                // Made meanwhile by someone else (a user, another app): adopt it.
                guard let active = Self.activeItem(try await client.itemsNamedLike(name, realmID: realm, accessToken: token), named: name) else { throw .rejected(fault) }
                return ItemResolution(item: active)
            }
        }
        try await mappings.storeItem(realmID: realm, name: name, itemID: resolution.item.Id, incomeAccount: resolution.item.IncomeAccountRef?.name)
        return resolution
    }

    /// The active item with exactly this name (a `LIKE` lookup answers others too).
    static func activeItem(_ items: [QBOItem], named name: String) -> QBOItem? {
        items.first { $0.Active != false && $0.Name == name }
    }

    /// Runs an invoice push; after a 2500 or 610 (an inactive reference, or a deleted invoice),
    /// brings back the service item and the customer if a user made either inactive, and pushes
    /// once more. Called under the demand's lock.
    func recoveringInactiveReferences(org: OrgID, realm: String, developmentID: String, _ push: () async throws -> Mapping) async throws -> Mapping {
        do {
            return try await push()
        } catch let error as CompanyCallError where error.isFault("610") || error.isFault("2500") {
            guard try await reactivateReferences(org: org, realm: realm, developmentID: developmentID) else { throw error }
            return try await push()
        }
    }

    /// Makes the service item and the development's customer active again where a user made them
    /// inactive; true when either changed. The cached item id is not trusted after the refusal:
    /// the item is looked up again, inactive rows included (one query), and so is the customer
    /// (one read).
    private func reactivateReferences(org: OrgID, realm: String, developmentID: String) async throws -> Bool {
        let company = try self.company(org, realm: realm, reads: .event)
        var changed = false
        let name = settings().invoiceItemName
        if let cached = try await mappings.item(realmID: realm, name: name)?.id {
            let resolution = try await resolveItem(org: org, realm: realm, name: name, company: company, previous: cached)
            changed = resolution.reactivated || resolution.item.Id != cached
            if changed {
                var log = logger
                log[metadataKey: LogKey.org] = "\(org)"
                log.notice(
                    resolution.reactivated ? "made the service item a QuickBooks user had made inactive active again" : "the service item was replaced",
                    metadata: [LogKey.qboID: "\(resolution.item.Id)", LogKey.was: "\(cached)"]
                )
            }
        }
        if try await reactivateCustomer(org: org, realm: realm, developmentID: developmentID, company: company) { changed = true }
        return changed
    }

    /// Reads the development's customer; if a user made it inactive, makes it active again under
    /// the name qbsyncd last pushed (Intuit's " (deleted)" taken off otherwise) and records it.
    /// Under the development's lock, so no customer push crosses it (F9).
    func reactivateCustomer(org: OrgID, realm: String, developmentID: String, company: OrgCompany) async throws -> Bool {
        guard let mapping = try await mappings.find(org: org, realm: realm, kind: .development, localID: developmentID), let qboID = mapping.qboID else { return false }
        return try await entityLocks.run("\(org)|development|\(developmentID)") {
            let customer = try await company.call { client, session async throws(QBOClientError) -> QBOCustomer? in
                let current = try await client.readCustomer(id: qboID, realmID: session.realmID, accessToken: session.accessToken)
                guard current.Active == false else { return nil }
                let name = mapping.pushed?.values["DisplayName"]?.stringValue ?? AccountingClient.undeletedName(current.DisplayName)
                return try await client.reactivateCustomer(id: qboID, syncToken: current.SyncToken, displayName: name, realmID: session.realmID, accessToken: session.accessToken)
            }
            guard let customer else { return false }
            _ = try await recordCustomer(customer, org: org, realm: realm, localID: developmentID, hash: nil, pushed: false)
            var log = logger
            log[metadataKey: LogKey.org] = "\(org)"
            log.notice("made a customer a QuickBooks user had made inactive active again, to invoice it", metadata: [LogKey.localID: "\(developmentID)", LogKey.qboID: "\(qboID)"])
            return true
        }
    }
}
