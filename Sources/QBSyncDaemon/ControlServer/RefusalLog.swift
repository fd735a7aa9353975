import Logging
import QBSyncCore
import Synchronization

/// How many refusals (forbidden, unknown method) one control connection may put in the journal
/// (L5): ``perWindow`` per ``window``; past that, one line says they are now only counted, and the
/// next logged refusal carries the count.
struct RefusalLogBudget: Sendable, Equatable {
    static let perWindow = 5
    static let window: Duration = .seconds(60)

    enum Verdict: Sendable, Equatable {
        /// Log it; `suppressed` refusals went unlogged before it.
        case log(suppressed: Int)
        /// The first refusal over the budget: log the one summary line instead.
        case summarize
        case drop
    }

    private var windowStart: ContinuousClock.Instant?
    private var logged = 0
    private var suppressed = 0

    mutating func record(at now: ContinuousClock.Instant) -> Verdict {
        if let windowStart, now - windowStart < Self.window {
            if logged < Self.perWindow {
                logged += 1
                return .log(suppressed: 0)
            }
            suppressed += 1
            return suppressed == 1 ? .summarize : .drop
        }
        windowStart = now
        logged = 1
        defer { suppressed = 0 }
        return .log(suppressed: suppressed)
    }
}

/// One connection's ``RefusalLogBudget``, shared by the tasks that answer its requests.
final class RefusalLog: Sendable {
    private let budget = Mutex(RefusalLogBudget())

    /// Logs `message` at notice if the budget allows.
    func notice(_ message: Logger.Message, logger: Logger) {
        switch budget.withLock({ $0.record(at: .now) }) {
        case .log(let suppressed):
            if suppressed > 0 {
                logger.notice(message, metadata: [LogKey.suppressed: "\(suppressed)"])
            } else {
                logger.notice(message)
            }
        case .summarize:
            logger.notice(
                "control refusals on this connection are over \(RefusalLogBudget.perWindow) a minute; further ones are counted, not logged"
            )
        case .drop:
            break
        }
    }
}
