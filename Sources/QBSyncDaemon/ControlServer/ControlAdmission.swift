import QBSyncCore
import Synchronization

/// Whether one more control connection may be served: at most `maximum` in all and `maximumPerUID`
/// from one peer uid. The per-uid cap is below the total, so one user (or one runaway client) can
/// never fill the socket and lock out the others, root's `qbctl` included.
struct ControlAdmissionPolicy: Sendable, Equatable {
    var maximum: Int
    var maximumPerUID: Int

    enum Decision: Sendable, Equatable {
        case admit
        case refuse(RPCErrorObject)
    }

    init(maximum: Int, maximumPerUID: Int) {
        self.maximum = maximum
        self.maximumPerUID = maximumPerUID
    }

    init(settings: Settings) {
        self.init(maximum: settings.controlMaxConnections, maximumPerUID: settings.controlMaxConnectionsPerUID)
    }

    /// `open` and `openForUID` count the connections already admitted.
    func decide(open: Int, openForUID: Int, uid: UInt32) -> Decision {
        if open >= maximum {
            return .refuse(Self.refusal("the daemon already serves \(maximum) control connections; try again later"))
        }
        if openForUID >= maximumPerUID {
            return .refuse(Self.refusal("uid \(uid) already has \(maximumPerUID) control connections open; close one first"))
        }
        return .admit
    }

    /// JSON-RPC's implementation-defined server-error range: the contract's 10xx codes are not ours to add to.
    static let code = -32000
    static let reason = "too_many_connections"

    static func refusal(_ message: String) -> RPCErrorObject {
        RPCErrorObject(code: code, message: message, data: ["reason": .string(reason)])
    }
}

/// The admitted control connections, counted in all and per uid, shared by every accept.
final class ControlAdmission: Sendable {
    private struct Counts {
        var open = 0
        var perUID: [UInt32: Int] = [:]
    }

    private let counts = Mutex(Counts())

    /// Counts the connection in when `policy` admits it; an admitted one must be released once.
    func admit(uid: UInt32, policy: ControlAdmissionPolicy) -> ControlAdmissionPolicy.Decision {
        counts.withLock { counts in
            let decision = policy.decide(open: counts.open, openForUID: counts.perUID[uid, default: 0], uid: uid)
            if decision == .admit {
                counts.open += 1
                counts.perUID[uid, default: 0] += 1
            }
            return decision
        }
    }

    func release(uid: UInt32) {
        counts.withLock { counts in
            counts.open -= 1
            let left = counts.perUID[uid, default: 1] - 1
            counts.perUID[uid] = left > 0 ? left : nil
        }
    }
}
