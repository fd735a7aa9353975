public import Foundation
import GRDB
import Synchronization

/// What is known of the store's health without touching it: whether the last write (a commit or
/// the periodic probe) went through, and what the integrity check found. `/healthz` and systemd's
/// `STATUS=` read it, so neither waits behind webhook commits in the writer queue (L11, L14).
public final class StoreHealth: Sendable {
    public enum Integrity: Sendable, Equatable {
        /// The full check runs after READY (the start checked only the bounded part).
        case checking
        case ok
        case damaged(String)
    }

    public struct Snapshot: Sendable, Equatable {
        public var writable: Bool
        /// Why the last write failed (nil while writable).
        public var reason: String?
        public var integrity: Integrity

        /// Healthy: writable and not found damaged.
        public var isHealthy: Bool {
            if case .damaged = integrity { return false }
            return writable
        }

        /// One line for `/healthz` and `STATUS=`; nil when healthy.
        public var problem: String? {
            if case .damaged(let detail) = integrity { return "store damaged: \(detail)" }
            return writable ? nil : "store not writable: \(reason ?? "unknown")"
        }
    }

    private let state: Mutex<Snapshot>

    public init(integrity: Integrity = .ok) {
        state = Mutex(Snapshot(writable: true, reason: nil, integrity: integrity))
    }

    public var snapshot: Snapshot { state.withLock { $0 } }

    /// A write committed: the store is writable.
    public func writeSucceeded() {
        state.withLock {
            $0.writable = true
            $0.reason = nil
        }
    }

    /// A write failed: not writable, and why (SQLite's code and message, never arguments). An
    /// error of one row (a constraint, a value too big) says nothing of the store and is ignored.
    public func writeFailed(_ error: any Error) {
        if let error = error as? DatabaseError, [.SQLITE_CONSTRAINT, .SQLITE_TOOBIG, .SQLITE_MISMATCH, .SQLITE_RANGE].contains(error.resultCode) { return }
        let reason = Store.describe(error)
        state.withLock {
            $0.writable = false
            $0.reason = String(reason.prefix(200))
        }
    }

    public func integrityChecked(_ result: Integrity) {
        state.withLock { $0.integrity = result }
    }
}
