public import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
public import QBSyncCore

/// A token endpoint answer (reference §1.3).
public struct TokenResponse: Sendable {
    public var accessToken: Secret<String>
    public var refreshToken: Secret<String>
    public var expiresIn: Int
    public var refreshTokenExpiresIn: Int
    /// Only with the opt-in header, and only from Intuit's 2025 SDK era on.
    public var refreshTokenHardExpiresIn: Int?
}

/// Intuit's OAuth 2.0 endpoints: authorize URL, code exchange, refresh, revoke.
public struct OAuthClient: Sendable {
    let http: HTTPClient
    public let endpoints: QBOEndpoints
    /// Intuit's token endpoint answers faster than the API; two thirds of the API's allowance.
    var timeout: TimeAmount { .nanoseconds(endpoints.timeout.nanoseconds * 2 / 3) }

    public init(http: HTTPClient, endpoints: QBOEndpoints) {
        self.http = http
        self.endpoints = endpoints
    }

    /// The consent URL for the accounting scope.
    public func authorizeURL(state: Secret<String>) -> String {
        var components = URLComponents(string: endpoints.authorizeURL)!
        components.queryItems = (components.queryItems ?? []) + [
            URLQueryItem(name: "client_id", value: endpoints.clientID),
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "scope", value: "com.intuit.quickbooks.accounting"),
            URLQueryItem(name: "redirect_uri", value: endpoints.redirectURI),
            URLQueryItem(name: "state", value: state.value),
        ]
        return components.url!.absoluteString
    }

    public func exchange(code: Secret<String>) async throws(QBOClientError) -> TokenResponse {
        try await tokenRequest([("grant_type", "authorization_code"), ("code", code.value), ("redirect_uri", endpoints.redirectURI)])
    }

    public func refresh(_ refreshToken: Secret<String>) async throws(QBOClientError) -> TokenResponse {
        try await tokenRequest([("grant_type", "refresh_token"), ("refresh_token", refreshToken.value)])
    }

    /// Revokes the grant. Best effort (pitfall 11): false when Intuit could not be reached or refused.
    public func revoke(_ token: Secret<String>) async -> Bool {
        var request = HTTPClientRequest(url: endpoints.revokeURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: basicAuthorization)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        let body = (try? JSONEncoder().encode(["token": token.value])) ?? Data()  // try?: a string dictionary always encodes
        request.body = .bytes(ByteBuffer(data: body))
        do {
            let response = try await http.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 1 << 16)  // try?: the body is drained, not read
            return response.status == .ok
        } catch {
            return false
        }
    }

    private var basicAuthorization: String {
        "Basic " + Data("\(endpoints.clientID):\(endpoints.clientSecret.value)".utf8).base64EncodedString()
    }

    private func tokenRequest(_ fields: [(String, String)]) async throws(QBOClientError) -> TokenResponse {
        var request = HTTPClientRequest(url: endpoints.tokenURL)
        request.method = .POST
        request.headers.add(name: "Authorization", value: basicAuthorization)
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "x-include-refresh-token-hard-expires-in", value: "true")
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        let status: HTTPResponseStatus
        let bytes: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = response.status
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw .unavailable("the token endpoint could not be reached: \(QBOHTTP.describe(error))")
        }
        return try Self.tokenAnswer(status: Int(status.code), body: Data(buffer: bytes))
    }

    /// What the token endpoint's answer means. Lifetimes are clamped to sane bounds (an absurd
    /// `expires_in` would otherwise schedule a refresh never, or in a storm).
    static func tokenAnswer(status: Int, body: Data) throws(QBOClientError) -> TokenResponse {
        let json = try? JSONDecoder().decode(JSONValue.self, from: body)  // try?: a body that is not JSON has no fields
        // Pitfall 6: look at the status and `error` before trusting any field.
        switch (status, json?["error"]?.stringValue) {
        case (200, nil):
            guard let access = json?["access_token"]?.stringValue, let refresh = json?["refresh_token"]?.stringValue,
                let expiresIn = json?["expires_in"]?.intValue, let refreshExpiresIn = json?["x_refresh_token_expires_in"]?.intValue
            else { throw .unavailable("the token endpoint answered 200 without the token fields") }
            let hard = json?["x_refresh_token_hard_expires_in"]?.intValue.flatMap { $0 > 0 ? Int(clamp($0, 1...fiveYears)) : nil }
            return TokenResponse(
                accessToken: Secret(access), refreshToken: Secret(refresh), expiresIn: Int(clamp(expiresIn, 1...86_400)),
                refreshTokenExpiresIn: Int(clamp(refreshExpiresIn, 1...fiveYears)), refreshTokenHardExpiresIn: hard
            )
        case (_, "invalid_grant"?):
            throw .invalidGrant
        case (401, _), (_, "invalid_client"?):
            throw .invalidClient
        case (429, _):
            throw .throttled(retryAfterSeconds: 60)
        case (500..., _):
            throw .unavailable("the token endpoint answered \(status)")
        default:
            throw .rejected(QBOFault(code: String(status), message: json?["error"]?.stringValue ?? "token request refused", detail: json?["error_description"]?.stringValue ?? "", type: "OAuth"))
        }
    }
}

/// Intuit's hard end of a grant, plus a day.
let fiveYears: Int64 = 5 * 366 * 86_400

func clamp(_ value: Int64, _ range: ClosedRange<Int64>) -> Int64 { min(max(value, range.lowerBound), range.upperBound) }

/// Helpers shared by the Intuit clients.
enum QBOHTTP {
    /// A short, token-free description of a transport error.
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timed out"
            case .remoteConnectionClosed: return "the connection was closed"
            default: return String(describing: error)
            }
        }
        if let error = error as? IOError {
            // Connection refused, no route, reset: errno's words, never an address with a token.
            return "\(error.errnoCode == ECONNREFUSED ? "connection refused" : String(cString: strerror(error.errnoCode)))"
        }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describe(first.error)
        }
        return String(describing: type(of: error))
    }
}
