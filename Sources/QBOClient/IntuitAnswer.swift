public import Foundation
public import QBSyncCore

/// What an Intuit error answer says, read from its body whatever the format: the Data Services
/// `Fault` (JSON), the gateway's lower-case `fault` (JSON), or `IntuitResponse` XML
/// (reference/intuit-samples). Classification is by status first (throttling and gateway
/// errors are not always JSON), then by Intuit's code.
public enum IntuitAnswer {
    /// The first error of a Fault body, or nil when the body is not Intuit's.
    public static func fault(in body: Data) -> QBOFault? {
        if let json = try? JSONDecoder().decode(JSONValue.self, from: body) {  // try?: a body that is not JSON is read as text
            for (faultKey, errorKey, messageKey, detailKey) in [("Fault", "Error", "Message", "Detail"), ("fault", "error", "message", "detail")] {
                guard let fault = json[faultKey], let error = fault[errorKey]?.arrayValue?.first else { continue }
                return QBOFault(
                    code: error["code"]?.stringValue ?? "", message: error[messageKey]?.stringValue ?? "", detail: error[detailKey]?.stringValue ?? "",
                    type: fault["type"]?.stringValue ?? ""
                )
            }
            return nil
        }
        guard let text = String(data: body.prefix(64 << 10), encoding: .utf8), text.contains("<Fault") else { return nil }
        return QBOFault(
            code: attribute("code", of: "Error", in: text) ?? "", message: element("Message", in: text) ?? "", detail: element("Detail", in: text) ?? "",
            type: attribute("type", of: "Fault", in: text) ?? ""
        )
    }

    /// How a non-200 answer ends the call.
    public static func classify(status: Int, body: Data, retryAfter: String?) -> QBOClientError {
        let fault = fault(in: body)
        let words = fault.map { $0.code + " " + $0.message } ?? ""
        switch status {
        case 401:
            // 120 (AuthorizationFailure: the connecting user lost access) and 130 (wrong cluster)
            // are not cured by a refresh; 3200 (an expired or unknown token) is.
            if let fault, ["120", "130"].contains(fault.code) { return .forbidden(fault) }
            return .unauthorized
        case 403:
            // Before 2017 Intuit throttled with a 403; gateways and proxies answer 403 HTML.
            if fault?.code == "3001" || words.contains("ThrottleExceeded") { return .throttled(retryAfterSeconds: retryAfter.flatMap(Int.init) ?? 60) }
            if let fault, fault.code == "3100" || words.contains("AuthorizationFailed") || words.contains("AuthorizationFailure") { return .forbidden(fault) }
            return .unavailable("QuickBooks answered 403 " + (fault.map { "with fault \($0.code)" } ?? "without Intuit's fault (a gateway or proxy?)"))
        case 429:
            if String(decoding: body.prefix(4096), as: UTF8.self).contains("CorePlus monthly limit") { return .readQuotaExhausted(nil) }
            return .throttled(retryAfterSeconds: retryAfter.flatMap(Int.init) ?? 60)
        case 500...599:
            return .unavailable("QuickBooks answered \(status)")
        default:
            if let fault { return .rejected(fault) }
            return .unavailable("QuickBooks answered \(status) without a Fault")
        }
    }

    static func attribute(_ name: String, of tag: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(tag) ") ?? text.range(of: "<\(tag)\t") else { return nil }
        let rest = text[open.upperBound...].prefix { $0 != ">" }
        guard let key = rest.range(of: "\(name)=\"") else { return nil }
        return String(rest[key.upperBound...].prefix { $0 != "\"" })
    }

    static func element(_ tag: String, in text: String) -> String? {
        guard let open = text.range(of: "<\(tag)>"), let close = text.range(of: "</\(tag)>", range: open.upperBound..<text.endIndex) else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }
}
