import PostgresNIO

/// One-statement reads and writes, for the repositories' simple calls.
extension PostgresStore {
    /// One statement in its own transaction.
    func execute(_ query: PostgresQuery) async throws {
        let logger = logger
        try await write { connection in _ = try await connection.query(query, logger: logger) }
    }

    /// The first row's only column, nil when there is no row.
    func first<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type) async throws -> T? {
        try await all(query, as: type).first
    }

    /// Every row's only column (or columns, decoded as a tuple).
    func all<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type) async throws -> [T] {
        let logger = logger
        return try await read { connection in try await connection.collect(query, logger: logger, T.self) }
    }

    /// Every row as `transform` reads it (a nil is skipped, as the SQLite store skips an unreadable row).
    func rows<T: Sendable>(_ query: PostgresQuery, _ transform: @Sendable (PostgresRow) throws -> T?) async throws -> [T] {
        let logger = logger
        return try await read { connection in try await connection.collect(query, logger: logger, transform) }
    }
}

extension PostgresConnection {
    /// Every row's only column (or columns, as a tuple), through ``guardedQuery(_:logger:)``: never
    /// sent on a connection that has closed (where postgres-nio would wait for its answer forever).
    func collect<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, logger: Logger, _ type: T.Type) async throws -> [T] {
        try await guardedCollect(query, logger: logger, T.self)
    }

    func collect<T>(_ query: PostgresQuery, logger: Logger, _ transform: (PostgresRow) throws -> T?) async throws -> [T] {
        try await guardedCollect(query, logger: logger, transform)
    }
}
