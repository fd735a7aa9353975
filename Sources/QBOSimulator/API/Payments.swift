import Foundation
import QBSyncCore

/// Payments (reference §2.5): they lower invoice balances, linked both ways; voiding or deleting
/// one gives the invoices their balances back.
extension SimState {
    /// `POST /payment`: a create, or (`operation=void`, `operation=update&include=void`,
    /// `operation=delete`) a void or delete of an existing payment.
    mutating func savePayment(_ raw: [String: JSONValue], realmID: String, operation: String? = nil, include: String? = nil) -> SimResponse {
        let voidAsked = include?.lowercased().split(separator: ",").contains("void") == true
        switch operation {
        case "void": return voidPayment(raw, realmID: realmID)
        case "delete": return deletePayment(raw, realmID: realmID)
        case "update" where voidAsked: return voidPayment(raw, realmID: realmID)
        case "update", "create", nil: break
        default: return IntuitFault.requestValidation("Unsupported operation \(operation ?? "")", now: now())
        }
        return createPayment(raw, realmID: realmID)
    }

    /// Creates a payment and applies each line to the invoice its `LinkedTxn` names.
    private mutating func createPayment(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
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

    /// Void (Intuit's sample: payment-void-response.xml): the payment stays with `TotalAmt` 0, no
    /// lines and "Voided" in `PrivateNote`; every invoice it paid gets the amount back.
    private mutating func voidPayment(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        var entity: Company.Entity
        do { entity = try checkedForUpdate("Payment", input: raw, realmID: realmID) } catch { return error.response }
        if entity.voided { return IntuitFault.businessValidation("This transaction has already been voided.", now: now()) }
        let applications = Self.applications(of: entity.body)
        entity.voided = true
        entity.body["Line"] = []
        entity.body["TotalAmt"] = 0
        entity.body["UnappliedAmt"] = 0
        entity.body["PrivateNote"] = .string(entity.body.string("PrivateNote").map { "Voided - \($0)" } ?? "Voided")
        let stored = store("Payment", entity, realmID: realmID, operation: "Void")
        release(applications, paymentID: stored.body.string("Id")!, realmID: realmID)
        return entityReply("Payment", stored.body)
    }

    /// Delete: the payment becomes a stub (reads answer 610, CDC lists it as Deleted); every invoice
    /// it paid gets the amount back.
    private mutating func deletePayment(_ raw: [String: JSONValue], realmID: String) -> SimResponse {
        var entity: Company.Entity
        do { entity = try checkedForUpdate("Payment", input: raw, realmID: realmID) } catch { return error.response }
        let applications = Self.applications(of: entity.body)
        entity.deleted = true
        let stored = store("Payment", entity, realmID: realmID, operation: "Delete")
        let id = stored.body.string("Id")!
        release(applications, paymentID: id, realmID: realmID)
        return .json(
            .ok,
            JSONValue.object(["Payment": ["Id": .string(id), "status": "Deleted", "domain": "QBO"], "time": .string(IntuitTime.pacific(now()))])
        )
    }

    /// What a payment applies, per invoice in line order (a voided payment applies nothing).
    private static func applications(of body: [String: JSONValue]) -> [(invoiceID: String, cents: Int)] {
        var applications: [(invoiceID: String, cents: Int)] = []
        for case .object(let line) in body["Line"]?.arrayValue ?? [] {
            let cents = Money.cents(line["Amount"]) ?? 0
            for case .object(let link) in line["LinkedTxn"]?.arrayValue ?? [] where link.string("TxnType") == "Invoice" {
                guard let invoiceID = link.string("TxnId") else { continue }
                if let index = applications.firstIndex(where: { $0.invoiceID == invoiceID }) {
                    applications[index].cents += cents
                } else {
                    applications.append((invoiceID, cents))
                }
            }
        }
        return applications
    }

    /// Gives each invoice back what the payment applied and unlinks the payment (an Invoice Update each).
    private mutating func release(_ applications: [(invoiceID: String, cents: Int)], paymentID: String, realmID: String) {
        for (invoiceID, cents) in applications {
            guard var invoice = companies[realmID]?.entities["Invoice"]?[invoiceID], !invoice.deleted else { continue }
            let total = Money.cents(invoice.body["TotalAmt"]) ?? 0
            invoice.body["Balance"] = Money.json(min(total, (Money.cents(invoice.body["Balance"]) ?? 0) + cents))
            invoice.body["LinkedTxn"] = .array((invoice.body["LinkedTxn"]?.arrayValue ?? []).filter { link in
                !(link["TxnId"]?.stringValue == paymentID && link["TxnType"]?.stringValue == "Payment")
            })
            _ = store("Invoice", invoice, realmID: realmID, operation: "Update")
        }
    }
}
