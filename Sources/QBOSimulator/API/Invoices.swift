import Foundation
import QBSyncCore

/// Invoices (reference §2.4, §2.6): server-computed totals, lines and defaults; SyncToken checks;
/// sparse and full updates; void and delete.
extension SimState {
    static let invoiceReadOnly: Set<String> = [
        "Id", "SyncToken", "MetaData", "TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "domain", "sparse", "LinkedTxn", "time",
        "InvoiceLink", "TxnTaxDetail",
    ]

    mutating func saveInvoice(_ raw: [String: JSONValue], realmID: String, operation: String?) -> SimResponse {
        switch operation {
        case "void": return voidInvoice(raw, realmID: realmID)
        case "delete": return deleteInvoice(raw, realmID: realmID)
        case "update", nil: break
        default: return IntuitFault.requestValidation("Unsupported operation \(operation ?? "")", now: now())
        }
        if raw.string("Id") != nil { return updateInvoice(raw, realmID: realmID) }
        let current = now()
        var body = raw.cleanedInput(readOnly: Self.invoiceReadOnly)
        switch normalise(&body, realmID: realmID, previous: nil) {
        case .failure(let failure): return failure.response
        case .success: break
        }
        var company = companies[realmID]!
        let id = company.newID()
        if body.string("DocNumber") == nil {
            body["DocNumber"] = .string(String(company.nextDocNumber))
            company.nextDocNumber += 1
        }
        companies[realmID] = company
        body["Id"] = .string(id)
        body["SyncToken"] = "0"
        body["LinkedTxn"] = []
        body["EmailStatus"] = body["EmailStatus"] ?? "NotSet"
        body["PrintStatus"] = body["PrintStatus"] ?? "NeedToPrint"
        body["Deposit"] = 0
        body["CurrencyRef"] = ["value": "USD", "name": "United States Dollar"]
        body["domain"] = "QBO"
        body["sparse"] = false
        body["MetaData"] = meta(created: current, updated: current)
        body["Balance"] = body["TotalAmt"]
        let stored = store("Invoice", Company.Entity(body: body, updatedAt: current), realmID: realmID, operation: "Create", bumpSyncToken: false)
        return entityReply("Invoice", stored.body)
    }

    private mutating func updateInvoice(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        let existing: Company.Entity
        do { existing = try checkedForUpdate("Invoice", input: raw, realmID: realmID) } catch { return error.response }
        if existing.voided { return IntuitFault.businessValidation("This transaction has been voided and can't be changed.", now: now()) }
        let input = raw.cleanedInput(readOnly: Self.invoiceReadOnly)
        var body = existing.body
        if raw["sparse"]?.boolValue != true {
            for key in body.keys where !Self.invoiceReadOnly.contains(key) && key != "DocNumber" && key != "CurrencyRef" { body.removeValue(forKey: key) }
        }
        for (key, value) in input { body[key] = value }
        switch normalise(&body, realmID: realmID, previous: existing.body) {
        case .failure(let failure): return failure.response
        case .success: break
        }
        let paid = (Money.cents(existing.body["TotalAmt"]) ?? 0) - (Money.cents(existing.body["Balance"]) ?? 0)
        let total = Money.cents(body["TotalAmt"]) ?? 0
        guard total >= paid else {
            return IntuitFault.businessValidation("The amount of the invoice is less than the payments applied to it.", now: now())
        }
        body["Balance"] = Money.json(total - paid)
        body["domain"] = "QBO"
        body["sparse"] = false
        var entity = existing
        entity.body = body
        let stored = store("Invoice", entity, realmID: realmID, operation: "Update")
        return entityReply("Invoice", stored.body)
    }

    /// Void (Intuit blog 2016-04-06): the invoice stays with its number and lines, every amount
    /// becomes 0, "Voided" goes in front of PrivateNote. Refused while payments are applied (unconfirmed
    /// at Intuit; strict here).
    private mutating func voidInvoice(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        var entity: Company.Entity
        do { entity = try checkedForUpdate("Invoice", input: raw, realmID: realmID) } catch { return error.response }
        if entity.voided { return IntuitFault.businessValidation("This transaction has already been voided.", now: now()) }
        if Money.cents(entity.body["Balance"]) != Money.cents(entity.body["TotalAmt"]) {
            return IntuitFault.businessValidation("This transaction has payments applied and can't be voided.", now: now())
        }
        entity.voided = true
        var lines = entity.body["Line"]?.arrayValue ?? []
        for index in lines.indices {
            guard case .object(var line) = lines[index] else { continue }
            line["Amount"] = 0
            if case .object(var detail)? = line["SalesItemLineDetail"] {
                detail["Qty"] = 0
                detail["UnitPrice"] = 0
                line["SalesItemLineDetail"] = .object(detail)
            }
            lines[index] = .object(line)
        }
        entity.body["Line"] = .array(lines)
        entity.body["TotalAmt"] = 0
        entity.body["Balance"] = 0
        let note = entity.body.string("PrivateNote")
        entity.body["PrivateNote"] = .string(note.map { "Voided - \($0)" } ?? "Voided")
        let stored = store("Invoice", entity, realmID: realmID, operation: "Void")
        return entityReply("Invoice", stored.body)
    }

    private mutating func deleteInvoice(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        var entity: Company.Entity
        do { entity = try checkedForUpdate("Invoice", input: raw, realmID: realmID) } catch { return error.response }
        if !entity.voided, Money.cents(entity.body["Balance"]) != Money.cents(entity.body["TotalAmt"]) {
            return IntuitFault.businessValidation("This transaction has payments applied and can't be deleted.", now: now())
        }
        entity.deleted = true
        let stored = store("Invoice", entity, realmID: realmID, operation: "Delete")
        return .json(
            .ok,
            JSONValue.object([
                "Invoice": ["Id": .string(stored.body.string("Id")!), "status": "Deleted", "domain": "QBO"], "time": .string(IntuitTime.pacific(now())),
            ])
        )
    }

    /// Validates references and lines, and computes lines, totals and defaults.
    private func normalise(_ body: inout [String: JSONValue], realmID: String, previous: [String: JSONValue]?) -> Result<Void, SimFailure> {
        let current = now()
        guard let customerID = body.refID("CustomerRef") else {
            return .failure(SimFailure(IntuitFault.data(.badRequest, code: "6560", message: "Customer is required", detail: "A customer is required for this transaction.", element: "CustomerRef", now: current)))
        }
        guard let customer = companies[realmID]?.entities["Customer"]?[customerID], !customer.deleted else {
            return .failure(SimFailure(IntuitFault.invalidReference("CustomerRef", id: customerID, now: current)))
        }
        // An update that still names a customer made inactive gets Intuit's 610 "made inactive"
        // (the code a deleted invoice gets too); a create gets 2500.
        if customer.body["Active"]?.boolValue == false {
            return .failure(SimFailure(previous == nil ? IntuitFault.invalidReference("CustomerRef", id: customerID, now: current) : IntuitFault.objectNotFound("Customer", id: customerID, now: current)))
        }
        body["CustomerRef"] = ["value": .string(customerID), "name": customer.body["DisplayName"] ?? .null]
        if body["BillAddr"] == nil, let address = customer.body["BillAddr"] { body["BillAddr"] = address }
        if body["BillEmail"] == nil, let email = customer.body["PrimaryEmailAddr"] { body["BillEmail"] = email }
        if let docNumber = body.string("DocNumber"), docNumber.count > 21 {
            return .failure(SimFailure(IntuitFault.data(.badRequest, code: "2050", message: "String length is either shorter or longer than supported by specification", detail: "String length specified does not match the supported length. Min:0 Max:21 supplied length:\(docNumber.count)", element: "DocNumber", now: current)))
        }
        guard let inputLines = body["Line"]?.arrayValue, !inputLines.isEmpty else {
            return .failure(SimFailure(IntuitFault.requiredMissing("Line", now: current)))
        }
        var lines: [JSONValue] = []
        var total = 0
        for case .object(let input) in inputLines {
            let detailType = input.string("DetailType") ?? (input["SalesItemLineDetail"] != nil ? "SalesItemLineDetail" : nil)
            if detailType == "SubTotalLineDetail" { continue }
            guard detailType == "SalesItemLineDetail" || detailType == "DescriptionOnly" else {
                return .failure(SimFailure(IntuitFault.requiredMissing("Line.DetailType", now: current)))
            }
            var line: [String: JSONValue] = ["Id": .string(String(lines.count + 1)), "LineNum": .int(Int64(lines.count + 1)), "DetailType": .string(detailType!)]
            if let description = input.string("Description") { line["Description"] = .string(description) }
            if detailType == "DescriptionOnly" {
                line["DescriptionLineDetail"] = [:]
                lines.append(.object(line))
                continue
            }
            guard let amount = Money.cents(input["Amount"]) else { return .failure(SimFailure(IntuitFault.requiredMissing("Line.Amount", now: current))) }
            guard case .object(let detail)? = input["SalesItemLineDetail"], let itemID = detail.refID("ItemRef") else {
                return .failure(SimFailure(IntuitFault.requiredMissing("Line.SalesItemLineDetail.ItemRef", now: current)))
            }
            guard let item = companies[realmID]?.entities["Item"]?[itemID], !item.deleted else {
                return .failure(SimFailure(IntuitFault.invalidReference("Line.SalesItemLineDetail.ItemRef", id: itemID, now: current)))
            }
            if item.body["Active"]?.boolValue == false {
                return .failure(SimFailure(previous == nil ? IntuitFault.invalidReference("Line.SalesItemLineDetail.ItemRef", id: itemID, now: current) : IntuitFault.objectNotFound("Item", id: itemID, now: current)))
            }
            let quantity = detail["Qty"].flatMap { Money.cents($0) }.flatMap { $0 == 0 ? nil : $0 }
            let unitPrice = detail["UnitPrice"].flatMap { Money.cents($0) }.flatMap { $0 == 0 ? nil : $0 }
            line["Amount"] = Money.json(amount)
            line["SalesItemLineDetail"] = [
                "ItemRef": ["value": .string(itemID), "name": item.body["Name"] ?? .null],
                "UnitPrice": Money.json(unitPrice ?? amount), "Qty": quantity.map { Money.json($0) } ?? 1,
                "TaxCodeRef": ["value": "NON"],
            ]
            total += amount
            lines.append(.object(line))
        }
        guard !lines.isEmpty else { return .failure(SimFailure(IntuitFault.requiredMissing("Line", now: current))) }
        lines.append(["Amount": Money.json(total), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": [:]])
        body["Line"] = .array(lines)
        body["TotalAmt"] = Money.json(total)
        body["TxnTaxDetail"] = ["TotalTax": 0]
        let txnDate = body.string("TxnDate") ?? previous?.string("TxnDate") ?? IntuitTime.day(current)
        body["TxnDate"] = .string(txnDate)
        if body.string("DueDate") == nil {
            // Without terms, Net 30 from the transaction date (Intuit's default term; unconfirmed).
            let base = IntuitTime.parse(txnDate) ?? current
            body["DueDate"] = .string(IntuitTime.day(base.addingTimeInterval(30 * 86_400 + 43_200)))
        }
        return .success(())
    }
}
