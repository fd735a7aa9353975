import Foundation
import Testing
@testable import QBOClient
import QBSyncCore

/// Every real Intuit payload in shared/reference/intuit-samples (recorded by others; provenance in
/// its SOURCES.md) goes through the daemon's decoders and error classification, with its meaning
/// asserted. A sample added there without an expectation here fails `everySampleHasAnExpectation`.
@Suite struct IntuitSamplesTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/reference/intuit-samples")

    static func sample(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

    static func entity<T: Decodable>(_ name: String, _ entity: String, as type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.userInfo[AnyKey.entityInfo] = entity
        return try decoder.decode(EntityEnvelope<T>.self, from: try sample(name)).entity
    }

    static func rows<T: Decodable>(_ name: String, _ entity: String, as type: T.Type) throws -> [T] {
        let decoder = JSONDecoder()
        decoder.userInfo[AnyKey.entityInfo] = entity
        return try decoder.decode(QueryRows<T>.self, from: try sample(name)).rows
    }

    /// What each sample means to the daemon.
    static let expectations: [String: @Sendable (Data) throws -> Void] = [
        // Entities (JSON: the daemon asks for JSON).
        "invoice-create-response.json": { (_: Data) throws -> Void in
            let invoice = try entity("invoice-create-response.json", "Invoice", as: QBOInvoice.self)
            #expect(invoice.Id == "266" && invoice.SyncToken == "0" && !invoice.isVoided)
            #expect(Money(exactly: invoice.TotalAmt) != nil && Money(exactly: invoice.Balance) != nil, "two-place decimals, read from their JSON text")
            #expect(invoice.MetaData?.lastUpdated != nil, "its LastUpdatedTime marks qbsyncd's own write")
        },
        "invoice-read.json": { (_: Data) throws -> Void in
            let invoice = try entity("invoice-read.json", "Invoice", as: QBOInvoice.self)
            #expect(invoice.Balance == invoice.TotalAmt && invoice.DueDate == "2020-10-29")
            let status = EntityStatus.invoice(total: Money(exactly: invoice.TotalAmt)!, balance: Money(exactly: invoice.Balance)!, dueDate: invoice.DueDate, voided: false, today: "2020-10-01")
            #expect(status == .outstanding)
        },
        "invoice-void-response.json": { (_: Data) throws -> Void in #expect(try entity("invoice-void-response.json", "Invoice", as: QBOInvoice.self).isVoided) },
        "invoice-delete-response.json": { (data: Data) throws -> Void in
            #expect(try JSONDecoder().decode(JSONValue.self, from: data)["Invoice"]?["status"] == "Deleted")
        },
        "customer-create-response.json": { (_: Data) throws -> Void in
            let customer = try entity("customer-create-response.json", "Customer", as: QBOCustomer.self)
            #expect(!customer.Id.isEmpty && customer.Notes == nil)
        },
        "customer-read.json": { (_: Data) throws -> Void in #expect(!(try entity("customer-read.json", "Customer", as: QBOCustomer.self)).DisplayName.isEmpty) },
        "payment-read.json": { (_: Data) throws -> Void in #expect(!(try entity("payment-read.json", "Payment", as: QBOPayment.self)).invoiceIDs.isEmpty, "a payment names the invoices it pays") },
        "companyinfo.json": { (data: Data) throws -> Void in #expect(try JSONDecoder().decode(JSONValue.self, from: data)["CompanyInfo"]?["CompanyName"] == "TestCompany") },
        "query-customer-page.json": { (_: Data) throws -> Void in #expect(try rows("query-customer-page.json", "Customer", as: QBOCustomer.self).count == 2) },
        "query-empty.json": { (_: Data) throws -> Void in #expect(try rows("query-empty.json", "Customer", as: QBOCustomer.self).isEmpty) },
        "query-count.json": { (_: Data) throws -> Void in #expect(try rows("query-count.json", "Customer", as: QBOCustomer.self).isEmpty, "a COUNT answer has no rows") },
        "cdc-response.json": { (data: Data) throws -> Void in
            // Estimates only: nothing for the daemon, and no error.
            let feed = try AccountingClient.changeFeed(data)
            #expect(feed.count == 0)
        },
        "batch-response.json": { (data: Data) throws -> Void in #expect(try JSONDecoder().decode(JSONValue.self, from: data)["BatchItemResponse"]?.arrayValue?.count == 4) },
        // XML entity answers: the daemon asks for JSON, but an XML success must never read as a fault.
        "cdc-response-invoice-deleted.xml": { (data: Data) throws -> Void in
            #expect(IntuitAnswer.fault(in: data) == nil)
            #expect(IntuitTime.parse("2016-04-13T07:34:31-07:00") != nil, "its LastUpdatedTime form parses")
        },
        "payment-void-response.xml": { (data: Data) throws -> Void in #expect(IntuitAnswer.fault(in: data) == nil) },
        "query-account.xml": { (data: Data) throws -> Void in #expect(IntuitAnswer.fault(in: data) == nil) },
        // Faults: what each one does to the call.
        "fault-validation-6240.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "6240") },
        "fault-object-not-found-610-batch-item.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "610") },
        "fault-stale-5010-batch-item.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "5010") },
        "fault-query-4001.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "4001") },
        "fault-invalid-id-2030-no-time.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "2030") },
        "fault-unsupported-operation-500.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "500", "a code of 500 inside a 400 is not a 5xx") },
        "fault-invalid-reference-2500.json": { (data: Data) throws -> Void in #expect(rejectedCode(data, status: 400) == "2500") },
        "fault-401-token-expired.json": { (data: Data) throws -> Void in
            #expect(IntuitAnswer.classify(status: 401, body: data, retryAfter: nil) == .unauthorized, "3200: refresh once and retry")
            #expect(IntuitAnswer.fault(in: data)?.code == "3200", "the gateway's lower-case fault is read")
        },
        "fault-401-wrong-cluster-130.xml": { (data: Data) throws -> Void in
            guard case .forbidden(let fault) = IntuitAnswer.classify(status: 401, body: data, retryAfter: nil) else { Issue.record("130 is not cured by a refresh"); return }
            #expect(fault.code == "130" && fault.message == "Accessing Wrong Cluster" && fault.type == "AuthenticationFault")
        },
        "fault-403-gateway-3100.json": { (data: Data) throws -> Void in
            guard case .forbidden(let fault) = IntuitAnswer.classify(status: 403, body: data, retryAfter: nil) else { Issue.record("3100: reconnect"); return }
            #expect(fault.code == "3100")
        },
        "fault-403-insufficient-scope.xml": { (data: Data) throws -> Void in
            guard case .forbidden(let fault) = IntuitAnswer.classify(status: 403, body: data, retryAfter: nil) else { Issue.record("scope: reconnect"); return }
            #expect(fault.detail == "The access token does not have sufficient scope")
        },
        "throttle-403-legacy.xml": { (data: Data) throws -> Void in #expect(IntuitAnswer.classify(status: 403, body: data, retryAfter: nil) == .throttled(retryAfterSeconds: 60), "Intuit's old throttle") },
        "throttle-429.xml": { (data: Data) throws -> Void in
            #expect(IntuitAnswer.classify(status: 429, body: data, retryAfter: nil) == .throttled(retryAfterSeconds: 60))
            #expect(IntuitAnswer.fault(in: data)?.code == "3001")
        },
        "gateway-503.html": { (data: Data) throws -> Void in
            guard case .unavailable = IntuitAnswer.classify(status: 503, body: data, retryAfter: nil) else { Issue.record("a 503 page is unavailable"); return }
            #expect(IntuitAnswer.fault(in: data) == nil)
        },
        // OAuth.
        "oauth-token-response.json": { (data: Data) throws -> Void in
            let tokens = try OAuthClient.tokenAnswer(status: 200, body: data)
            #expect(tokens.expiresIn == 3600 && tokens.refreshTokenExpiresIn == 15_552_000 && tokens.refreshTokenHardExpiresIn == nil)
        },
        "oauth-token-response-hard-expiry.json": { (data: Data) throws -> Void in #expect(try OAuthClient.tokenAnswer(status: 200, body: data).refreshTokenHardExpiresIn == 156_032_154) },
        "oauth-invalid-grant.json": { (data: Data) throws -> Void in
            #expect(throws: QBOClientError.invalidGrant) { try OAuthClient.tokenAnswer(status: 400, body: data) }
        },
        "discovery.json": { (data: Data) throws -> Void in
            let json = try JSONDecoder().decode(JSONValue.self, from: data)
            #expect(json["authorization_endpoint"] == "https://appcenter.intuit.com/connect/oauth2", "the built-in default")
            #expect(json["token_endpoint"] == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer")
            #expect(json["revocation_endpoint"] == "https://developer.api.intuit.com/v2/oauth2/tokens/revoke")
        },
        // Webhooks.
        "webhook-classic-dotnet-vector.json": { (data: Data) throws -> Void in
            let parsed = WebhookPayload.parseDelivery(data)
            #expect(parsed.format == .classic && !parsed.events.isEmpty && parsed.unparsed.isEmpty)
        },
        "webhook-classic-java-vector.json": { (data: Data) throws -> Void in
            let parsed = WebhookPayload.parseDelivery(data)
            #expect(parsed.format == .classic && !parsed.events.isEmpty && parsed.unparsed.isEmpty)
        },
        "webhook-cloudevents-blog.json": { (data: Data) throws -> Void in
            let parsed = WebhookPayload.parseDelivery(data)
            #expect(parsed.events.map(\.type) == ["account.created"] && parsed.events[0].realmID == "310687")
            #expect(parsed.events[0].dedupeKey == "ce:88cd52aa-33b6-4351-9aa4-47572edbd068")
        },
        "webhook-cloudevents-java-sdk.json": { (data: Data) throws -> Void in #expect(WebhookPayload.parseDelivery(data).events.map(\.type) == ["class.created"], "no data, no datacontenttype") },
        "webhook-cloudevents-customer-merged.json": { (data: Data) throws -> Void in #expect(WebhookPayload.parseDelivery(data).events.map(\.operation) == ["Merge"]) },
        "webhook-cloudevents-salesreceipt-no-data.json": { (data: Data) throws -> Void in
            let event = try #require(WebhookPayload.parseDelivery(data).events.first)
            #expect(event.entityName == "SalesReceipt" && event.entityID == "150" && event.lastUpdated == "2026-03-17T16:19:17Z")
        },
    ]

    static func rejectedCode(_ data: Data, status: Int) -> String? {
        guard case .rejected(let fault) = IntuitAnswer.classify(status: status, body: data, retryAfter: nil) else { return nil }
        return fault.code
    }

    @Test func everySampleHasAnExpectation() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0 != "SOURCES.md" }.sorted()
        #expect(names.count >= 40)
        #expect(Set(names) == Set(Self.expectations.keys), "samples without an expectation: \(Set(names).subtracting(Self.expectations.keys).sorted())")
    }

    @Test(arguments: expectations.keys.sorted())
    func sampleMeansWhatIntuitMeant(_ name: String) throws {
        try Self.expectations[name]!(try Self.sample(name))
    }

    @Test func absurdLifetimesAreClamped() throws {
        let body = Data(#"{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":999999999999,"x_refresh_token_expires_in":-5,"x_refresh_token_hard_expires_in":99999999999}"#.utf8)
        let tokens = try OAuthClient.tokenAnswer(status: 200, body: body)
        #expect(tokens.expiresIn == 86_400)
        #expect(tokens.refreshTokenExpiresIn == 1)
        #expect(tokens.refreshTokenHardExpiresIn == 5 * 366 * 86_400)
    }

    @Test func anUnknown403IsNotADisconnection() {
        let html = Data("<html><body>Request blocked</body></html>".utf8)
        guard case .unavailable = IntuitAnswer.classify(status: 403, body: html, retryAfter: nil) else { Issue.record("a proxy's 403 must not disconnect the org"); return }
        #expect(IntuitAnswer.classify(status: 401, body: html, retryAfter: nil) == .unauthorized, "an unknown 401 is refreshed once")
    }
}

/// What the client puts on the wire.
@Suite struct AccountingRequestTests {
    @Test func aPlusInAQueryValueIsSentEncoded() throws {
        let url = AccountingClient.url(
            base: "https://sandbox-quickbooks.api.intuit.com", path: "/v3/company/1/query",
            query: [URLQueryItem(name: "query", value: "SELECT * FROM Customer WHERE DisplayName = 'A+B Court & Co'")], minorVersion: 75
        )
        #expect(url.contains("A%2BB"), "\(url)")
        #expect(url.contains("%26"), "& inside a value is encoded too")
        #expect(!url.contains("+"), "a server decoding forms would read + as a space")
        let decoded = URLComponents(string: url)?.queryItems?.first { $0.name == "query" }?.value
        #expect(decoded == "SELECT * FROM Customer WHERE DisplayName = 'A+B Court & Co'")
        #expect(url.hasSuffix("minorversion=75"))
    }
}

@Suite struct IncomeAccountChoiceTests {
    /// The accounts of reference/intuit-samples/query-account.xml, in Intuit's (Name) order.
    let accounts = [
        QBOAccount(Id: "79", Name: "Sales of Product Income", AccountSubType: "SalesOfProductIncome"),
        QBOAccount(Id: "1", Name: "Services", AccountSubType: "ServiceFeeIncome"),
        QBOAccount(Id: "3", Name: "Uncategorized Income", AccountSubType: "OtherPrimaryIncome"),
    ]

    @Test func aServiceFeeAccountUnlessOneIsNamed() {
        #expect(AccountingClient.incomeAccount(accounts, named: nil)?.Name == "Services")
        #expect(AccountingClient.incomeAccount(accounts, named: "uncategorized income")?.Id == "3")
        #expect(AccountingClient.incomeAccount(accounts, named: "Rent") == nil, "a named account that is not there is an error, not a guess")
        #expect(AccountingClient.incomeAccount(Array(accounts.prefix(1)), named: nil)?.Name == "Sales of Product Income", "no service-fee account: the first")
    }
}
