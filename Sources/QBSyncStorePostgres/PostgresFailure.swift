import PostgresNIO

/// A PostgreSQL error as the store reports it: the SQLSTATE and the server's message, never the
/// query, its binds or the server's detail line (which can quote row values).
public struct PostgresFailure: Error, CustomStringConvertible {
    public let sqlState: String?
    public let message: String?

    init(_ error: any Error) {
        let error = Self.unwrap(error)
        let info = (error as? PSQLError)?.serverInfo
        sqlState = info?[.sqlState]
        message = info?[.message]
        fallback = (error as? PSQLError).map { "PostgreSQL \($0.code)" } ?? String(describing: type(of: error))
    }

    private let fallback: String

    public var description: String {
        guard let message else { return fallback }
        return "PostgreSQL \(sqlState ?? "?????"): \(message)"
    }

    /// The error a transaction's closure (or its BEGIN/COMMIT) threw, out of postgres-nio's wrapper.
    static func unwrap(_ error: any Error) -> any Error {
        guard let wrapped = error as? PostgresTransactionError else { return error }
        return wrapped.closureError ?? wrapped.commitError ?? wrapped.beginError ?? error
    }

    /// The SQLSTATE of a server error, through postgres-nio's transaction wrapper.
    public static func sqlState(of error: any Error) -> String? {
        (unwrap(error) as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// The server's message (never the detail), for tests and operators.
    public static func message(of error: any Error) -> String? {
        (unwrap(error) as? PSQLError)?.serverInfo?[.message]
    }

    static func describe(_ error: any Error) -> String { PostgresFailure(error).description }

    /// An error of one statement's rows (a constraint, a bad value, a lost serialization race)
    /// or of the caller's own making: says nothing of whether the store can write.
    static func isAboutOneRow(_ error: any Error) -> Bool {
        guard let psql = unwrap(error) as? PSQLError else { return true }
        guard let state = psql.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("23") || state.hasPrefix("22") || state == "40001" || state == "40P01"
    }
}
