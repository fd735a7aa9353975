import Foundation
import QBSyncCore

/// What a peer may do on the control socket (spec/runtime.md, "Access to the control socket").
enum AccessLevel: Sendable, Equatable {
    /// Every method.
    case full
    /// Only the read methods.
    case readOnly
    /// Nothing: every call is `forbidden`.
    case none
}

/// Whether a method only reads.
enum RPCAccess: Sendable {
    case read
    case write
}

/// Decides a peer's access from its credentials: uid 0 or the daemon's own uid, or membership of the
/// control group, gives everything; membership of the read-only group gives the read methods.
struct AccessPolicy: Sendable, Equatable {
    var daemonUID: UInt32
    /// nil when the control group does not exist on this machine.
    var controlGID: UInt32?
    var readonlyGID: UInt32?

    func level(for peer: PeerCredentials) -> AccessLevel {
        if peer.uid == 0 || peer.uid == daemonUID { return .full }
        if let controlGID, peer.groups.contains(controlGID) { return .full }
        if let readonlyGID, peer.groups.contains(readonlyGID) { return .readOnly }
        return .none
    }

    static func resolve(settings: Settings) -> AccessPolicy {
        AccessPolicy(
            daemonUID: getuid(),
            controlGID: groupID(named: settings.controlGroup),
            readonlyGID: settings.readonlyGroup.flatMap(groupID(named:))
        )
    }

    static func groupID(named name: String) -> UInt32? {
        guard let entry = getgrnam(name) else { return nil }
        return entry.pointee.gr_gid
    }
}
