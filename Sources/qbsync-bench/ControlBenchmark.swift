import Foundation
import QBSyncCore
import Synchronization

/// One load shape against the control socket: `clients` connections, each sending `depth`
/// requests before reading their answers, for `seconds`.
struct ControlBenchmark {
    let socketPath: String
    let clients: Int
    let depth: Int
    let seconds: Double

    struct Result {
        var requests: Int
        var elapsed: Double
        /// Round-trip time of one batch (one request when depth is 1), in microseconds.
        var latencies: [Double]
        var requestsPerSecond: Double { Double(requests) / elapsed }
        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return 0 }
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
    }

    /// Blocking sockets on one thread per client: the load generator should cost as little as possible.
    func run() -> Result {
        let request = Array(#"{"jsonrpc":"2.0","id":1,"method":"daemon.status"}"#.utf8) + [10]
        let batch = Array([[UInt8]](repeating: request, count: depth).joined())
        let collected = Collected()
        let group = DispatchGroup()
        let start = now()
        let deadline = start + seconds
        for _ in 0..<clients {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                guard let fd = UnixSocket.connect(path: socketPath) else { return }
                defer { close(fd) }
                var local: [Double] = []
                var count = 0
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while now() < deadline {
                    let sentAt = now()
                    guard writeAll(fd, batch) else { break }
                    var newlines = 0
                    while newlines < depth {
                        let n = read(fd, &buffer, buffer.count)
                        guard n > 0 else { return }
                        for index in 0..<n where buffer[index] == 10 { newlines += 1 }
                    }
                    local.append((now() - sentAt) * 1_000_000)
                    count += depth
                }
                collected.add(count: count, latencies: local)
            }
        }
        group.wait()
        let (total, latencies) = collected.snapshot
        return Result(requests: total, elapsed: now() - start, latencies: latencies)
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        offset += n
    }
    return true
}

/// Resident set size of a process, in KiB.
func residentKiB(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }  // try?: no such process is no figure
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }
    return nil
}

/// What the client threads measured.
final class Collected: Sendable {
    private let state = Mutex<(Int, [Double])>((0, []))
    func add(count: Int, latencies: [Double]) { state.withLock { $0.0 += count; $0.1 += latencies } }
    var snapshot: (Int, [Double]) { state.withLock { $0 } }
}
