public import Foundation
public import QBSyncCore

/// Items and customers a QuickBooks user made inactive: found again and brought back. Intuit
/// renames an inactive record `"<name> (deleted)"` and leaves it out of queries that do not ask
/// for `Active` (intuit-fidelity.md #5).
extension AccountingClient {
    public func readItem(id: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOItem {
        try decode(try await get("/v3/company/\(realmID)/item/\(id)", realmID: realmID, accessToken: accessToken), entity: "Item")
    }

    /// Items named `name` or a name that starts with it (`"<name> (deleted)"`), inactive ones too.
    public func itemsNamedLike(_ name: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> [QBOItem] {
        let sql = "SELECT * FROM Item WHERE Name LIKE \(Self.likePattern(name, suffix: "%")) AND Active IN (true, false) MAXRESULTS 1000"
        return try await query(sql, entity: "Item", as: QBOItem.self, realmID: realmID, accessToken: accessToken)
    }

    /// Makes an item active again under `name` (a sparse update: nothing else changes).
    public func reactivateItem(id: String, syncToken: String, name: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOItem {
        struct Update: Encodable {
            var Id: String
            var SyncToken: String
            var sparse = true
            var Active = true
            var Name: String
        }
        let body = try encode(Update(Id: id, SyncToken: syncToken, Name: name))
        return try decode(try await post("/v3/company/\(realmID)/item", body: body, accessToken: accessToken), entity: "Item")
    }

    /// Makes a customer active again under `displayName` (a sparse update: nothing else changes).
    public func reactivateCustomer(id: String, syncToken: String, displayName: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOCustomer {
        struct Update: Encodable {
            var Id: String
            var SyncToken: String
            var sparse = true
            var Active = true
            var DisplayName: String
        }
        let body = try encode(Update(Id: id, SyncToken: syncToken, DisplayName: displayName))
        return try decode(try await post("/v3/company/\(realmID)/customer", body: body, accessToken: accessToken), entity: "Customer")
    }

    /// A record's name with Intuit's deactivation suffix taken off.
    public static func undeletedName(_ name: String) -> String {
        name.hasSuffix(" (deleted)") ? String(name.dropLast(" (deleted)".count)) : name
    }
}
