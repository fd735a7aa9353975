import Logging
import PostgresNIO
import QBSyncCore
import Synchronization

/// PostgreSQL did not answer an operation within its deadline (``PostgresStoreConfiguration/operationTimeout``)
/// and the connection's server session is gone (a server restart): the connection was closed. The store is unavailable; the operation did not finish.
///
/// A write abandoned this way whose COMMIT had already been sent may still have committed on the
/// server (as with any connection lost during a COMMIT): its outcome is unknown to the caller, who
/// must treat it as not done and do it again idempotently (the webhook intake answers 503, and the
/// redelivery is recognised by its body's digest).
public struct PostgresNotAnswering: Error, CustomStringConvertible, Sendable {
    public var limit: Duration
    /// True: no connection was leased in time; false: a leased connection was closed.
    public var waitingForConnection: Bool

    public var description: String {
        waitingForConnection
            ? "PostgreSQL unavailable: no connection within \(limit)"
            : "PostgreSQL unavailable: no answer within \(limit) and the connection's server session is gone; the connection was closed (a write's outcome is unknown)"
    }
}

/// A statement could not be sent: its connection was already closed (the server went away, or the
/// watchdog closed it). Nothing of it reached the server.
public struct PostgresConnectionClosed: Error, CustomStringConvertible, Sendable {
    public var description: String { "PostgreSQL unavailable: the connection was closed before the statement could be sent" }
}

extension PostgresConnection {
    /// One statement, all its rows, sent only while the connection is open. postgres-nio (1.33)
    /// loses a statement written to a connection once its channel has closed: nothing ever answers
    /// it, and its caller (the operation, and its caller's loop) waits forever — typically the
    /// ROLLBACK after a statement failed because the server went away. Here the check and the write
    /// run on the connection's event loop, where the channel cannot close in between: a closed
    /// connection fails the statement at once with ``PostgresConnectionClosed``; an open one gets
    /// it to its handler, which answers it or fails it when the connection closes.
    func guardedQuery(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await eventLoop.flatSubmit { () -> EventLoopFuture<PostgresQueryResult> in
            guard !self.isClosed else { return self.eventLoop.makeFailedFuture(PostgresConnectionClosed()) }
            return self.query(query, logger: logger)
        }.get().rows
    }

    /// ``guardedQuery(_:logger:)``, each row's columns decoded.
    func guardedCollect<T: PostgresDecodable>(_ query: PostgresQuery, logger: Logger, _ type: T.Type) async throws -> [T] {
        try await guardedQuery(query, logger: logger).map { try $0.decode(T.self) }
    }

    /// ``guardedQuery(_:logger:)``, each row as `transform` reads it (a nil is skipped).
    func guardedCollect<T>(_ query: PostgresQuery, logger: Logger, _ transform: (PostgresRow) throws -> T?) async throws -> [T] {
        try await guardedQuery(query, logger: logger).compactMap(transform)
    }

    /// A transaction whose BEGIN, COMMIT and ROLLBACK are sent with ``guardedQuery(_:logger:)``
    /// (postgres-nio's `withTransaction` sends its ROLLBACK even on a connection that has just
    /// closed, and so waits for it forever). On a closed connection no ROLLBACK is sent: the server
    /// rolled the transaction back when the session ended. The body's own error is thrown as is.
    func guardedTransaction<Result>(logger: Logger, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        _ = try await guardedQuery("BEGIN", logger: logger)
        let value: Result
        do {
            value = try await body(self)
        } catch {
            if !isClosed { _ = try? await guardedQuery("ROLLBACK", logger: logger) }  // try?: the body's error is the one to report
            throw error
        }
        _ = try await guardedQuery("COMMIT", logger: logger)
        return value
    }
}

extension PostgresStore {
    /// One operation on one pooled connection, under the operation deadline: nothing awaits a
    /// dead connection forever. At each deadline a watchdog looks at the operation: on a connection
    /// whose server session is gone (or when the server does not answer a fresh connection), that
    /// connection is closed, which fails its queries at once (an open transaction rolls back on the
    /// server) and the pool drops it. A connection whose session is alive (a slow statement, a lock
    /// wait, the caller's own work inside a transaction such as a token refresh's call to Intuit) is
    /// left alone and looked at again one deadline later; an operation still waiting for a
    /// connection is left to the pool, which serves it or fails it (its circuit breaker).
    ///
    /// The operation's own outcome is returned when it ends; if the watchdog closed its connection,
    /// a failure is reported as ``PostgresNotAnswering``, while a success (it finished just then) is
    /// returned as such: the caller is never told "failed" about something known to be committed.
    func bounded<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let limit = configuration.operationTimeout
        let watch = OperationWatch()
        // The operation runs in this task (its closure is the caller's, not escaping); the watchdog
        // is the group's only child, so the group ends as soon as the operation has.
        let (outcome, closed) = await withTaskGroup(of: Bool.self) { group -> (Swift.Result<Result, any Error>, Bool) in
            group.addTask { await self.watchdog(watch, limit: limit) }
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(
                    try await client.withConnection { connection in
                        watch.set(.on(connection))
                        defer { watch.set(.finished) }
                        // The session's pid, once per connection: what the watchdog looks for
                        // (unknown, the connection counts as dead at the deadline).
                        if backendPIDs.withLock({ $0[connection.id] }) == nil {
                            let pid = try await connection.guardedCollect("SELECT pg_backend_pid()", logger: logger, Int32.self).first
                            backendPIDs.withLock { pids in
                                if pids.count > 4096 { pids.removeAll() }
                                pids[connection.id] = pid
                            }
                        }
                        return try await body(connection)
                    }
                )
            } catch {
                outcome = .failure(error)
            }
            watch.set(.finished)
            group.cancelAll()
            return (outcome, await group.next() ?? false)
        }
        if closed, case .failure = outcome { throw PostgresNotAnswering(limit: limit, waitingForConnection: false) }
        return try outcome.get()
    }

    /// Sleeps a deadline at a time until the operation ends (false), or closes its connection
    /// when its server session is gone (true). An operation still waiting for a connection is
    /// waited for: the pool fails or serves it (it connects again by itself, and trips its
    /// circuit breaker when it cannot).
    private func watchdog(_ watch: OperationWatch, limit: Duration) async -> Bool {
        var warned = false
        // Looks at the session that could not be made in a row: one is a busy server, two a gone one.
        var unanswered = 0
        while true {
            do { try await Task.sleep(for: limit) } catch { return false }  // cancelled: the operation ended
            switch watch.phase.withLock({ $0 }) {
            case .finished:
                return false
            case .leasing:
                if !warned { logger.warning("a PostgreSQL operation got no connection within its deadline; still waiting", metadata: ["limit": "\(limit)"]) }
                warned = true
            case .on(let connection):
                let pid = backendPIDs.withLock { $0[connection.id] }
                let alive: Bool? = if let pid { await sessionIsAlive(pid: pid, limit: Self.probeLimit) } else { false }
                if alive == true {
                    unanswered = 0
                    continue
                }
                if alive == nil {
                    unanswered += 1
                    // A server too busy to take a fresh connection in time is not yet a gone session.
                    if unanswered < 2 { continue }
                }
                guard watch.phase.withLock({ if case .on = $0 { true } else { false } }) else { return false }
                logger.warning(
                    "a PostgreSQL operation got no answer within its deadline and its server session is gone; its connection is closed",
                    metadata: ["limit": "\(limit)"]
                )
                backendPIDs.withLock { _ = $0.removeValue(forKey: connection.id) }
                connection.close().whenComplete { _ in }  // fails the connection's queries at once; the pool drops it
                await outlived(watch, limit: limit)
                return true
            }
        }
    }

    /// After its connection was closed, an operation fails at once. One that still has not ended a
    /// deadline later waits on something the closing did not fail (a statement postgres-nio lost):
    /// said once, as an error, since the caller will wait for it as long as the process runs.
    private func outlived(_ watch: OperationWatch, limit: Duration) async {
        do { try await Task.sleep(for: limit) } catch { return }
        guard watch.phase.withLock({ if case .on = $0 { true } else { false } }) else { return }
        logger.error(
            "a PostgreSQL operation did not end after its connection was closed; what waits for it is stuck until qbsyncd restarts",
            metadata: ["limit": "\(limit)"]
        )
    }

    /// How long the watchdog's look at a session may take (whatever the operation's deadline).
    static let probeLimit: Duration = .seconds(5)

    /// Whether the server, asked on a fresh connection outside the pool, still has this session;
    /// nil when it could not be asked within `limit` (the server is down, or too busy to answer).
    func sessionIsAlive(pid: Int32, limit: Duration) async -> Bool? {
        var configuration = configuration.connection
        configuration.options.connectTimeout = .milliseconds(limit.wholeMilliseconds)
        let options = configuration
        let logger = logger
        let opened = OpenedProbe()
        return await withTaskGroup(of: ProbeAnswer?.self) { group in
            group.addTask {
                let connection: PostgresConnection
                do { connection = try await PostgresConnection.connect(configuration: options, id: 2, logger: logger) } catch { return .unasked }
                opened.connection.withLock { $0 = connection }
                let found = try? await connection.collect("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = \(pid)", logger: logger, Int64.self)
                // Closed before it is released (postgres-nio asserts it); the group waits for this child.
                try? await connection.close()
                guard let found else { return .unasked }
                return .answered(found.first == 1)
            }
            group.addTask {
                do { try await Task.sleep(for: limit) } catch { return nil }
                return .unasked
            }
            var answer: Bool?
            while let next = await group.next() {
                guard let next else { continue }
                if case .answered(let alive) = next { answer = alive }
                group.cancelAll()
                opened.connection.withLock { $0 }?.close().whenComplete { _ in }
                break
            }
            return answer
        }
    }

    /// What a look at a session found (a nil child: the timer, cancelled once the look ended).
    enum ProbeAnswer: Sendable {
        case answered(Bool)
        case unasked
    }

    /// The probe's connection, once open (closed when the probe runs out of time).
    final class OpenedProbe: Sendable {
        let connection = Mutex<PostgresConnection?>(nil)
    }

    /// Where an operation is, for its watchdog.
    final class OperationWatch: Sendable {
        enum Phase: Sendable {
            case leasing
            case on(PostgresConnection)
            case finished
        }

        let phase = Mutex(Phase.leasing)

        func set(_ phase: Phase) { self.phase.withLock { $0 = phase } }
    }
}
