import Foundation
import Testing
@testable import QBSyncCore

@Suite struct RPCEnvelopeTests {
    func parse(_ text: String) -> Result<RPCEnvelope, RPCEnvelopeFailure> { RPCEnvelope.parse(Data(text.utf8)) }

    @Test func acceptsNumericStringAndNullIDs() throws {
        #expect(try parse(#"{"jsonrpc":"2.0","id":7,"method":"a"}"#).get() == RPCEnvelope(id: .int(7), method: "a", hasParams: false))
        #expect(try parse(#"{"jsonrpc":"2.0","id":"x-1","method":"a","params":{}}"#).get() == RPCEnvelope(id: .string("x-1"), method: "a", hasParams: true))
        #expect(try parse(#"{"jsonrpc":"2.0","id":null,"method":"a"}"#).get().id == .null)
        #expect(try parse(#"{"jsonrpc":"2.0","method":"a"}"#).get().id == nil, "no id: a client notification")
    }

    @Test func notJSONIsAParseError() {
        guard case .failure(let failure) = parse("{not json") else { Issue.record("expected failure"); return }
        #expect(failure.error.rpcError.code == -32700)
        #expect(failure.error.rpcError.reason == "parse_error")
    }

    @Test(arguments: [
        #"[1,2]"#, #""text""#, #"{"id":1,"method":"a"}"#, #"{"jsonrpc":"1.0","id":1,"method":"a"}"#,
        #"{"jsonrpc":"2.0","id":1}"#, #"{"jsonrpc":"2.0","id":1,"method":5}"#, #"{"jsonrpc":"2.0","id":1,"method":"a","params":3}"#,
        #"{"jsonrpc":"2.0","id":{"x":1},"method":"a"}"#,
    ])
    func invalidRequests(line: String) {
        guard case .failure(let failure) = parse(line) else { Issue.record("expected failure for \(line)"); return }
        #expect(failure.error.rpcError.code == -32600, "\(line)")
        #expect(failure.error.rpcError.reason == "invalid_request")
    }

    @Test func anInvalidRequestEchoesTheIDItCouldRead() {
        guard case .failure(let failure) = parse(#"{"jsonrpc":"2.0","id":"abc","method":7}"#) else { Issue.record("expected failure"); return }
        #expect(failure.id == .string("abc"))
    }
}

@Suite struct RPCParamsDecoderTests {
    struct Line: Decodable { var description: String; var amount: String }
    struct Demand: Decodable { var id: String; var lines: [Line] }
    struct Params: Decodable { var org: OrgID; var demand: Demand }

    func field(_ params: String) -> String? {
        let line = Data(#"{"jsonrpc":"2.0","id":1,"method":"m","params":\#(params)}"#.utf8)
        do {
            _ = try RPCParamsDecoder.decode(Params.self, from: line, hasParams: true)
            return nil
        } catch {
            #expect(error.rpcError.code == -32602)
            return error.rpcError.data["field"]?.stringValue
        }
    }

    @Test func namesTheFirstBadFieldAsADottedPath() {
        #expect(field(#"{"demand":{"id":"d","lines":[]}}"#) == "org")
        #expect(field(#"{"org":"acme"}"#) == "demand")
        #expect(field(#"{"org":"acme","demand":{"id":"d","lines":[{"description":"x","amount":5}]}}"#) == "demand.lines[0].amount")
        #expect(field(#"{"org":"no spaces allowed","demand":{"id":"d","lines":[]}}"#) == "org")
        #expect(field(#"{"org":"acme","demand":{"id":"d","lines":[]}}"#) == nil)
        #expect(field("[1]") == "params")
    }

    @Test func absentParamsDecodeAsAnEmptyObject() throws {
        struct Optional: Decodable { var org: OrgID? }
        let value = try RPCParamsDecoder.decode(Optional.self, from: Data(#"{"jsonrpc":"2.0","id":1,"method":"m"}"#.utf8), hasParams: false)
        #expect(value.org == nil)
    }
}

@Suite struct RPCErrorCodeTests {
    @Test func everyErrorHasItsContractCodeAndReason() {
        let org = OrgID("acme")!
        let table: [(QBSyncError, Int, String)] = [
            (.parseError(detail: "x"), -32700, "parse_error"),
            (.invalidRequest(detail: "x"), -32600, "invalid_request"),
            (.methodNotFound(method: "m"), -32601, "method_not_found"),
            (.invalidParams(field: "org", detail: "x"), -32602, "invalid_params"),
            (.internalError(correlationID: "c"), -32603, "internal"),
            (.integrationDisabled(missing: ["QUICKBOOKS_CLIENT_ID"]), 1001, "integration_disabled"),
            (.orgNotConnected(org), 1002, "org_not_connected"),
            (.needsReauthorization(org), 1003, "needs_reauthorization"),
            (.customerNotSynced(org: org, developmentID: "dev-9"), 1004, "customer_not_synced"),
            (.notFound(what: "demand d"), 1005, "not_found"),
            (.invalidState, 1006, "invalid_state"),
            (.realmInUse(realmID: "1"), 1007, "realm_in_use"),
            (.qboRejected(QBOFault(code: "6240", message: "Duplicate Name Exists Error", detail: "d", type: "ValidationFault")), 1008, "qbo_rejected"),
            (.qboUnavailable(detail: "timeout"), 1009, "qbo_unavailable"),
            (.rateLimited(retryAfterSeconds: 60), 1010, "rate_limited"),
            (.forbidden(method: "invoice.sync"), 1011, "forbidden"),
            (.conflict(detail: "voided"), 1012, "conflict"),
        ]
        for (error, code, reason) in table {
            #expect(error.rpcError.code == code, "\(error)")
            #expect(error.rpcError.reason == reason, "\(error)")
        }
    }

    @Test func errorDataCarriesTheContractsFields() {
        #expect(QBSyncError.invalidParams(field: "demand.dueDate", detail: "x").rpcError.data["field"] == "demand.dueDate")
        #expect(QBSyncError.internalError(correlationID: "abc").rpcError.data["correlationId"] == "abc")
        #expect(QBSyncError.integrationDisabled(missing: ["A", "B"]).rpcError.data["missing"] == ["A", "B"])
        #expect(QBSyncError.rateLimited(retryAfterSeconds: 60).rpcError.data["retryAfterSeconds"] == 60)
        let fault = QBSyncError.qboRejected(QBOFault(code: "6240", message: "m", detail: "d", type: "ValidationFault")).rpcError
        #expect(fault.data["qbo"]?["code"] == "6240")
        #expect(fault.data["qbo"]?["type"] == "ValidationFault")
        #expect(QBSyncError.customerNotSynced(org: OrgID("acme")!, developmentID: "dev-9").rpcError.message == "development dev-9 is not synced as a QuickBooks customer")
    }
}
