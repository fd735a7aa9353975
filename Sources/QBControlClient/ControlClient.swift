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
                let closed = state.withLock { state in
                    if state.closed { return true }
                    state.pending[id] = continuation
                    return false
                }
                if closed {
                    continuation.resume(throwing: ControlClientError(.connection, "the connection to qbsyncd is closed"))
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

    private func fail(id: Int64, _ error: any Error) {
        let continuation = state.withLock { $0.pending.removeValue(forKey: id) }
        continuation?.resume(throwing: ControlClientError(.connection, "cannot send to qbsyncd: \(error)"))
    }

    private func readLoop() async {
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
                    if let object = Self.rpcError(message) { failAll(ControlClientError(.rpc(object), object.message)) }
                    continue
                }
                let continuation = state.withLock { $0.pending.removeValue(forKey: id) }
                if let object = Self.rpcError(message) {
                    continuation?.resume(throwing: ControlClientError(.rpc(object), object.message))
                } else {
                    continuation?.resume(returning: message["result"] ?? .null)
                }
            }
        } catch {}
        state.withLock { $0.closed = true }
        failAll(ControlClientError(.connection, "qbsyncd closed the connection"))
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
