import Foundation
import NIOHTTP1
import QBSyncCore

/// `POST /sim/companies/{realmId}/invoices/{id}/edit` and `.../customers/{id}/edit`: a QuickBooks
/// user changing a record in the UI. The change goes through the same update as the API's (sparse,
/// with the record's current SyncToken), so the SyncToken goes up, `MetaData.LastUpdatedTime`
/// moves, the change feed shows it and an Update webhook is queued.
extension SimState {
    static let invoiceEditFields: Set<String> = ["Line", "TotalAmt", "DueDate", "DocNumber", "TxnDate", "CustomerRef", "PrivateNote", "CustomerMemo"]
    static let customerEditFields: Set<String> = [
        "DisplayName", "CompanyName", "GivenName", "FamilyName", "PrimaryEmailAddr", "PrimaryPhone", "BillAddr", "ShipAddr", "Notes", "Active",
    ]

    /// Invoice fields: `Line` (amounts by position, a number or `{Amount, Description?}` each; the
    /// lines keep their items; extra entries add lines), `TotalAmt` (the first line absorbs the
    /// difference), `DueDate`, `DocNumber`, `TxnDate`, `CustomerRef` (an id or `{value}`),
    /// `PrivateNote`, `CustomerMemo`.
    mutating func editInvoice(realmID: String, invoiceID: String, input: [String: JSONValue]) -> SimResponse {
        if let unknown = input.keys.first(where: { !Self.invoiceEditFields.contains($0) }) { return Self.badEdit("\(unknown) cannot be edited", Self.invoiceEditFields) }
        guard let invoice = companies[realmID]?.entities["Invoice"]?[invoiceID], !invoice.deleted else {
            return IntuitFault.objectNotFound("Invoice", id: invoiceID, now: now())
        }
        var update: [String: JSONValue] = ["Id": .string(invoiceID), "SyncToken": invoice.body["SyncToken"] ?? "0", "sparse": true]
        var lines = (invoice.body["Line"]?.arrayValue ?? []).filter { $0["DetailType"]?.stringValue == "SalesItemLineDetail" }
        if let amounts = input["Line"]?.arrayValue {
            for (index, entry) in amounts.enumerated() {
                guard let cents = Money.cents(entry["Amount"] ?? entry), cents >= 0 else { return Self.badEdit("Line[\(index)] needs an amount", Self.invoiceEditFields) }
                guard let template = index < lines.count ? lines[index] : lines.first else { return Self.badEdit("the invoice has no lines", Self.invoiceEditFields) }
                let line = Self.line(template, cents: cents, description: entry["Description"]?.stringValue)
                if index < lines.count { lines[index] = line } else { lines.append(line) }
            }
            update["Line"] = .array(lines)
        } else if let total = input["TotalAmt"] {
            let others = lines.dropFirst().reduce(0) { $0 + (Money.cents($1["Amount"]) ?? 0) }
            guard let cents = Money.cents(total), cents >= others, let first = lines.first else {
                return Self.badEdit("TotalAmt must be an amount of at least the other lines' \(others) cents", Self.invoiceEditFields)
            }
            lines[0] = Self.line(first, cents: cents - others, description: nil)
            update["Line"] = .array(lines)
        }
        for key in ["DueDate", "DocNumber", "TxnDate", "PrivateNote"] { if let value = input[key] { update[key] = value } }
        if let customer = input["CustomerRef"] { update["CustomerRef"] = ["value": customer["value"] ?? customer] }
        if let memo = input["CustomerMemo"] { update["CustomerMemo"] = ["value": memo["value"] ?? memo] }
        return saveInvoice(update, realmID: realmID, operation: nil)
    }

    /// Customer fields: `DisplayName`, `CompanyName`, `GivenName`, `FamilyName`, `PrimaryEmailAddr`
    /// (an address or `{Address}`), `PrimaryPhone` (a number or `{FreeFormNumber}`), `BillAddr`,
    /// `ShipAddr`, `Notes`, `Active`.
    mutating func editCustomer(realmID: String, customerID: String, input: [String: JSONValue]) -> SimResponse {
        if let unknown = input.keys.first(where: { !Self.customerEditFields.contains($0) }) { return Self.badEdit("\(unknown) cannot be edited", Self.customerEditFields) }
        guard let customer = companies[realmID]?.entities["Customer"]?[customerID], !customer.deleted else {
            return IntuitFault.objectNotFound("Customer", id: customerID, now: now())
        }
        var update: [String: JSONValue] = ["Id": .string(customerID), "SyncToken": customer.body["SyncToken"] ?? "0", "sparse": true]
        for key in ["DisplayName", "CompanyName", "GivenName", "FamilyName", "BillAddr", "ShipAddr", "Notes", "Active"] { if let value = input[key] { update[key] = value } }
        if let email = input["PrimaryEmailAddr"] { update["PrimaryEmailAddr"] = email["Address"] != nil ? email : ["Address": email] }
        if let phone = input["PrimaryPhone"] { update["PrimaryPhone"] = phone["FreeFormNumber"] != nil ? phone : ["FreeFormNumber": phone] }
        return saveCustomer(update, realmID: realmID)
    }

    /// A sales line with a new amount (unit price to match, quantity 1), keeping its item.
    private static func line(_ template: JSONValue, cents: Int, description: String?) -> JSONValue {
        guard case .object(var line) = template else { return template }
        line.removeValue(forKey: "Id")
        line.removeValue(forKey: "LineNum")
        line["Amount"] = Money.json(cents)
        if let description { line["Description"] = .string(description) }
        if case .object(var detail)? = line["SalesItemLineDetail"] {
            detail["UnitPrice"] = Money.json(cents)
            detail["Qty"] = 1
            line["SalesItemLineDetail"] = .object(detail)
        }
        return .object(line)
    }

    private static func badEdit(_ error: String, _ fields: Set<String>) -> SimResponse {
        .json(.badRequest, ["error": .string(error), "editable": .array(fields.sorted().map(JSONValue.string))] as JSONValue)
    }
}
