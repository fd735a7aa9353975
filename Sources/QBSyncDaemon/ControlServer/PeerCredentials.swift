import Foundation
import NIOCore

/// Who is on the other end of a control connection: SO_PEERCRED at accept time, plus the
/// supplementary groups of that process from `/proc/PID/status`.
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
        return future.map { credentials in
            PeerCredentials(
                pid: credentials.pid, uid: credentials.uid, gid: credentials.gid,
                groups: supplementaryGroups(pid: credentials.pid)
            )
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

    /// The `Groups:` line of `/proc/PID/status`; empty when the process is gone or unreadable.
    static func supplementaryGroups(pid: Int32) -> Set<UInt32> {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
        for line in status.split(separator: "\n") where line.hasPrefix("Groups:") {
            return Set(line.dropFirst("Groups:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) })
        }
        return []
    }
}
