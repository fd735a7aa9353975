import Foundation
public import PostgresNIO
public import QBSyncStore

/// Where the PostgreSQL store is, from `QBSYNCD_DATABASE_URL`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require][&host=/socket/dir]`
/// (`postgresql://` too). A `host` parameter naming a directory means the Unix socket
/// `DIR/.s.PGSQL.PORT`, as libpq reads it. The password never appears in `description`.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    public var client: PostgresClient.Configuration
    /// The schema the store's tables live in (nil: the database's default, `public`). Tests give
    /// each store its own.
    public var schema: String?
    /// Connections the store's pool may open.
    public var maximumConnections: Int {
        get { client.options.maximumConnections }
        set { client.options.maximumConnections = newValue }
    }
    private var redacted: String

    public init(url: String, schema: String? = nil) throws(StoreError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw StoreError(.openFailed, "the database URL is not a postgres:// URL")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw StoreError(.openFailed, "the database URL names no user")
        }
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let database = String(components.path.drop { $0 == "/" }).removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 }
        let parameters = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let port = components.port ?? 5432
        var configuration: PostgresClient.Configuration
        if let socketDirectory = parameters["host"], socketDirectory.hasPrefix("/") {
            configuration = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            guard let host = components.host, !host.isEmpty else { throw StoreError(.openFailed, "the database URL names no host") }
            let tls: PostgresClient.Configuration.TLS
            switch parameters["sslmode"] ?? "prefer" {
            case "disable": tls = .disable
            case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
            case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
            default: throw StoreError(.openFailed, "the database URL's sslmode is not disable, prefer or require")
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        if let schema {
            guard Self.isPlainIdentifier(schema) else { throw StoreError(.openFailed, "the schema name \(schema) is not a plain identifier") }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        configuration.options.maximumConnections = 16
        client = configuration
        self.schema = schema
        redacted = "\(scheme)://\(user)@\(components.host ?? "")\(components.port.map { ":\($0)" } ?? "")/\(database ?? "")"
            + (schema.map { " (schema \($0))" } ?? "")
    }

    public var description: String { redacted }

    /// Lower-case letters, digits and `_`, starting with a letter: safe unquoted in SQL.
    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.count <= 63 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
