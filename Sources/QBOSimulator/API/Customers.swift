import Foundation
import QBSyncCore

/// Customers (reference §2.3): DisplayName unique across names, never deleted (`Active:false`).
extension SimState {
    static let customerReadOnly: Set<String> = [
        "Id", "SyncToken", "MetaData", "FullyQualifiedName", "Balance", "BalanceWithJobs", "Level", "domain", "sparse", "time",
    ]

    mutating func saveCustomer(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        if raw.string("Id") != nil { return updateCustomer(raw, realmID: realmID) }
        var input = raw.cleanedInput(readOnly: Self.customerReadOnly)
        guard let displayName = Self.displayName(input) else { return IntuitFault.requiredMissing("DisplayName", now: now()) }
        if let problem = nameProblem(displayName, exceptID: nil, realmID: realmID) { return problem }
        let current = now()
        var company = companies[realmID]!
        let id = company.newID()
        companies[realmID] = company
        input["DisplayName"] = .string(displayName)
        input["Id"] = .string(id)
        input["SyncToken"] = "0"
        input["FullyQualifiedName"] = .string(displayName)
        if input["PrintOnCheckName"] == nil { input["PrintOnCheckName"] = .string(displayName) }
        if input["Active"] == nil { input["Active"] = true }
        input["Job"] = input["Job"] ?? false
        input["BillWithParent"] = input["BillWithParent"] ?? false
        input["Taxable"] = input["Taxable"] ?? false
        input["Balance"] = 0
        input["BalanceWithJobs"] = 0
        input["CurrencyRef"] = input["CurrencyRef"] ?? ["value": "USD", "name": "United States Dollar"]
        input["PreferredDeliveryMethod"] = input["PreferredDeliveryMethod"] ?? "Print"
        input["domain"] = "QBO"
        input["sparse"] = false
        input["MetaData"] = meta(created: current, updated: current)
        let stored = store("Customer", Company.Entity(body: input, updatedAt: current), realmID: realmID, operation: "Create", bumpSyncToken: false)
        return entityReply("Customer", stored.body)
    }

    private mutating func updateCustomer(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        let existing: Company.Entity
        do { existing = try checkedForUpdate("Customer", input: raw, realmID: realmID) } catch { return error.response }
        let input = raw.cleanedInput(readOnly: Self.customerReadOnly)
        let sparse = raw["sparse"]?.boolValue == true
        var body = existing.body
        if !sparse {
            // A full update clears every writable member it omits.
            for key in body.keys where !Self.customerReadOnly.contains(key) && key != "Active" { body.removeValue(forKey: key) }
        }
        for (key, value) in input { body[key] = value }
        guard let displayName = Self.displayName(body) else { return IntuitFault.requiredMissing("DisplayName", now: now()) }
        body["DisplayName"] = .string(displayName)
        body["FullyQualifiedName"] = .string(displayName)
        Self.applyActivation(previous: existing.body, body: &body, nameField: "DisplayName", named: input["DisplayName"] != nil)
        if body["Active"]?.boolValue != false, let problem = nameProblem(body.string("DisplayName") ?? displayName, exceptID: existing.body.string("Id"), realmID: realmID) {
            return problem
        }
        body["domain"] = "QBO"
        body["sparse"] = false
        var entity = existing
        entity.body = body
        let stored = store("Customer", entity, realmID: realmID, operation: body["Active"]?.boolValue == false ? "Delete" : "Update")
        return entityReply("Customer", stored.body)
    }

    /// DisplayName, or one built from the name parts as Intuit does.
    static func displayName(_ input: [String: JSONValue]) -> String? {
        if let name = input.string("DisplayName") { return name }
        let parts = ["Title", "GivenName", "MiddleName", "FamilyName", "Suffix"].compactMap { input.string($0) }
        return parts.isEmpty ? nil : parts.joined(separator: " ")
    }

    /// 6240 when another active customer (Intuit: also vendor or employee) already uses the name;
    /// inactive ones do not count (their names carry " (deleted)").
    private func nameProblem(_ name: String, exceptID: String?, realmID: String) -> SimResponse? {
        activeNameTaken("Customer", field: "DisplayName", name: name, exceptID: exceptID, realmID: realmID) ? IntuitFault.duplicateName(now: now()) : nil
    }
}
