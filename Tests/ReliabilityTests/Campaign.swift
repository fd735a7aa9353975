import Foundation
import QBOSimulator
import QBSyncCore
import QBTestSupport
import Synchronization

/// How big a campaign runs: short in CI (`swift test`), long behind `scripts/reliability.sh`
/// (`QBSYNC_CAMPAIGN=long`). Every campaign draws from one seed, printed, so a failure replays
/// with `QBSYNC_SEED`.
enum Campaign {
    static let environment = ProcessInfo.processInfo.environment
    static let isLong = environment["QBSYNC_CAMPAIGN"] == "long"
    static let seed: UInt64 = environment["QBSYNC_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)

    static func scale(short: Int, long: Int) -> Int { isLong ? long : short }

    /// A generator for one campaign, seeded from the campaign seed and its name.
    static func random(_ name: String, seed: UInt64 = Campaign.seed) -> SplitMix64 {
        SplitMix64(seed: seed ^ FNV1a.hash(name.utf8))
    }

    /// Prints a campaign's figures and appends them to `QBSYNC_CAMPAIGN_REPORT` when it is set.
    static func report(_ title: String, _ lines: [String]) {
        let text = "### \(title) (\(isLong ? "long" : "short"), seed \(seed))\n" + lines.map { "- \($0)\n" }.joined() + "\n"
        print(text, terminator: "")
        if let path = environment["QBSYNC_CAMPAIGN_REPORT"], let handle = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }() {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        }
    }
}

/// A TCP port free at the time of asking, for a daemon whose webhook address must survive restarts.
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw DeadlineExceeded(description: "no free port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// The median of figures (the upper one of an even count).
func median<T: Comparable>(_ values: [T]) -> T? { values.isEmpty ? nil : values.sorted()[values.count / 2] }

/// A value shared by the tasks of a campaign.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// Calls again while the daemon answers `rate_limited` or `qbo_unavailable`, as a client would.
func retrying<Answer: Sendable>(_ call: () async throws -> Answer) async throws -> Answer {
    var last = "no answer"
    do {
        return try await eventually(timeout: .seconds(90), "a call that succeeds") { () -> Answer? in
            do {
                return try await call()
            } catch {
                last = "\(error)"
                if let reason = rpcReason(error), ["rate_limited", "qbo_unavailable"].contains(reason) { return nil }
                throw error
            }
        }
    } catch {
        throw DeadlineExceeded(description: "\(error); the last answer: \(last)")
    }
}
