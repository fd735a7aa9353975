import Foundation
import NIOHTTP1
import QBSyncCore

/// Intuit's error answers, byte-shaped as Intuit sends them (reference §2.8).
enum IntuitFault {
    /// A data-service fault (HTTP 400/500): `{"Fault":{"Error":[…],"type":…},"time":…}`. Intuit
    /// often leaves `element` out (the 6240, 4001, 500 samples) and sends `""` in others (610,
    /// 2500, 5010): nil omits it.
    static func data(
        _ status: HTTPResponseStatus, code: String, message: String, detail: String, type: String = "ValidationFault",
        element: String? = nil, now: Date
    ) -> SimResponse {
        var error: [String: JSONValue] = ["Message": .string(message), "Detail": .string(detail), "code": .string(code)]
        if let element { error["element"] = .string(element) }
        let body: JSONValue = [
            "Fault": ["Error": [.object(error)], "type": .string(type)],
            "time": .string(IntuitTime.pacific(now)),
        ]
        return .json(status, body)
    }

    static func staleObject(now: Date) -> SimResponse {
        data(
            .badRequest, code: "5010", message: "Stale Object Error",
            detail: "Stale Object Error : You and another user were working on the same thing. Please try again.", element: "", now: now
        )
    }

    /// 610, with the "made inactive" wording and an empty `element` whatever the cause (the batch
    /// sample answers a missing invoice so): a client cannot tell which reference it was.
    static func objectNotFound(_ type: String, id: String, now: Date) -> SimResponse {
        data(
            .badRequest, code: "610", message: "Object Not Found",
            detail: "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.",
            element: "", now: now
        )
    }

    /// 2500, with an empty `element` as in the sample (Intuit does not name the reference).
    static func invalidReference(_ element: String, id: String, now: Date) -> SimResponse {
        data(
            .badRequest, code: "2500", message: "Invalid Reference Id",
            detail: "Invalid Reference Id : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.",
            element: "", now: now
        )
    }

    static func requiredMissing(_ element: String, now: Date) -> SimResponse {
        data(
            .badRequest, code: "2020", message: "Required param missing, need to supply the required value for the API",
            detail: "Required parameter \(element) is missing in the request", element: element, now: now
        )
    }

    static func duplicateName(now: Date) -> SimResponse {
        data(
            .badRequest, code: "6240", message: "Duplicate Name Exists Error",
            detail: "The name supplied already exists. : Another customer, vendor or employee is already using this name. Please use a different name.",
            now: now
        )
    }

    static func businessValidation(_ detail: String, now: Date) -> SimResponse {
        data(.badRequest, code: "6000", message: "A business validation error has occurred while processing your request", detail: "Business Validation Error: \(detail)", now: now)
    }

    static func requestValidation(_ detail: String, now: Date) -> SimResponse {
        data(.badRequest, code: "2010", message: "Request has invalid or unsupported property", detail: detail, now: now)
    }

    /// A query Intuit's parser cannot read (4000, as in the issues quoting Intuit's answers).
    static func queryParser(_ detail: String, now: Date) -> SimResponse {
        data(.badRequest, code: "4000", message: "Error parsing query", detail: "QueryParserError: \(detail)", type: "ValidationFault", now: now)
    }

    /// A query that parses but names no entity Intuit knows (the 4001 sample).
    static func queryValidation(_ detail: String, now: Date) -> SimResponse {
        data(.badRequest, code: "4001", message: "Invalid query", detail: "QueryValidationError: \(detail)", type: "ValidationFault", now: now)
    }

    /// A path Intuit has no resource for: HTTP 400 with code "500" (the unsupported-operation sample).
    static func unsupportedOperation(_ path: String, now: Date) -> SimResponse {
        data(
            .badRequest, code: "500", message: "Unsupported Operation",
            detail: "Operation Could not find resource for relative : \(path) of full path: \(path) is not supported.", now: now
        )
    }

    static func systemFault(now: Date) -> SimResponse {
        data(
            .internalServerError, code: "10000", message: "An application error has occurred while processing your request",
            detail: "System Failure Error: An unexpected error occurred while accessing or saving your data. Please wait a few minutes and try again.",
            type: "SystemFault", now: now
        )
    }

    /// The gateway's 401: lower-case keys, epoch-millisecond `time`.
    static func unauthorized(detail: String?, now: Date) -> SimResponse {
        gateway(.unauthorized, message: "message=AuthenticationFailed; errorCode=003200; statusCode=401", detail: detail, code: "3200", type: "AUTHENTICATION", now: now)
    }

    /// The gateway's 403: the token is for another company, or the app was disconnected.
    static func forbidden(now: Date) -> SimResponse {
        gateway(.forbidden, message: "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403", detail: nil, code: "3100", type: "SERVICE", now: now)
    }

    /// Intuit's other authentication answers, in the shapes of reference/intuit-samples: 401 120
    /// (the connecting user lost access) and 130 (wrong cluster) as XML, the pre-2017 403 throttle
    /// (3001, XML), a proxy's 403 page (`waf`), and the usual 3200 and 3100.
    static func authAnswer(status: Int, code: String) -> SimResponse? {
        func xml(_ httpStatus: HTTPResponseStatus, type: String, message: String, detail: String) -> SimResponse {
            .text(
                httpStatus,
                #"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="\#(IntuitTime.pacific(Date()))"><Fault type="\#(type)"><Error code="\#(code)"><Message>\#(message)</Message><Detail>\#(detail)</Detail></Error></Fault></IntuitResponse>"#,
                contentType: "application/xml"
            )
        }
        switch (status, code) {
        case (401, "3200"): return unauthorized(detail: nil, now: Date())
        case (401, "120"): return xml(.unauthorized, type: "AuthenticationFault", message: "message=AuthorizationFailure; errorCode=000120; statusCode=401", detail: "Authorization Failure")
        case (401, "130"):
            return xml(.unauthorized, type: "AuthenticationFault", message: "Accessing Wrong Cluster", detail: "WrongClusterError: -11017-You have accessed the wrong server.  You will now be redirected. , statusCode: 401")
        case (403, "3100"): return forbidden(now: Date())
        case (403, "3001"): return xml(.forbidden, type: "SERVICE", message: "message=ThrottleExceeded; errorCode=003001; statusCode=403", detail: "The request limit was reached.  Try again later")
        case (403, "waf"): return .text(.forbidden, "<html><head><title>403 Forbidden</title></head><body><h1>Request blocked</h1></body></html>", contentType: "text/html")
        default: return nil
        }
    }

    private static func gateway(_ status: HTTPResponseStatus, message: String, detail: String?, code: String, type: String, now: Date) -> SimResponse {
        let body: JSONValue = [
            "warnings": nil, "intuitObject": nil,
            "fault": ["error": [["message": .string(message), "detail": detail.map(JSONValue.string) ?? .null, "code": .string(code), "element": nil]], "type": .string(type)],
            "report": nil, "queryResponse": nil, "batchItemResponse": [], "attachableResponse": [], "syncErrorResponse": nil, "requestId": nil,
            "time": .int(Int64(now.timeIntervalSince1970 * 1000)), "status": nil, "cdcresponse": [],
        ]
        return .json(status, body)
    }

    /// Throttling comes back as XML even to a JSON client (pitfall 9).
    static func throttled(detail: String = "The request limit was reached.  Try again later") -> SimResponse {
        let xml = """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="\(IntuitTime.pacific(Date()))"><Fault type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message><Detail>\(detail)</Detail></Error></Fault></IntuitResponse>
            """
        return .text(.tooManyRequests, xml, contentType: "application/xml")
    }

    /// The app's CorePlus calls for the month are spent: the throttle's shape, with wording a client
    /// can tell from the per-minute limit (Intuit's exact text unconfirmed).
    static func monthlyLimitReached() -> SimResponse {
        throttled(detail: "CorePlus monthly limit reached for this app. Try again next month")
    }

    /// Gateway errors carry an HTML page or nothing.
    static func gatewayError(_ status: HTTPResponseStatus) -> SimResponse {
        if status.code == 503 { return SimResponse(status: status) }
        return .text(status, "<html><head><title>\(status.code) \(status.reasonPhrase)</title></head><body><h1>\(status.reasonPhrase)</h1></body></html>", contentType: "text/html")
    }
}
