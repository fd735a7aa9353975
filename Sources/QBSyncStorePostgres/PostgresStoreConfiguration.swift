import Foundation
public import PostgresNIO
public import QBSyncStore

/// Where the PostgreSQL store is, from `QBSYNCD_DATABASE_URL`:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require][&host=/socket/dir][&schema=NAME][&pool_max_conns=N][&operation_timeout=SECONDS]`
/// (`postgresql://` too). A `host` parameter naming a directory means the Unix socket
/// `DIR/.s.PGSQL.PORT`, as libpq reads it. qbsyncd's own: `schema` puts the tables in that
/// schema, created on the first start, instead of `public`; `pool_max_conns` caps the instance's
/// connections (default 16; the server's `max_connections` is shared by every instance);
/// `operation_timeout` is the deadline of one operation (``operationTimeout``, default 30). The
/// password never appears in `description`.
public struct PostgresStoreConfiguration: Sendable, CustomStringConvertible {
    public var client: PostgresClient.Configuration
    /// The same server, user and schema for one connection outside the pool (the start's check).
    var connection: PostgresConnection.Configuration
    /// The schema the store's tables live in (nil: the database's default, `public`). Tests give
    /// each store its own.
    public var schema: String?
    /// Connections the store's pool may open.
    public var maximumConnections: Int {
        get { client.options.maximumConnections }
        set { client.options.maximumConnections = newValue }
    }
    /// The deadline of one store operation (a transaction or a read): past it, one on a connection
    /// whose server session is gone (or whose server does not answer) has that connection closed
    /// and fails with ``PostgresNotAnswering``. An operation whose session is alive, or that still
    /// waits for the pool, is looked at again one deadline later. URL parameter `operation_timeout` (seconds, 1 to 3600); default 30 s.
    public var operationTimeout: Duration = .seconds(30)
    private var redacted: String

    /// `schema`, when given, wins over the URL's `schema` parameter.
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
        var connection: PostgresConnection.Configuration
        if let socketDirectory = parameters["host"], socketDirectory.hasPrefix("/") {
            configuration = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
            connection = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            guard let host = components.host, !host.isEmpty else { throw StoreError(.openFailed, "the database URL names no host") }
            let sslmode = parameters["sslmode"] ?? "prefer"
            guard ["disable", "prefer", "allow", "require", "verify-ca", "verify-full"].contains(sslmode) else {
                throw StoreError(.openFailed, "the database URL's sslmode is not disable, prefer or require")
            }
            let tls: PostgresClient.Configuration.TLS
            let connectionTLS: PostgresConnection.Configuration.TLS
            if sslmode == "disable" {
                (tls, connectionTLS) = (.disable, .disable)
            } else {
                let context: NIOSSLContext
                do {
                    context = try NIOSSLContext(configuration: .makeClientConfiguration())
                } catch {
                    throw StoreError(.openFailed, "TLS could not be set up for the database connection: \(error)")
                }
                let required = !["prefer", "allow"].contains(sslmode)
                tls = required ? .require(.makeClientConfiguration()) : .prefer(.makeClientConfiguration())
                connectionTLS = required ? .require(context) : .prefer(context)
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
            connection = .init(host: host, port: port, username: user, password: password, database: database, tls: connectionTLS)
        }
        let schema = schema ?? parameters["schema"].flatMap { $0.isEmpty ? nil : $0 }
        if let schema {
            guard Self.isPlainIdentifier(schema) else { throw StoreError(.openFailed, "the schema name \(schema) is not a plain identifier") }
            configuration.options.additionalStartupParameters = [("search_path", schema)]
            connection.options.additionalStartupParameters = [("search_path", schema)]
        }
        configuration.options.maximumConnections = 16
        if let text = parameters["pool_max_conns"] {
            guard let maximum = Int(text), (1...1000).contains(maximum) else {
                throw StoreError(.openFailed, "the database URL's pool_max_conns is not a number from 1 to 1000")
            }
            configuration.options.maximumConnections = maximum
        }
        if let text = parameters["operation_timeout"] {
            guard let seconds = Int(text), (1...3600).contains(seconds) else {
                throw StoreError(.openFailed, "the database URL's operation_timeout is not a number of seconds from 1 to 3600")
            }
            operationTimeout = .seconds(seconds)
        }
        client = configuration
        self.connection = connection
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
