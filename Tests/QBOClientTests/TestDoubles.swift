import QBOClient
import QBSyncCore
import Synchronization

/// A clock whose waits move time forward at once: `now` is the real monotonic clock plus every
/// wait asked for so far, so budgets and blocks expire as if the waits had happened.
final class TestClock: Sendable {
    private let waits = Mutex<[Duration]>([])

    var slept: [Duration] { waits.withLock { $0 } }

    /// Moves time forward without a caller waiting (as if another task had waited).
    func advance(_ duration: Duration) { waits.withLock { $0.append(duration) } }

    var callClock: CallClock {
        CallClock(
            now: { [self] in ContinuousClock.now + waits.withLock { $0.reduce(.zero, +) } },
            sleep: { [self] in advance($0) },
            random: { _ in 1 }
        )
    }
}

/// A company's grant as the client sees it: token `t1`, then `t2`, `t3` after each refresh.
final class FakeTokens: AccessTokenProvider {
    private let generation = Mutex(1)
    private let refusals = Mutex<[QBOFault]>([])
    let realmID: String

    init(realmID: String = "9130000000000041") { self.realmID = realmID }

    /// Refreshes made so far.
    var refreshes: Int { generation.withLock { $0 } - 1 }
    /// Refusals no refresh cures that the client reported.
    var refused: [QBOFault] { refusals.withLock { $0 } }

    func session() async throws -> CompanySession {
        CompanySession(realmID: realmID, accessToken: Secret("t\(generation.withLock { $0 })"))
    }

    func refreshed(after rejected: CompanySession) async throws -> CompanySession {
        let token = generation.withLock { generation in
            if rejected.accessToken.value == "t\(generation)" { generation += 1 }
            return "t\(generation)"
        }
        return CompanySession(realmID: realmID, accessToken: Secret(token))
    }

    func refused(_ fault: QBOFault, session: CompanySession) async throws {
        refusals.withLock { $0.append(fault) }
    }
}

/// Counts metered reads; refuses them all when `refuse` is set.
final class CountingMeter: ReadMeter {
    private let count = Mutex(0)
    private let told = Mutex(0)
    let refuse: Bool

    init(refuse: Bool = false) { self.refuse = refuse }

    var reads: Int { count.withLock { $0 } }
    var intuitRefusals: Int { told.withLock { $0 } }

    static let refusal = QuotaRefusal(used: 500_000, budget: 500_000, month: "2026-12", resetsAt: ReadBudget.monthEnd(of: "2026-12"))

    func willRead(realmID: String) async throws(QBOClientError) {
        if refuse { throw .readQuotaExhausted(Self.refusal) }
        count.withLock { $0 += 1 }
    }

    func intuitRefused() async -> QuotaRefusal {
        told.withLock { $0 += 1 }
        return Self.refusal
    }
}
