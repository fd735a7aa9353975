import Foundation
import NIOCore

/// Who is on the other end of a control connection: SO_PEERCRED and SO_PEERGROUPS, both as the
/// kernel recorded them at `connect()` (``PeerGroups``).
public struct PeerCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// Primary and supplementary groups.
    public var groups: Set<UInt32>

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: Set<UInt32>) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups.union([gid])
    }

    public var description: String { "pid=\(pid) uid=\(uid) gid=\(gid)" }

    /// Reads the peer of a connected Unix socket channel.
    static func read(from channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let future: EventLoopFuture<UnixCredentials> = provider.unsafeGetSocketOption(
            level: .socket, name: NIOBSDSocket.Option(rawValue: Self.soPeerCred)
        )
        return future.flatMap { credentials in
            PeerGroups.read(from: provider, credentials: credentials).map { groups in
                PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid, groups: groups)
            }
        }
    }

    /// Linux's `SO_PEERCRED` (Glibc's `struct ucred` needs `_GNU_SOURCE`, which Swift's Glibc module lacks).
    static let soPeerCred: CInt = 17

    /// The layout of Linux's `struct ucred`: `pid_t`, `uid_t`, `gid_t`.
    struct UnixCredentials: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
    }
}
