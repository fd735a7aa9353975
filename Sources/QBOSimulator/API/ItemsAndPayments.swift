import Foundation
import QBSyncCore

/// Items (a sales line names one) and payments (they lower invoice balances, linked both ways).
extension SimState {
    mutating func saveItem(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        let current = now()
        if let id = raw.string("Id") {
            var entity: Company.Entity
            do { entity = try checkedForUpdate("Item", input: raw, realmID: realmID) } catch { return error.response }
            for (key, value) in raw.cleanedInput(readOnly: ["Id", "SyncToken", "MetaData", "domain", "sparse"]) { entity.body[key] = value }
            _ = id
            return entityReply("Item", store("Item", entity, realmID: realmID, operation: "Update").body)
        }
        var body = raw.cleanedInput(readOnly: ["Id", "SyncToken", "MetaData", "domain", "sparse", "FullyQualifiedName"])
        guard let name = body.string("Name") else { return IntuitFault.requiredMissing("Name", now: current) }
        if companies[realmID]!.live("Item").contains(where: { $0.body.string("Name")?.lowercased() == name.lowercased() }) {
            return IntuitFault.data(.badRequest, code: "6240", message: "Duplicate Name Exists Error", detail: "The name supplied already exists. : \(name)", now: current)
        }
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

    /// Creates a payment and applies each line to the invoice its `LinkedTxn` names.
    mutating func savePayment(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        let current = now()
        guard raw.string("Id") == nil else {
            return IntuitFault.businessValidation("Payment updates are not supported by this simulator.", now: current)
        }
        var body = raw.cleanedInput(readOnly: ["Id", "SyncToken", "MetaData", "domain", "sparse", "UnappliedAmt"])
        guard let customerID = body.refID("CustomerRef") else { return IntuitFault.requiredMissing("CustomerRef", now: current) }
        guard let customer = companies[realmID]!.entities["Customer"]?[customerID], !customer.deleted else {
            return IntuitFault.invalidReference("CustomerRef", id: customerID, now: current)
        }
        guard let total = Money.cents(body["TotalAmt"]), total > 0 else { return IntuitFault.requiredMissing("TotalAmt", now: current) }
        var applications: [(invoiceID: String, cents: Int)] = []
        for case .object(let line) in body["Line"]?.arrayValue ?? [] {
            guard let amount = Money.cents(line["Amount"]), amount > 0 else { return IntuitFault.requiredMissing("Line.Amount", now: current) }
            for case .object(let link) in line["LinkedTxn"]?.arrayValue ?? [] where link.string("TxnType") == "Invoice" {
                guard let invoiceID = link.string("TxnId") else { return IntuitFault.requiredMissing("Line.LinkedTxn.TxnId", now: current) }
                guard let invoice = companies[realmID]!.entities["Invoice"]?[invoiceID], !invoice.deleted, !invoice.voided,
                    invoice.body.refID("CustomerRef") == customerID
                else { return IntuitFault.invalidReference("Line.LinkedTxn.TxnId", id: invoiceID, now: current) }
                guard amount <= (Money.cents(invoice.body["Balance"]) ?? 0) else {
                    return IntuitFault.businessValidation("The payment amount is more than the open balance of invoice \(invoiceID).", now: current)
                }
                applications.append((invoiceID, amount))
            }
        }
        let applied = applications.reduce(0) { $0 + $1.cents }
        guard applied <= total else { return IntuitFault.businessValidation("The lines add up to more than the payment's TotalAmt.", now: current) }
        var company = companies[realmID]!
        let id = company.newID()
        companies[realmID] = company
        body["Id"] = .string(id)
        body["SyncToken"] = "0"
        body["CustomerRef"] = ["value": .string(customerID), "name": customer.body["DisplayName"] ?? .null]
        body["TotalAmt"] = Money.json(total)
        body["UnappliedAmt"] = Money.json(total - applied)
        body["TxnDate"] = body["TxnDate"] ?? .string(IntuitTime.day(current))
        body["Line"] = .array(applications.map { ["Amount": Money.json($0.cents), "LinkedTxn": [["TxnId": .string($0.invoiceID), "TxnType": "Invoice"]]] })
        body["CurrencyRef"] = ["value": "USD", "name": "United States Dollar"]
        body["domain"] = "QBO"
        body["sparse"] = false
        body["MetaData"] = meta(created: current, updated: current)
        let payment = store("Payment", Company.Entity(body: body, updatedAt: current), realmID: realmID, operation: "Create", bumpSyncToken: false)
        for (invoiceID, cents) in applications {
            var invoice = companies[realmID]!.entities["Invoice"]![invoiceID]!
            invoice.body["Balance"] = Money.json((Money.cents(invoice.body["Balance"]) ?? 0) - cents)
            invoice.body["LinkedTxn"] = .array((invoice.body["LinkedTxn"]?.arrayValue ?? []) + [["TxnId": .string(id), "TxnType": "Payment"]])
            _ = store("Invoice", invoice, realmID: realmID, operation: "Update")
        }
        return entityReply("Payment", payment.body)
    }
}
