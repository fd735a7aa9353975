import Foundation
import NIOHTTP1
import QBSyncCore

/// `/v3/company/{realmId}/…` (reference §2.1): authentication, then the entity, query, CDC and
/// batch endpoints. Entity segments are case-insensitive; unknown parameters are ignored.
extension SimState {
    /// nil when the bearer token may use this company; otherwise Intuit's 401 or 403.
    func authenticate(_ request: SimRequest, realmID: String) -> SimResponse? {
        let current = now()
        guard let header = request.headers.first(name: "Authorization"), header.lowercased().hasPrefix("bearer ") else {
            return IntuitFault.unauthorized(detail: nil, now: current)
        }
        let presented = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard presented.count >= 20 && presented.count <= 4096 else {
            return IntuitFault.unauthorized(detail: "Malformed bearer token: too short or too long", now: current)
        }
        guard let token = accessTokens[presented] else { return IntuitFault.unauthorized(detail: nil, now: current) }
        guard current < token.expiresAt else { return IntuitFault.unauthorized(detail: "Token expired: \(presented.prefix(10))", now: current) }
        guard token.realmID == realmID, grants[token.grantID]?.revoked == false else { return IntuitFault.forbidden(now: current) }
        return nil
    }

    mutating func accounting(_ request: SimRequest, realmID: String, rest: [String]) -> SimResponse {
        let current = now()
        guard companies[realmID] != nil else { return IntuitFault.forbidden(now: current) }
        let segment = rest.first?.lowercased() ?? ""
        let entityTypes = ["customer": "Customer", "invoice": "Invoice", "item": "Item", "payment": "Payment", "account": "Account"]
        switch (request.method, segment, rest.count) {
        case (.GET, "companyinfo", 2):
            return read("CompanyInfo", id: "1", realmID: realmID)
        case (.GET, _, 2) where entityTypes[segment] != nil:
            return read(entityTypes[segment]!, id: rest[1], realmID: realmID)
        case (.POST, _, 1) where entityTypes[segment] != nil:
            guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: request.body) else {  // try?: not JSON is the fault below
                return IntuitFault.requestValidation("Request has invalid or unsupported property: the body is not a JSON object", now: current)
            }
            let operation = request.query["operation"]?.lowercased()
            switch entityTypes[segment]! {
            case "Customer": return saveCustomer(object, realmID: realmID)
            case "Invoice": return saveInvoice(object, realmID: realmID, operation: operation)
            case "Item": return saveItem(object, realmID: realmID)
            case "Payment": return savePayment(object, realmID: realmID, operation: operation, include: request.query["include"])
            default: return IntuitFault.requestValidation("Account writes are not supported", now: current)
            }
        case (.GET, "query", 1):
            guard let text = request.query["query"] else { return IntuitFault.requiredMissing("query", now: current) }
            return query(text, realmID: realmID)
        case (.POST, "query", 1):
            return query(String(decoding: request.body, as: UTF8.self), realmID: realmID)
        case (.GET, "cdc", 1):
            return changeDataCapture(entities: request.query["entities"], changedSince: request.query["changedSince"], realmID: realmID)
        case (.POST, "batch", 1):
            return batch(request.body, realmID: realmID)
        default:
            return IntuitFault.unsupportedOperation("/v3/company/\(realmID)/" + rest.joined(separator: "/"), now: current)
        }
    }
}
