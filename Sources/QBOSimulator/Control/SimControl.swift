import Foundation
import NIOHTTP1
import QBSyncCore

/// The `/sim/…` endpoints that drive the simulator (not part of Intuit).
extension SimState {
    mutating func control(_ request: SimRequest, path: [String]) -> SimResponse {
        let input = (try? JSONDecoder().decode([String: JSONValue].self, from: request.body)) ?? [:]  // try?: a body that is not JSON sets nothing
        switch (request.method, path.count, path.first) {
        case (.POST, 1, "companies"):
            let name = input.string("name") ?? "Sandbox Company_US_\(companies.count + 1)"
            let realmID = Opaque.realmID()
            companies[realmID] = Company.seeded(realmID: realmID, name: name, at: now())
            return .json(.ok, JSONValue.object(["realmId": .string(realmID), "name": .string(name)]))
        case (.GET, 1, "companies"):
            return .json(.ok, JSONValue.array(companies.values.map { ["realmId": .string($0.realmID), "name": .string($0.name)] }))
        case (.GET, 2, "companies"):
            guard let company = companies[path[1]] else { return .json(.notFound, ["error": "unknown company"] as JSONValue) }
            func rows(_ type: String) -> JSONValue { .array((company.entities[type] ?? [:]).values.sorted { $0.updatedAt < $1.updatedAt }.map { entity in
                var body = entity.body
                if entity.deleted { body["status"] = "Deleted" }
                if entity.voided { body["voided"] = true }
                return .object(body)
            } ) }
            return .json(
                .ok,
                JSONValue.object([
                    "realmId": .string(company.realmID), "name": .string(company.name), "customers": rows("Customer"),
                    "invoices": rows("Invoice"), "payments": rows("Payment"), "items": rows("Item"),
                    "counters": [
                        "requestsServed": .int(Int64(company.requestsServed)), "throttled": .int(Int64(company.throttled)),
                        "createsDeduplicated": .int(Int64(company.createsDeduplicated)),
                    ],
                ])
            )
        case (.POST, 5, "companies") where path[2] == "invoices":
            return invoiceAction(realmID: path[1], invoiceID: path[3], action: path[4], input: input)
        case (.POST, 5, "companies") where path[2] == "payments":
            return paymentAction(realmID: path[1], paymentID: path[3], action: path[4])
        case (.POST, 5, "companies") where path[2] == "customers" && path[4] == "edit":
            guard companies[path[1]] != nil else { return .json(.notFound, ["error": "unknown company"] as JSONValue) }
            return editCustomer(realmID: path[1], customerID: path[3], input: input)
        case (.GET, 1, "usage"):
            return .json(.ok, usageReport())
        case (.POST, 1, "faults"):
            guard let count = input["count"]?.intValue, count > 0 else { return .json(.badRequest, ["error": "count is required"] as JSONValue) }
            let kind: FaultRule.Kind
            if input.string("fault") == "invalid_grant" {
                kind = .invalidGrant
            } else if input.string("fault") == "drop" {
                kind = .drop
            } else if input.string("fault") == "drop_after" {
                kind = .dropAfterProcessing
            } else if input["status"]?.intValue == 429, let retryAfter = input["retryAfter"]?.intValue {
                kind = .throttled(retryAfterSeconds: Int(retryAfter))
            } else if let status = input["status"]?.intValue, let code = input.string("code") {
                // Intuit's other 401/403 answers: 120, 130, the legacy 403 throttle (3001), a proxy's 403 page (waf).
                guard IntuitFault.authAnswer(status: Int(status), code: code) != nil else {
                    return .json(.badRequest, ["error": "code goes with status 401 (120, 130, 3200) or 403 (3100, 3001, waf)"] as JSONValue)
                }
                kind = .answer(status: Int(status), code: code)
            } else if let status = input["status"]?.intValue {
                kind = .status(Int(status))
            } else if let delay = input["delayMs"]?.intValue {
                kind = .delay(milliseconds: Int(delay))
            } else {
                return .json(.badRequest, ["error": "one of status, delayMs or fault (invalid_grant, drop, drop_after) is required"] as JSONValue)
            }
            var rate: Double?
            switch input["rate"] {
            case nil, .null?: rate = nil
            case .double(let value)? where value > 0 && value <= 1: rate = value
            case .int(1)?: rate = 1
            default: return .json(.badRequest, ["error": "rate must be a number in (0, 1]"] as JSONValue)
            }
            let seed = input["seed"]?.intValue.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max)
            faults.append(
                FaultRule(
                    realmID: input.string("realmId"), pathContains: input.string("path"), kind: kind, remaining: Int(count), rate: rate,
                    random: SplitMix64(seed: seed)
                )
            )
            return .json(.ok, ["queued": .int(count)] as JSONValue)
        case (.GET, 1, "faults"):
            return .json(.ok, ["faults": .array(faults.map(\.summary)), "injected": .int(Int64(faultsInjected))] as JSONValue)
        case (.DELETE, 1, "faults"):
            // Ends a campaign: every rule goes, whatever it had left.
            let cleared = faults.count
            faults.removeAll()
            return .json(.ok, ["cleared": .int(Int64(cleared)), "injected": .int(Int64(faultsInjected))] as JSONValue)
        case (.GET, 2, "tokens"):
            // Inspection for tests: the live tokens of a company (never part of Intuit).
            let live = grants.filter { $0.value.realmID == path[1] && !$0.value.revoked }
            let access = accessTokens.filter { live[$0.value.grantID] != nil && $0.value.expiresAt > now() }.map { JSONValue.string($0.key) }
            return .json(.ok, ["refreshTokens": .array(live.values.map { .string($0.refreshToken) }), "accessTokens": .array(access)] as JSONValue)
        case (.POST, 2, "tokens") where path[1] == "revoke-all":
            guard let realmID = input.string("realmId") else { return .json(.badRequest, ["error": "realmId is required"] as JSONValue) }
            return .json(.ok, ["revoked": .int(Int64(revokeAll(realmID: realmID)))] as JSONValue)
        case (.POST, 2, "webhooks") where path[1] == "config":
            // Points webhooks somewhere else at run time (a receiver whose port is known only later).
            if let url = input.string("url") { configuration.webhookURL = url }
            if let format = input.string("format").flatMap(WebhookFormat.init(rawValue:)) { configuration.webhookFormat = format }
            switch input["lossRate"] {
            case nil, .null?: break
            case .int(let value)? where value == 0 || value == 1: configuration.webhookLossRate = Double(value)
            case .double(let value)? where value >= 0 && value <= 1: configuration.webhookLossRate = value
            default: return .json(.badRequest, ["error": "lossRate must be a number in [0, 1]"] as JSONValue)
            }
            if let seed = input["seed"]?.intValue { webhookLoss = SplitMix64(seed: UInt64(bitPattern: seed)) }
            return .json(
                .ok,
                [
                    "url": configuration.webhookURL.map(JSONValue.string) ?? .null, "format": .string(configuration.webhookFormat.rawValue),
                    "lossRate": .double(configuration.webhookLossRate),
                ] as JSONValue
            )
        case (.POST, 1, "clock"):
            guard let seconds = input["advanceSeconds"]?.intValue ?? input["advanceSeconds"].flatMap({ if case .double(let d) = $0 { Int64(d) } else { nil } }) else {
                return .json(.badRequest, ["error": "advanceSeconds is required"] as JSONValue)
            }
            clockOffset += Double(seconds)
            return .json(.ok, ["now": .string(Timestamp.string(now()))] as JSONValue)
        default:
            return .json(.notFound, ["error": "unknown simulator endpoint"] as JSONValue)
        }
    }

    /// pay, void, delete or edit as a QuickBooks user would in the UI.
    private mutating func invoiceAction(realmID: String, invoiceID: String, action: String, input: [String: JSONValue]) -> SimResponse {
        guard companies[realmID] != nil else { return .json(.notFound, ["error": "unknown company"] as JSONValue) }
        guard let invoice = companies[realmID]!.entities["Invoice"]?[invoiceID], !invoice.deleted else {
            return IntuitFault.objectNotFound("Invoice", id: invoiceID, now: now())
        }
        let reference: [String: JSONValue] = ["Id": .string(invoiceID), "SyncToken": invoice.body["SyncToken"] ?? "0"]
        switch action {
        case "pay":
            let balance = Money.cents(invoice.body["Balance"]) ?? 0
            let amount = Money.cents(input["amount"]) ?? balance
            let payment: [String: JSONValue] = [
                "CustomerRef": ["value": invoice.body["CustomerRef"]?["value"] ?? .null], "TotalAmt": Money.json(amount),
                "Line": [["Amount": Money.json(amount), "LinkedTxn": [["TxnId": .string(invoiceID), "TxnType": "Invoice"]]]],
            ]
            return savePayment(payment, realmID: realmID)
        case "void": return saveInvoice(reference, realmID: realmID, operation: "void")
        case "delete": return saveInvoice(reference, realmID: realmID, operation: "delete")
        case "edit": return editInvoice(realmID: realmID, invoiceID: invoiceID, input: input)
        default: return .json(.notFound, ["error": "unknown action"] as JSONValue)
        }
    }

    /// void or delete a payment as a QuickBooks user would in the UI.
    private mutating func paymentAction(realmID: String, paymentID: String, action: String) -> SimResponse {
        guard companies[realmID] != nil else { return .json(.notFound, ["error": "unknown company"] as JSONValue) }
        guard let payment = companies[realmID]!.entities["Payment"]?[paymentID], !payment.deleted else {
            return IntuitFault.objectNotFound("Payment", id: paymentID, now: now())
        }
        guard ["void", "delete"].contains(action) else { return .json(.notFound, ["error": "unknown action"] as JSONValue) }
        let reference: [String: JSONValue] = ["Id": .string(paymentID), "SyncToken": payment.body["SyncToken"] ?? "0"]
        return savePayment(reference, realmID: realmID, operation: action)
    }
}
