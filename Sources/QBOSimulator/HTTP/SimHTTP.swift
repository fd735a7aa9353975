public import Foundation
public import NIOHTTP1

/// One HTTP request as the simulator sees it: whole, with the query parsed.
public struct SimRequest: Sendable {
    public var method: HTTPMethod
    /// The path without the query, percent-decoded.
    public var path: String
    /// Query parameters; a repeated name keeps its first value.
    public var query: [String: String]
    public var headers: HTTPHeaders
    public var body: Data

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: Data) {
        self.method = method
        self.headers = headers
        self.body = body
        let components = URLComponents(string: uri)
        path = components?.percentEncodedPath.removingPercentEncoding ?? uri
        var query: [String: String] = [:]
        // Form-style decoding, as Intuit's servers do: `+` is a space (clients send both encodings).
        func decode(_ text: String) -> String { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text }
        for item in components?.percentEncodedQueryItems ?? [] {
            let name = decode(item.name)
            if query[name] == nil { query[name] = decode(item.value ?? "") }
        }
        self.query = query
    }

    /// Form fields of an `application/x-www-form-urlencoded` body (`+` is a space).
    public var formFields: [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }
}

/// What the simulator does with a request: answer it, or (a fault) drop the connection.
public enum SimOutcome: Sendable {
    case respond(SimResponse)
    case dropConnection
}

/// One HTTP response.
public struct SimResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: [(String, String)]
    public var body: Data

    public init(status: HTTPResponseStatus, headers: [(String, String)] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: HTTPResponseStatus, _ value: some Encodable, headers: [(String, String)] = []) -> SimResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)  // try?: response values always encode
        return SimResponse(status: status, headers: [("Content-Type", "application/json;charset=UTF-8")] + headers, body: body)
    }

    public static func text(_ status: HTTPResponseStatus, _ text: String, contentType: String = "text/plain;charset=UTF-8") -> SimResponse {
        SimResponse(status: status, headers: [("Content-Type", contentType)], body: Data(text.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}
