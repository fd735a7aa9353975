import Foundation
import QBSyncCore

/// Items: a sales line names one.
extension SimState {
    mutating func saveItem(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        let current = now()
        if let id = raw.string("Id") {
            var entity: Company.Entity
            do { entity = try checkedForUpdate("Item", input: raw, realmID: realmID) } catch { return error.response }
            let input = raw.cleanedInput(readOnly: ["Id", "SyncToken", "MetaData", "domain", "sparse", "FullyQualifiedName"])
            let previous = entity.body
            for (key, value) in input { entity.body[key] = value }
            if let name = input.string("Name") { entity.body["FullyQualifiedName"] = .string(name) }
            Self.applyActivation(previous: previous, body: &entity.body, nameField: "Name", named: input["Name"] != nil)
            if entity.body["Active"]?.boolValue != false, let name = entity.body.string("Name"),
                activeNameTaken("Item", field: "Name", name: name, exceptID: id, realmID: realmID)
            {
                return Self.duplicateItemName(name, now: current)
            }
            return entityReply("Item", store("Item", entity, realmID: realmID, operation: "Update").body)
        }
        var body = raw.cleanedInput(readOnly: ["Id", "SyncToken", "MetaData", "domain", "sparse", "FullyQualifiedName"])
        guard let name = body.string("Name") else { return IntuitFault.requiredMissing("Name", now: current) }
        if activeNameTaken("Item", field: "Name", name: name, exceptID: nil, realmID: realmID) { return Self.duplicateItemName(name, now: current) }
        let type = body.string("Type") ?? "Service"
        guard ["Service", "NonInventory"].contains(type) else {
            return IntuitFault.requestValidation("Item Type \(type) is not supported here", now: current)
        }
        guard let accountID = body.refID("IncomeAccountRef") else { return IntuitFault.requiredMissing("IncomeAccountRef", now: current) }
        guard let account = companies[realmID]!.entities["Account"]?[accountID], !account.deleted else {
            return IntuitFault.invalidReference("IncomeAccountRef", id: accountID, now: current)
        }
        var company = companies[realmID]!
        let id = company.newID()
        companies[realmID] = company
        body["Id"] = .string(id)
        body["SyncToken"] = "0"
        body["Type"] = .string(type)
        body["FullyQualifiedName"] = .string(name)
        body["IncomeAccountRef"] = ["value": .string(accountID), "name": account.body["Name"] ?? .null]
        body["Active"] = body["Active"] ?? true
        body["domain"] = "QBO"
        body["sparse"] = false
        body["MetaData"] = meta(created: current, updated: current)
        return entityReply("Item", store("Item", Company.Entity(body: body, updatedAt: current), realmID: realmID, operation: "Create", bumpSyncToken: false).body)
    }

    /// 6240 for an item name an active item has.
    static func duplicateItemName(_ name: String, now: Date) -> SimResponse {
        IntuitFault.data(.badRequest, code: "6240", message: "Duplicate Name Exists Error", detail: "The name supplied already exists. : \(name)", now: now)
    }
}
