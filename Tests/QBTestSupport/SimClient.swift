import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOFoundationCompat
public import NIOHTTP1
public import QBSyncCore

/// A plain HTTP client for contract tests: raw status, headers and body, nothing interpreted.
public struct SimClient: Sendable {
    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: Data
        public var json: JSONValue { (try? JSONDecoder().decode(JSONValue.self, from: body)) ?? .null }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public let base: String
    public init(base: String) { self.base = base }
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        // Concurrency tests need more than the default 8 connections to one host.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public func send(_ method: HTTPMethod, _ path: String, headers: [(String, String)] = [], body: Data? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        let response = try await Self.http.execute(request, timeout: .seconds(20))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes))
    }

    public func get(_ path: String, token: String? = nil) async throws -> Reply {
        try await send(.GET, path, headers: token.map { [("Authorization", "Bearer \($0)"), ("Accept", "application/json")] } ?? [])
    }

    public func post(_ path: String, json: JSONValue, token: String? = nil) async throws -> Reply {
        var headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        return try await send(.POST, path, headers: headers, body: try JSONEncoder().encode(json))
    }

    public func form(_ path: String, _ fields: [(String, String)], basic: (String, String)? = (SimulatorProcess.clientID, SimulatorProcess.clientSecret), extraHeaders: [(String, String)] = []) async throws -> Reply {
        var headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")] + extraHeaders
        if let basic { headers.append(("Authorization", "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString())) }
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1)" }.joined(separator: "&")
        return try await send(.POST, path, headers: headers, body: Data(body.utf8))
    }

    /// The authorize redirect's query, for a valid request (or the given overrides).
    public func authorize(realmID: String? = nil, overrides: [String: String] = [:]) async throws -> Reply {
        var parameters = [
            "client_id": SimulatorProcess.clientID, "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
            "redirect_uri": SimulatorProcess.redirectURI, "state": "state-123",
        ]
        if let realmID { parameters["realmId"] = realmID }
        parameters.merge(overrides) { _, new in new }
        var components = URLComponents()
        components.queryItems = parameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        return try await get("/connect/oauth2" + (components.percentEncodedQuery.map { "?" + $0 } ?? ""))
    }

    public static func redirectQuery(_ reply: Reply) -> [String: String] {
        guard let location = reply.headers.first(name: "Location"), let items = URLComponents(string: location)?.queryItems else { return [:] }
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    /// Connects the app to a company: authorize, then exchange the code.
    public func connect(realmID: String? = nil) async throws -> (access: String, refresh: String, realmID: String) {
        let query = Self.redirectQuery(try await authorize(realmID: realmID))
        let tokens = try await form("/oauth2/v1/tokens/bearer", [("grant_type", "authorization_code"), ("code", query["code"] ?? ""), ("redirect_uri", SimulatorProcess.redirectURI)]).json
        return (tokens["access_token"]?.stringValue ?? "", tokens["refresh_token"]?.stringValue ?? "", query["realmId"] ?? "")
    }
}
