import Foundation
public import QBSyncCore
import NIOCore
import Synchronization

/// A JSON-RPC client for the control socket: `call` matches responses to requests by id, and
/// notifications (after `subscribe`) arrive on ``notifications``.
public final class ControlClient: Sendable {
    /// One server-to-client notification.
    public struct Notification: Sendable {
        public var method: String
        public var params: JSONValue
    }

    public let connection: ControlConnection
    /// Notifications in arrival order; finishes when the connection closes.
    public let notifications: AsyncStream<Notification>

    private let state: Mutex<State>
    private let notificationContinuation: AsyncStream<Notification>.Continuation
    private let reader: Mutex<Task<Void, Never>?> = Mutex(nil)

    private struct State {
        var nextID: Int64 = 1
        var pending: [Int64: CheckedContinuation<JSONValue, any Error>] = [:]
        var closed = false
        /// Why the daemon refused the connection (an error line with a null id), kept so that a
        /// call made after it, or whose send met the closed socket, fails with the daemon's reason.
        var refusal: ControlClientError?
        /// The first send that failed: the connection is closing, and calls fail when it has.
        var sendFailure: ControlClientError?
    }

    private init(connection: ControlConnection) {
        self.connection = connection
        (notifications, notificationContinuation) = AsyncStream.makeStream(of: Notification.self)
        state = Mutex(State())
    }

    /// Connects and starts reading responses.
    public static func connect(path: String) async throws(ControlClientError) -> ControlClient {
        let client = ControlClient(connection: try await ControlConnection.connect(path: path))
        let task = Task { [client] in await client.readLoop() }
        client.reader.withLock { $0 = task }
        return client
    }

    /// Calls a method; returns its `result` or throws ``ControlClientError`` (`.rpc` for an error response).
    public func call(_ method: String, params: JSONValue? = nil) async throws(ControlClientError) -> JSONValue {
        let id = state.withLock { state -> Int64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        var request: [String: JSONValue] = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { request["params"] = params }
        let line: Data
        do {
            line = try JSONEncoder().encode(JSONValue.object(request)) + Data("\n".utf8)
        } catch {
            throw ControlClientError(.connection, "cannot encode the request: \(error)")
        }
        do {
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<JSONValue, any Error>) in
                let closed = state.withLock { state -> ControlClientError? in
                    if state.closed { return state.refusal ?? ControlClientError(.connection, "the connection to qbsyncd is closed") }
                    state.pending[id] = continuation
                    return nil
                }
                if let closed {
                    continuation.resume(throwing: closed)
                    return
                }
                Task {
                    do { try await connection.send(line) } catch { self.fail(id: id, error) }
                }
            }
        } catch let error as ControlClientError {
            throw error
        } catch {
            throw ControlClientError(.connection, "the connection to qbsyncd failed: \(error)")
        }
    }

    public func close() async {
        reader.withLock { $0?.cancel() }
        await connection.close()
    }

    /// A send failed: the socket is closing. The call fails when the read loop has read what the
    /// daemon sent before closing, so a refusal line still gives its reason.
    private func fail(id: Int64, _ error: any Error) {
        state.withLock { $0.sendFailure = $0.sendFailure ?? ControlClientError(.connection, "cannot send to qbsyncd: \(error)") }
        connection.channel.close(promise: nil)
    }

    private func readLoop() async {
        var readFailure: ControlClientError?
        do {
            for try await line in connection.lines {
                guard let message = try? JSONDecoder().decode(JSONValue.self, from: line) else { continue }  // try?: a line that is not JSON answers nothing
                if let method = message["method"]?.stringValue, message["id"] == nil {
                    notificationContinuation.yield(Notification(method: method, params: message["params"] ?? .null))
                    continue
                }
                guard let id = message["id"]?.intValue else {
                    // An error that answers no request (id null): the daemon refused the connection
                    // (too_many_connections) or a line; every call waiting fails with its reason.
                    if let object = Self.rpcError(message) {
                        let refusal = ControlClientError(.rpc(object), object.message)
                        state.withLock { $0.refusal = refusal }
                        failAll(refusal)
                    }
                    continue
                }
                let continuation = state.withLock { $0.pending.removeValue(forKey: id) }
                if let object = Self.rpcError(message) {
                    continuation?.resume(throwing: ControlClientError(.rpc(object), object.message))
                } else {
                    continuation?.resume(returning: message["result"] ?? .null)
                }
            }
        } catch {
            readFailure = ControlClientError(.connection, "the connection to qbsyncd failed: \(error)")
        }
        let reason = state.withLock { state in
            state.closed = true
            return state.refusal ?? state.sendFailure ?? readFailure ?? ControlClientError(.connection, "qbsyncd closed the connection")
        }
        failAll(reason)
        notificationContinuation.finish()
    }

    private func failAll(_ error: ControlClientError) {
        let pending = state.withLock { state in
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for continuation in pending { continuation.resume(throwing: error) }
    }

    private static func rpcError(_ message: JSONValue) -> RPCErrorObject? {
        guard let error = message["error"] else { return nil }
        return try? JSONDecoder().decode(RPCErrorObject.self, from: JSONEncoder().encode(error))  // try?: a malformed error object is no error object
    }
}
