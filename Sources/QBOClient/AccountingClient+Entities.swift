public import Foundation
public import QBSyncCore

/// Customers, invoices, items and accounts.
extension AccountingClient {
    /// Creates or (with `Id`, `SyncToken`, `sparse`) updates a customer. `requestID` makes a
    /// retried create return the first answer instead of a second customer.
    public func saveCustomer(_ payload: CustomerPayload, realmID: String, requestID: String?, accessToken: Secret<String>) async throws(QBOClientError) -> QBOCustomer {
        try decode(try await post("/v3/company/\(realmID)/customer", body: try encode(payload), query: requestQuery(requestID), accessToken: accessToken), entity: "Customer")
    }

    public func saveInvoice(_ payload: InvoicePayload, realmID: String, requestID: String?, accessToken: Secret<String>) async throws(QBOClientError) -> QBOInvoice {
        try decode(try await post("/v3/company/\(realmID)/invoice", body: try encode(payload), query: requestQuery(requestID), accessToken: accessToken), entity: "Invoice")
    }

    public func readCustomer(id: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOCustomer {
        try decode(try await get("/v3/company/\(realmID)/customer/\(id)", realmID: realmID, accessToken: accessToken), entity: "Customer")
    }

    public func readInvoice(id: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOInvoice {
        try decode(try await get("/v3/company/\(realmID)/invoice/\(id)", realmID: realmID, accessToken: accessToken), entity: "Invoice")
    }

    public func readPayment(id: String, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOPayment {
        try decode(try await get("/v3/company/\(realmID)/payment/\(id)", realmID: realmID, accessToken: accessToken), entity: "Payment")
    }

    /// Intuit's change feed: invoices and payments changed since a time (deleted ones as stubs),
    /// in one metered read. Intuit caps an answer at 1,000 objects and has no paging.
    public func changes(since: Date, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> ChangeFeed {
        let changedSince = since.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
        let data = try await get(
            "/v3/company/\(realmID)/cdc", realmID: realmID,
            query: [URLQueryItem(name: "entities", value: "Invoice,Payment"), URLQueryItem(name: "changedSince", value: changedSince)], accessToken: accessToken
        )
        return try Self.changeFeed(data)
    }

    /// A CDC answer's invoice and payment rows (other entities' lists are skipped).
    static func changeFeed(_ data: Data) throws(QBOClientError) -> ChangeFeed {
        struct Answer: Decodable {
            struct Page: Decodable {
                struct Rows: Decodable {
                    let Invoice: [CDCInvoice]?
                    let Payment: [CDCPayment]?
                }
                let QueryResponse: [Rows]?
            }
            let CDCResponse: [Page]
        }
        do {
            let rows = try JSONDecoder().decode(Answer.self, from: data).CDCResponse.flatMap { $0.QueryResponse ?? [] }
            return ChangeFeed(invoices: rows.flatMap { $0.Invoice ?? [] }, payments: rows.flatMap { $0.Payment ?? [] })
        } catch {
            throw .unavailable("QuickBooks answered CDC with an unexpected body")
        }
    }

    /// Runs a query and decodes the rows of `entity` (empty when none match).
    public func query<Row: Decodable & Sendable>(_ sql: String, entity: String, as type: Row.Type, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> [Row] {
        let data = try await get("/v3/company/\(realmID)/query", realmID: realmID, query: [URLQueryItem(name: "query", value: sql)], accessToken: accessToken)
        let decoder = JSONDecoder()
        decoder.userInfo[AnyKey.entityInfo] = entity
        do {
            return try decoder.decode(QueryRows<Row>.self, from: data).rows
        } catch {
            throw .unavailable("QuickBooks answered a query with an unexpected body")
        }
    }

    /// Creates a Service item on a deliberately chosen Income account (fidelity #4): the one named
    /// (`QBSYNCD_INCOME_ACCOUNT`), else the first of the service-fee subtype, else the first in
    /// Intuit's (Name) order. A real company has several; "whatever comes first" is product sales.
    public func createServiceItem(name: String, incomeAccount: String?, realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> QBOItem {
        let accounts = try await query("SELECT * FROM Account WHERE AccountType = 'Income' MAXRESULTS 1000", entity: "Account", as: QBOAccount.self, realmID: realmID, accessToken: accessToken)
        guard let account = Self.incomeAccount(accounts, named: incomeAccount) else {
            let detail = incomeAccount.map { "the company has no Income account named '\($0)' (QBSYNCD_INCOME_ACCOUNT)" } ?? "the company has no Income account to post service charges to"
            throw .rejected(QBOFault(code: "2020", message: "No income account", detail: detail, type: "ValidationFault"))
        }
        struct Item: Encodable {
            var Name: String
            var `Type` = "Service"
            var IncomeAccountRef: QBORef
        }
        let body = try encode(Item(Name: name, IncomeAccountRef: QBORef(account.Id)))
        return try decode(try await post("/v3/company/\(realmID)/item", body: body, accessToken: accessToken), entity: "Item")
    }

    /// The account a new service item posts to.
    public static func incomeAccount(_ accounts: [QBOAccount], named wanted: String?) -> QBOAccount? {
        if let wanted { return accounts.first { $0.Name.caseInsensitiveCompare(wanted) == .orderedSame } }
        return accounts.first { $0.AccountSubType == "ServiceFeeIncome" } ?? accounts.first
    }

    private func requestQuery(_ requestID: String?) -> [URLQueryItem] {
        requestID.map { [URLQueryItem(name: "requestid", value: $0)] } ?? []
    }

    func encode(_ value: some Encodable) throws(QBOClientError) -> Data {
        do { return try JSONEncoder().encode(value) } catch { throw .unavailable("cannot encode the request") }
    }

    func decode<Entity: Decodable>(_ data: Data, entity: String) throws(QBOClientError) -> Entity {
        let decoder = JSONDecoder()
        decoder.userInfo[AnyKey.entityInfo] = entity
        do {
            return try decoder.decode(EntityEnvelope<Entity>.self, from: data).entity
        } catch {
            throw .unavailable("QuickBooks answered without the \(entity)")
        }
    }
}

/// A coding key for Intuit's entity-named envelopes.
struct AnyKey: CodingKey {
    static let entityInfo = CodingUserInfoKey(rawValue: "qbo.entity")!
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// `{"<Entity>":{…},"time":…}`; the entity name comes through the decoder's user info.
struct EntityEnvelope<Entity: Decodable>: Decodable {
    let entity: Entity
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        entity = try container.decode(Entity.self, forKey: AnyKey(decoder.userInfo[AnyKey.entityInfo] as? String ?? ""))
    }
}

/// `{"QueryResponse":{"<Entity>":[…],…},"time":…}`; no rows is `{"QueryResponse":{}}`.
struct QueryRows<Row: Decodable>: Decodable {
    let rows: [Row]
    init(from decoder: any Decoder) throws {
        let outer = try decoder.container(keyedBy: AnyKey.self)
        let response = try outer.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("QueryResponse"))
        rows = try response.decodeIfPresent([Row].self, forKey: AnyKey(decoder.userInfo[AnyKey.entityInfo] as? String ?? "")) ?? []
    }
}
