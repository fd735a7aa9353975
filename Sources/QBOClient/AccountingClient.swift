public import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
public import QBSyncCore

/// The company a token reaches (`GET /companyinfo/{realmId}`).
public struct CompanyInfo: Sendable {
    public var companyName: String
}

/// Told before every metered read (Intuit's "CorePlus" calls: entity reads, queries, the change
/// feed); it counts the read and may refuse it. Writes and OAuth never pass through it.
public protocol ReadMeter: Sendable {
    func willRead(realmID: String) async throws(QBOClientError)
    /// Intuit itself refused a read for the app's monthly limit: no read goes out until the month
    /// ends. Answers the refusal with the counts the meter knows.
    func intuitRefused() async -> QuotaRefusal
}

/// The QuickBooks Online Accounting API v3, as far as the daemon uses it.
public struct AccountingClient: Sendable {
    let http: HTTPClient
    public let endpoints: QBOEndpoints
    /// Every GET is a metered read and passes through this first.
    public let meter: (any ReadMeter)?

    public init(http: HTTPClient, endpoints: QBOEndpoints, meter: (any ReadMeter)? = nil) {
        self.http = http
        self.endpoints = endpoints
        self.meter = meter
    }

    public func companyInfo(realmID: String, accessToken: Secret<String>) async throws(QBOClientError) -> CompanyInfo {
        let data = try await get("/v3/company/\(realmID)/companyinfo/\(realmID)", realmID: realmID, accessToken: accessToken)
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: data), let name = json["CompanyInfo"]?["CompanyName"]?.stringValue else {  // try?: not JSON is the error below
            throw .unavailable("CompanyInfo without CompanyName")
        }
        return CompanyInfo(companyName: name)
    }

    /// The request URL with `minorversion`. `URLComponents` leaves `+` as it is in query values, and
    /// servers decoding forms read it as a space (L1): a DisplayName or DocNumber with `+` would be
    /// looked up as another string. It is sent as `%2B`.
    func url(_ path: String, query: [URLQueryItem]) -> String {
        Self.url(base: endpoints.apiBaseURL, path: path, query: query, minorVersion: endpoints.minorVersion)
    }

    static func url(base: String, path: String, query: [URLQueryItem], minorVersion: Int) -> String {
        var components = URLComponents(string: base + path)!
        components.queryItems = query + [URLQueryItem(name: "minorversion", value: String(minorVersion))]
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.url!.absoluteString
    }

    /// A metered read: the meter counts it (and may refuse it) before it is sent.
    func get(_ path: String, realmID: String, query: [URLQueryItem] = [], accessToken: Secret<String>) async throws(QBOClientError) -> Data {
        try await meter?.willRead(realmID: realmID)
        var request = HTTPClientRequest(url: url(path, query: query))
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken.value)")
        request.headers.add(name: "Accept", value: "application/json")
        return try await send(request)
    }

    func post(_ path: String, body: Data, query: [URLQueryItem] = [], accessToken: Secret<String>) async throws(QBOClientError) -> Data {
        var request = HTTPClientRequest(url: url(path, query: query))
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken.value)")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: body))
        return try await send(request)
    }

    /// Sends a request and classifies the answer; the body of a 200 is returned undecoded, so
    /// amounts are read from their JSON text (as `Decimal`), never through a binary float.
    func send(_ request: HTTPClientRequest) async throws(QBOClientError) -> Data {
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let bytes: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: endpoints.timeout)
            status = response.status
            headers = response.headers
            bytes = try await response.body.collect(upTo: 16 << 20)
        } catch {
            throw .unavailable(QBOHTTP.describe(error))
        }
        guard status.code == 200 else {
            throw IntuitAnswer.classify(status: Int(status.code), body: Data(buffer: bytes), retryAfter: headers.first(name: "Retry-After"))
        }
        return Data(buffer: bytes)
    }
}
