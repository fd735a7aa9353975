import QBSyncCore

/// Params that name the org a call is for.
protocol OrgScopedParams: Encodable {
    var org: OrgID { get }
}

extension CustomerSyncCall.Params: OrgScopedParams {}
extension InvoiceSyncCall.Params: OrgScopedParams {}
extension DemandParams: OrgScopedParams {}

/// A method whose work belongs to the org's company (a push): among several instances it runs on
/// the one holding the company's lease (``CompanyCalls``). Its work needs nothing of the caller's
/// connection, so it can be carried out for a call that reached another instance.
protocol CompanyMethod: RPCMethod where Params: OrgScopedParams, Result: Codable {
    func carryOut(_ params: Params) async throws -> Result
}

extension CompanyMethod {
    func handle(_ params: Params, context: RPCContext) async throws -> Result { try await carryOut(params) }
}

/// A ``CompanyMethod`` as the method table holds it: run here or on the company's holder.
struct OnHolder<Method: CompanyMethod>: RPCMethod {
    typealias Call = Method.Call
    static var access: RPCAccess { Method.access }
    static var requiresIntegration: Bool { Method.requiresIntegration }
    let method: Method
    let calls: CompanyCalls

    init(_ method: Method, calls: CompanyCalls) {
        self.method = method
        self.calls = calls
        calls.register(method)
    }

    func handle(_ params: Method.Params, context: RPCContext) async throws -> Method.Result {
        try await calls.run(Method.name, org: params.org, params: params, as: Method.Result.self) { try await method.carryOut(params) }
    }
}
