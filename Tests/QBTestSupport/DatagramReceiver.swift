import Foundation
import Synchronization

/// A Unix datagram socket bound at a path, collecting every message it receives on a thread of
/// its own: a stand-in for systemd's notify socket or journald's socket.
public final class DatagramReceiver: Sendable {
    public let path: String
    private let fd: Int32
    private let received = Mutex<[(at: ContinuousClock.Instant, text: String)]>([])
    private let running = Atomic<Bool>(true)

    public init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let descriptor = fd
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw DeadlineExceeded(description: "cannot bind \(path): \(String(cString: strerror(errno)))") }
        chmod(path, 0o666)
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let socketFD = fd
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while running.load(ordering: .relaxed) {
                let count = recv(socketFD, &buffer, buffer.count, 0)
                if count > 0 {
                    let text = String(decoding: buffer[0..<count], as: UTF8.self)
                    received.withLock { $0.append((.now, text)) }
                }
            }
        }
    }

    /// Every message so far, in order, with when it arrived.
    public var messages: [(at: ContinuousClock.Instant, text: String)] { received.withLock { $0 } }

    public func close() {
        running.store(false, ordering: .relaxed)
        Foundation.close(fd)
        unlink(path)
    }
}
