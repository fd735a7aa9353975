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
        try await reactivate("Item", id: id, syncToken: syncToken, nameField: "Name", name: name, realmID: realmID, accessToken: accessToken)
    }

    /// Makes a customer active again under `displayName` (a sparse update: nothing else changes).
    public func reactivateCustomer(id: String, syncToken: String, displayName: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOCustomer {
        try await reactivate("Customer", id: id, syncToken: syncToken, nameField: "DisplayName", name: displayName, realmID: realmID, accessToken: accessToken)
    }

    /// A sparse update of a name-list record: `Active` true, and its name field as given.
    private func reactivate<Record: Decodable>(
        _ entity: String, id: String, syncToken: String, nameField: String, name: String, realmID: String, accessToken: Secret<String>
    ) async throws(QBOClientError) -> Record {
        let update = JSONValue.object(["Id": .string(id), "SyncToken": .string(syncToken), "sparse": true, "Active": true, nameField: .string(name)])
        let body = try encode(update)
        return try decode(try await post("/v3/company/\(realmID)/\(entity.lowercased())", body: body, accessToken: accessToken), entity: entity)
    }

    /// A record's name with Intuit's deactivation suffix taken off.
    public static func undeletedName(_ name: String) -> String {
        name.hasSuffix(" (deleted)") ? String(name.dropLast(" (deleted)".count)) : name
    }
}
