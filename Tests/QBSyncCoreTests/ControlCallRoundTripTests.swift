import Foundation
import Testing
import QBSyncCore

/// Every ``ControlCall``'s params and result go through a client's decode and encode unchanged,
/// against the spec's example lines (``ControlCallExamples``).
@Suite struct ControlCallRoundTripTests {
    typealias E = ControlCallExamples

    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    /// Decodes `text` as `T` and encodes it again.
    static func again<T: Codable>(_ type: T.Type, _ text: String) throws -> JSONValue {
        let value = try JSONDecoder().decode(T.self, from: Data(text.utf8))
        return try json(String(decoding: JSONEncoder().encode(value), as: UTF8.self))
    }

    static func check<C: ControlCall>(_ call: C.Type, params: String?, result: String) -> E.Case {
        E.Case(method: C.method, params: params, result: result) { params, result in
            (try params.map { try again(C.Params.self, $0) }, try again(C.Result.self, result))
        }
    }

    static let cases: [E.Case] = [
        check(DaemonStatusCall.self, params: nil, result: E.daemonStatus),
        check(OrgListCall.self, params: #"{"status":"connected","limit":1000,"cursor":"bzphY21l"}"#, result: #"{"orgs":[\#(E.orgInfo)],"nextCursor":null}"#),
        check(OrgShowCall.self, params: #"{"org":"acme"}"#, result: E.orgInfo),
        check(
            OAuthBeginCall.self, params: #"{"org":"acme"}"#,
            result: #"{"authorizeUrl":"https://appcenter.intuit.com/connect/oauth2?state=s","state":"s","expiresAt":"2026-11-24T10:10:00Z"}"#
        ),
        check(OAuthCompleteCall.self, params: #"{"state":"s","code":"c","realmId":"9341453000000000","fresh":true}"#, result: E.orgInfo),
        check(
            OrgTestCall.self, params: #"{"org":"acme"}"#,
            result: #"{"ok":true,"realmId":"9341453000000000","companyName":"Acme Block Management Ltd","latencyMs":120,"invoiceItem":null}"#
        ),
        check(OrgDisconnectCall.self, params: #"{"org":"acme"}"#, result: #"{"org":"acme","status":"disconnected","revoked":true}"#),
        check(TokenRefreshCall.self, params: #"{"org":"acme"}"#, result: E.orgInfo),
        check(CustomerSyncCall.self, params: #"{"org":"acme","development":\#(E.development),"force":true}"#, result: E.customerMapping),
        check(InvoiceSyncCall.self, params: #"{"org":"acme","demand":\#(E.demand),"force":false}"#, result: E.mapping),
        check(InvoiceRefreshCall.self, params: #"{"org":"acme","demandId":"dem-1"}"#, result: E.mapping),
        check(
            EntityListCall.self, params: #"{"org":"acme","kind":"demand","status":"Outstanding","limit":100,"cursor":"bTo0Mg=="}"#,
            result: #"{"entities":[\#(E.mapping)],"nextCursor":"bTo0Mg=="}"#
        ),
        check(
            SyncSummaryCall.self, params: #"{"org":"acme"}"#,
            result: #"{"customers":2,"invoices":{"Outstanding":1,"Paid":2,"Overdue":0,"Voided":0,"total":3},"reads":{"month":"2026-11","count":7}}"#
        ),
        check(
            EventListCall.self, params: #"{"org":"acme","status":"failed","limit":100,"cursor":"ZTo5"}"#,
            result: #"{"events":[\#(E.event)],"nextCursor":null}"#
        ),
        check(EventRetryCall.self, params: #"{"id":123}"#, result: E.event),
        check(SubscribeCall.self, params: #"{"org":"acme","topics":["invoice.status_changed"]}"#, result: #"{"subscribed":true,"topics":["invoice.status_changed"]}"#),
        check(
            InvoiceExplainCall.self, params: #"{"org":"acme","demandId":"dem-1"}"#,
            result: #"{"mapping":\#(E.mapping),"status":"Outstanding","rule":"open balance, not yet due","rebuilt":null,"chain":[{"at":"2026-11-24T10:00:00Z","kind":"push","requestId":"r-1","syncToken":"0"}]}"#
        ),
        check(
            AuditVerifyCall.self, params: #"{"org":"acme"}"#,
            result: #"{"checked":3,"mismatches":[{"org":"acme","demandId":"dem-1","stored":"Paid","rebuilt":null,"rule":null}],"archives":{"checked":0,"verified":0,"missing":[],"mismatched":[]}}"#
        ),
        check(
            QuotaShowCall.self, params: nil,
            result: String(E.quota.dropLast()) + #","byRealm":[{"realmId":"9341453000000000","org":null,"reads":1234}]}"#
        ),
        check(
            LogArchiveCall.self, params: #"{"olderThanDays":90}"#,
            result: #"{"archives":[{"id":1,"file":"webhook-log-0001.jsonl"}],"deliveries":10,"events":12}"#
        ),
        check(LogArchivesCall.self, params: nil, result: #"{"directory":"/var/lib/qbsyncd/archives","archives":[]}"#),
    ]

    @Test(arguments: cases)
    func survivesAClientsDecodeAndEncode(_ example: E.Case) throws {
        let again = try example.roundTrip(example.params, example.result)
        if let params = example.params {
            #expect(again.params == (try Self.json(params)), "params of \(example.method)")
        }
        // Every member the spec shows comes back with its value; `null`s stay `null`.
        let missing = Self.missing(from: again.result, expected: try Self.json(example.result))
        #expect(missing.isEmpty, "\(example.method): \(missing)")
    }

    @Test func everyMethodHasAnExample() {
        let methods = Set(Self.cases.map(\.method))
        let spec: Set<String> = [
            "daemon.status", "org.list", "org.show", "oauth.begin", "oauth.complete", "org.test", "org.disconnect", "token.refresh",
            "customer.sync", "invoice.sync", "invoice.refresh", "entity.list", "sync.summary", "event.list", "event.retry", "subscribe",
            "invoice.explain", "audit.verify", "quota.show",
        ]
        #expect(spec.isSubset(of: methods))
    }

    @Test(arguments: [
        (InvoiceStatusChanged.method, #"{"org":"acme","demandId":"dem-1","qboId":"130","from":"Outstanding","to":"Paid","balance":"0.00","at":"2026-11-24T10:00:00Z"}"#),
        (ConnectionStatusChanged.method, #"{"org":"acme","from":"connected","to":"needs_reauthorization","reason":"refresh token rejected","at":"2026-11-24T10:00:00Z"}"#),
        (QuotaStatusChanged.method, #"{"from":"ok","to":"warning","used":400000,"budget":500000,"forecast":520000,"at":"2026-11-24T10:00:00Z"}"#),
    ])
    func notificationsSurvive(method: String, line: String) throws {
        let again: JSONValue
        switch method {
        case InvoiceStatusChanged.method: again = try Self.again(InvoiceStatusChanged.self, line)
        case ConnectionStatusChanged.method: again = try Self.again(ConnectionStatusChanged.self, line)
        default: again = try Self.again(QuotaStatusChanged.self, line)
        }
        #expect(again == (try Self.json(line)))
    }

    @Test func noParamsSendsAnEmptyObject() throws {
        #expect(String(decoding: try JSONEncoder().encode(NoParams()), as: UTF8.self) == "{}")
    }

    /// Paths in `expected` whose value `actual` lacks or differs in (members `actual` adds are fine).
    static func missing(from actual: JSONValue, expected: JSONValue, path: String = "") -> [String] {
        switch (expected, actual) {
        case (.object(let want), .object(let have)):
            return want.flatMap { key, value in
                have[key].map { missing(from: $0, expected: value, path: path + "." + key) } ?? [path + "." + key + " (absent)"]
            }
        case (.array(let want), .array(let have)) where want.count == have.count:
            return zip(want, have).enumerated().flatMap { index, pair in missing(from: pair.1, expected: pair.0, path: path + "[\(index)]") }
        case (.double(let want), .int(let have)) where Double(have) == want, (.int(let have), .double(let want)) where Double(have) == want:
            return []
        default:
            return expected == actual ? [] : [path + " (\(actual) ≠ \(expected))"]
        }
    }
}
