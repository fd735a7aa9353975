import PostgresNIO
import QBSyncCore
public import QBSyncStore

extension PostgresStore {
    /// Connects once, outside the pool, and closes again: the start's check that the database
    /// answers and lets the user in. The pool's waiters would wait out its retries (a minute)
    /// without a reason; this fails within `timeout` with the connection's or the server's
    /// reason (never the password, which no error carries).
    public func checkReachable(timeout: Duration) async throws(StoreError) {
        var options = configuration.connection
        options.options.connectTimeout = .milliseconds(timeout.wholeMilliseconds)
        let configuration = options
        let logger = logger
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Result<Void, any Error>?.self) { group in
            group.addTask {
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                    try? await connection.close()  // try?: the check passed; closing is tidiness
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)  // try?: cancelled once the connection answers
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure(Timeout(limit: timeout))
        }
        if case .failure(let error) = outcome {
            throw StoreError(.openFailed, "cannot connect to \(self.configuration): \(Self.reason(error))")
        }
    }

    /// The reason of a failed connection: the server's SQLSTATE and message, or the socket's error.
    static func reason(_ error: any Error) -> String {
        guard let psql = error as? PSQLError else { return String(describing: error) }
        if psql.serverInfo != nil { return PostgresFailure.describe(psql) }
        return psql.underlying.map { "\(psql.code): \($0)" } ?? "\(psql.code)"
    }

    struct Timeout: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "no answer within \(limit)" }
    }
}
