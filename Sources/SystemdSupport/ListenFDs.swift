import CSystemd
import Foundation

/// Sockets passed by systemd socket activation (`LISTEN_FDS`, `LISTEN_FDNAMES`, `LISTEN_PID`), by
/// their `FileDescriptorName=`.
public struct ListenFDs: Sendable {
    public let byName: [String: Int32]

    /// Reads (and unsets) the passed sockets; empty when the process was not socket-activated.
    public static func fromEnvironment() -> ListenFDs {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0, let names else { return ListenFDs(byName: [:]) }
        var result: [String: Int32] = [:]
        for index in 0..<Int(count) {
            let name = names[index].map { String(cString: $0) } ?? "unknown"
            result[name] = SD_LISTEN_FDS_START + Int32(index)
            free(names[index])
        }
        free(names)
        return ListenFDs(byName: result)
    }

    public init(byName: [String: Int32]) { self.byName = byName }
}
