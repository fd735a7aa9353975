import Foundation
import Logging
import QBSyncCore

/// The control socket's file: refusing to start beside a live daemon, replacing a stale file left by
/// a crash, and giving the socket its mode and group.
enum ControlSocketFile {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Removes a stale socket file; throws when a daemon answers on it or the path is not a socket.
    static func clearStale(at path: String, logger: Logger) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw Failure(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        if isAnswering(path) {
            throw Failure(description: "another qbsyncd is already listening on \(path); refusing to start")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw Failure(description: "cannot remove the stale socket \(path): \(String(cString: strerror(errno)))")
        }
        logger.notice("replaced a stale control socket", metadata: [LogKey.path: "\(path)"])
    }

    /// Whether something accepts connections on the socket path.
    static func isAnswering(_ path: String) -> Bool {
        guard let fd = UnixSocket.connect(path: path) else { return false }
        close(fd)
        return true
    }

    /// 0660 and the control group; 0666 when a read-only group is set (the per-call check guards it).
    /// A control group that does not exist leaves the daemon's own group, with one warning.
    static func applyOwnership(path: String, settings: Settings, logger: Logger) throws {
        let mode: mode_t = settings.readonlyGroup == nil ? 0o660 : 0o666
        guard chmod(path, mode) == 0 else {
            throw Failure(description: "cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
        guard let gid = AccessPolicy.groupID(named: settings.controlGroup) else {
            logger.warning(
                "control group does not exist; the control socket keeps the daemon's group",
                metadata: [LogKey.group: "\(settings.controlGroup)", LogKey.path: "\(path)"]
            )
            return
        }
        if chown(path, uid_t.max, gid) != 0 {
            logger.warning(
                "cannot give the control socket to its group",
                metadata: [LogKey.group: "\(settings.controlGroup)", LogKey.error: "\(String(cString: strerror(errno)))"]
            )
        }
    }
}
