import Foundation
import NIOCore
import NIOPosix

/// The peer's supplementary groups as the kernel fixed them at `connect()` (L3).
///
/// `SO_PEERGROUPS` (Linux ≥ 4.13) reads them from the socket, so a process that hands its fd to
/// another and exits, or a reused pid, cannot change them. Where it is missing (an older kernel,
/// or more than ``capacity`` groups) `/proc/PID/status` is read instead, and trusted only if its
/// effective uid and gid are still the ones SO_PEERCRED gave; otherwise the peer has no groups.
enum PeerGroups {
    /// Linux's `SO_PEERGROUPS`.
    static let option: CInt = 59
    /// Groups one read can return; a peer in more is read through `/proc`.
    static let capacity = 256

    /// Room for ``capacity`` `gid_t`s; NIO's getsockopt zero-fills it and passes its size.
    struct Buffer: Sendable {
        var words: (SIMD64<UInt32>, SIMD64<UInt32>, SIMD64<UInt32>, SIMD64<UInt32>) = (.zero, .zero, .zero, .zero)

        var array: [UInt32] { withUnsafeBytes(of: words) { Array($0.bindMemory(to: UInt32.self)) } }
    }

    /// The groups in a zero-filled `SO_PEERGROUPS` answer. The kernel's list is sorted, so it ends
    /// where the values stop rising: only gid 0 can hide in the zero padding, and `isEmpty` (a
    /// zero-length read succeeded) says whether it is really there.
    static func parse(_ words: [UInt32], isEmpty: Bool) -> Set<UInt32> {
        guard !isEmpty, let first = words.first else { return [] }
        var groups: Set<UInt32> = [first]
        var previous = first
        for word in words.dropFirst() {
            guard word >= previous else { break }
            groups.insert(word)
            previous = word
        }
        return groups
    }

    /// The `Groups:` of a `/proc/PID/status` text, or none when its effective uid or gid is not the peer's.
    static func parse(procStatus status: String, uid: UInt32, gid: UInt32) -> Set<UInt32> {
        var fields: [Substring: [Substring]] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
        }
        // Real, effective, saved, filesystem: SO_PEERCRED carries the effective ids.
        guard let uids = fields["Uid"], uids.count > 1, UInt32(uids[1]) == uid,
            let gids = fields["Gid"], gids.count > 1, UInt32(gids[1]) == gid
        else { return [] }
        return Set((fields["Groups"] ?? []).compactMap { UInt32($0) })
    }

    /// Reads the groups of the peer `credentials` describe.
    static func read(from provider: any SocketOptionProvider, credentials: PeerCredentials.UnixCredentials) -> EventLoopFuture<Set<UInt32>> {
        let name = NIOBSDSocket.Option(rawValue: option)
        let full: EventLoopFuture<Buffer> = provider.unsafeGetSocketOption(level: .socket, name: name)
        return full.flatMap { buffer in
            // A zero-length read succeeds only when there is nothing to return.
            let empty: EventLoopFuture<EmptyAnswer> = provider.unsafeGetSocketOption(level: .socket, name: name)
            return empty.map { _ in true }.recover { _ in false }.map { isEmpty in parse(buffer.array, isEmpty: isEmpty) }
        }.flatMapError { _ in
            fromProc(credentials, eventLoop: full.eventLoop)
        }
    }

    /// A zero-size option value.
    struct EmptyAnswer: Sendable {}

    /// Reads `/proc/PID/status` on `pool`, never on `eventLoop`: a file read can block (procfs
    /// under memory pressure, a slow mount), and a blocked event loop stalls every connection on it.
    static func fromProc(
        _ credentials: PeerCredentials.UnixCredentials, eventLoop: any EventLoop, pool: NIOThreadPool = .singleton,
        readStatus: @escaping @Sendable (Int32) -> String? = readStatus
    ) -> EventLoopFuture<Set<UInt32>> {
        pool.runIfActive(eventLoop: eventLoop) {
            readStatus(credentials.pid).map { parse(procStatus: $0, uid: credentials.uid, gid: credentials.gid) } ?? []
        }.recover { _ in [] }
    }

    /// `/proc/PID/status`, or nil when it cannot be read (the peer is gone).
    @Sendable static func readStatus(pid: Int32) -> String? {
        do {
            return try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        } catch {
            return nil
        }
    }
}
