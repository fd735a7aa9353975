import Foundation
import NIOHTTP1
import QBSyncCore

/// Intuit's OAuth 2.0 server: discovery, authorize, token and revoke (reference §1).
extension SimState {
    /// The discovery document, every endpoint pointing at the simulator itself.
    func discovery(baseURL: String) -> SimResponse {
        let document: JSONValue = [
            "issuer": "https://oauth.platform.intuit.com/op/v1",
            "authorization_endpoint": .string(baseURL + "/connect/oauth2"),
            "token_endpoint": .string(baseURL + "/oauth2/v1/tokens/bearer"),
            "userinfo_endpoint": .string(baseURL + "/v1/openid_connect/userinfo"),
            "revocation_endpoint": .string(baseURL + "/v2/oauth2/tokens/revoke"),
            "jwks_uri": .string(baseURL + "/op/v1/jwks"),
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        ]
        return .json(.ok, document)
    }

    /// `GET /connect/oauth2`: consent is granted at once. An unknown client or an unregistered
    /// redirect URI gets an error page (Intuit never redirects to an unregistered URI); other
    /// defects are redirected back as OAuth errors with the state.
    mutating func authorize(_ request: SimRequest) -> SimResponse {
        let query = request.query
        guard query["client_id"] == configuration.clientID else {
            return .text(.badRequest, "<html><body><h1>Invalid client_id</h1></body></html>", contentType: "text/html")
        }
        guard let redirectURI = query["redirect_uri"], redirectURI == configuration.redirectURI else {
            return .text(.badRequest, "<html><body><h1>The redirect_uri query parameter value is invalid</h1></body></html>", contentType: "text/html")
        }
        let state = query["state"]
        func redirect(_ parameters: [(String, String?)]) -> SimResponse {
            var components = URLComponents(string: redirectURI)!
            components.queryItems = (components.queryItems ?? []) + parameters.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
            return SimResponse(status: .found, headers: [("Location", components.url!.absoluteString)])
        }
        guard query["response_type"] == "code" else { return redirect([("error", "unsupported_response_type"), ("state", state)]) }
        let scopes = Set((query["scope"] ?? "").split(whereSeparator: { $0 == " " || $0 == "+" }).map(String.init))
        guard scopes.contains("com.intuit.quickbooks.accounting") else { return redirect([("error", "invalid_scope"), ("state", state)]) }
        let realmID = query["realmId"] ?? defaultRealmID
        guard companies[realmID] != nil else { return redirect([("error", "access_denied"), ("state", state)]) }
        let code = Opaque.token(prefix: "AB11", length: 40)
        codes[code] = AuthorizationCode(realmID: realmID, redirectURI: redirectURI, issuedAt: now(), used: false, grantID: nil)
        return redirect([("code", code), ("state", state), ("realmId", realmID)])
    }

    /// `POST /oauth2/v1/tokens/bearer`.
    mutating func token(_ request: SimRequest, injectInvalidGrant: Bool) -> SimResponse {
        guard authenticatesClient(request) else { return tokenError(.unauthorized, "invalid_client") }
        let form = request.formFields
        switch form["grant_type"] {
        case "authorization_code":
            guard let code = form["code"], var issued = codes[code] else { return tokenError(.badRequest, "invalid_grant") }
            if issued.used {
                // A second redemption poisons the grant the first one made.
                if let grantID = issued.grantID { revokeGrant(grantID) }
                return tokenError(.badRequest, "invalid_grant")
            }
            issued.used = true
            codes[code] = issued
            guard now().timeIntervalSince(issued.issuedAt) <= Double(configuration.authorizationCodeTTL) else {
                return tokenError(.badRequest, "invalid_grant")
            }
            guard form["redirect_uri"] == issued.redirectURI else { return tokenError(.badRequest, "invalid_grant") }
            if injectInvalidGrant { return tokenError(.badRequest, "invalid_grant") }
            let grantID = UUID().uuidString
            let refresh = Opaque.token(prefix: "AB11", length: 48)
            let issuedAt = now()
            grants[grantID] = Grant(
                realmID: issued.realmID, createdAt: issuedAt, refreshToken: refresh, refreshIssuedAt: issuedAt,
                refreshExpiresAt: min(issuedAt.addingTimeInterval(Double(configuration.refreshTokenTTL)), issuedAt.addingTimeInterval(Double(configuration.refreshTokenHardLifetime)))
            )
            refreshTokens[refresh] = grantID
            issued.grantID = grantID
            codes[code] = issued
            return tokenReply(grantID: grantID, request: request)
        case "refresh_token":
            guard let presented = form["refresh_token"], let grantID = refreshTokens[presented], var grant = grants[grantID], !grant.revoked,
                grant.refreshToken == presented, now() < grant.refreshExpiresAt
            else { return tokenError(.badRequest, "invalid_grant") }
            if injectInvalidGrant { return tokenError(.badRequest, "invalid_grant") }
            let current = now()
            let hardEnd = grant.createdAt.addingTimeInterval(Double(configuration.refreshTokenHardLifetime))
            if current.timeIntervalSince(grant.refreshIssuedAt) >= Double(configuration.refreshRotationInterval) {
                // Rotation: the new value is valid for the rolling window; the old one stops working.
                let refresh = Opaque.token(prefix: "AB11", length: 48)
                grant.refreshToken = refresh
                grant.refreshIssuedAt = current
                grant.refreshExpiresAt = min(current.addingTimeInterval(Double(configuration.refreshTokenTTL)), hardEnd)
                refreshTokens[refresh] = grantID
            }
            grants[grantID] = grant
            return tokenReply(grantID: grantID, request: request)
        case nil:
            return tokenError(.badRequest, "invalid_request")
        default:
            return tokenError(.badRequest, "unsupported_grant_type")
        }
    }

    /// `POST /v2/oauth2/tokens/revoke`: either token ends the grant. 200 empty; 400 empty for an
    /// unknown or already revoked token; 401 for a Bearer (not Basic) caller.
    mutating func revoke(_ request: SimRequest) -> SimResponse {
        if request.headers.first(name: "Authorization")?.lowercased().hasPrefix("bearer ") == true { return SimResponse(status: .unauthorized) }
        guard authenticatesClient(request) else { return tokenError(.unauthorized, "invalid_client") }
        var token: String?
        if let object = try? JSONDecoder().decode([String: String].self, from: request.body) {  // try?: not JSON: read as a form
            token = object["token"]
        } else {
            token = request.formFields["token"]
        }
        guard let token, !token.isEmpty else { return SimResponse(status: .badRequest) }
        let grantID = refreshTokens[token].flatMap { grants[$0]?.refreshToken == token ? $0 : nil } ?? accessTokens[token]?.grantID
        guard let grantID, let grant = grants[grantID], !grant.revoked else { return SimResponse(status: .badRequest) }
        revokeGrant(grantID)
        return SimResponse(status: .ok)
    }

    mutating func revokeGrant(_ grantID: String) {
        grants[grantID]?.revoked = true
    }

    /// Every grant of a company stops working (`POST /sim/tokens/revoke-all`).
    mutating func revokeAll(realmID: String) -> Int {
        var count = 0
        for (id, grant) in grants where grant.realmID == realmID && !grant.revoked {
            grants[id]?.revoked = true
            count += 1
        }
        return count
    }

    /// HTTP Basic (`client_secret_basic`) or form fields (`client_secret_post`).
    private func authenticatesClient(_ request: SimRequest) -> Bool {
        if let header = request.headers.first(name: "Authorization"), header.lowercased().hasPrefix("basic ") {
            guard let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
            else { return false }
            return String(text[..<colon]) == configuration.clientID && String(text[text.index(after: colon)...]) == configuration.clientSecret
        }
        let form = request.formFields
        return form["client_id"] == configuration.clientID && form["client_secret"] == configuration.clientSecret
    }

    private mutating func tokenReply(grantID: String, request: SimRequest) -> SimResponse {
        let grant = grants[grantID]!
        let access = Opaque.token(prefix: "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0..", length: 600)
        let current = now()
        accessTokens[access] = AccessToken(grantID: grantID, realmID: grant.realmID, expiresAt: current.addingTimeInterval(Double(configuration.accessTokenTTL)))
        var reply: [String: JSONValue] = [
            "access_token": .string(access), "refresh_token": .string(grant.refreshToken), "token_type": "bearer",
            "expires_in": .int(Int64(configuration.accessTokenTTL)),
            "x_refresh_token_expires_in": .int(Int64(max(0, grant.refreshExpiresAt.timeIntervalSince(current).rounded()))),
        ]
        if request.headers.first(name: "x-include-refresh-token-hard-expires-in")?.lowercased() == "true" {
            let hardEnd = grant.createdAt.addingTimeInterval(Double(configuration.refreshTokenHardLifetime))
            reply["x_refresh_token_hard_expires_in"] = .int(Int64(max(0, hardEnd.timeIntervalSince(current).rounded())))
        }
        return .json(.ok, JSONValue.object(reply), headers: [("Cache-Control", "no-cache, no-store"), ("Pragma", "no-cache")])
    }

    private func tokenError(_ status: HTTPResponseStatus, _ error: String) -> SimResponse {
        SimResponse(
            status: status, headers: [("Content-Type", "application/json;charset=utf-8"), ("Cache-Control", "no-cache, no-store")],
            body: Data(#"{"error":"\#(error)"}"#.utf8)
        )
    }
}
