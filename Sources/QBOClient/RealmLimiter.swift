import DequeModule
import Synchronization

/// Keeps every caller of one QuickBooks company under Intuit's budgets (reference §2.9) with some
/// headroom: requests per minute and per second, requests in flight, and batch requests per
/// minute. A 429 blocks the company for its Retry-After (60 s when absent); calls in that time
/// fail at once (`overBudget`) instead of adding to the throttling.
public final class RealmLimiter: Sendable {
    public struct Budget: Sendable {
        /// Intuit: 500/min per realm.
        public var perMinute = 450
        /// Intuit: 10/s per realm and app.
        public var perSecond = 8
        /// Intuit: 10 concurrent per realm and app.
        public var concurrent = 8
        /// Intuit: 40 batch requests/min per realm and app.
        public var batchesPerMinute = 36
        /// How long a call may wait for a slot before it is refused.
        public var maximumWait: Duration = .seconds(10)

        public init(perMinute: Int = 450, perSecond: Int = 8, concurrent: Int = 8, batchesPerMinute: Int = 36, maximumWait: Duration = .seconds(10)) {
            self.perMinute = perMinute
            self.perSecond = perSecond
            self.concurrent = concurrent
            self.batchesPerMinute = batchesPerMinute
            self.maximumWait = maximumWait
        }
    }

    private struct Realm {
        var minute = Deque<ContinuousClock.Instant>()
        var second = Deque<ContinuousClock.Instant>()
        var batches = Deque<ContinuousClock.Instant>()
        var inFlight = 0
        var blockedUntil: ContinuousClock.Instant?
    }

    public let budget: Budget
    let clock: CallClock
    private let realms = Mutex<[String: Realm]>([:])
    private let waitsCounter = Atomic<Int>(0)

    public init(budget: Budget = Budget(), clock: CallClock = .continuous) {
        self.budget = budget
        self.clock = clock
    }

    /// Calls that had to wait for a slot (for metrics).
    public var waits: Int { waitsCounter.load(ordering: .relaxed) }

    /// Takes a slot, waiting up to the budget's `maximumWait`; `overBudget` when none comes in
    /// time or the company is blocked after a 429. Pair with ``release(realmID:)``.
    public func acquire(realmID: String, batch: Bool = false) async throws(QBOClientError) {
        let deadline = clock.now() + budget.maximumWait
        var waited = false
        while true {
            let now = clock.now()
            let decision: Decision = realms.withLock { realms in
                var realm = realms[realmID] ?? Realm()
                defer { realms[realmID] = realm }
                if let blocked = realm.blockedUntil {
                    if blocked > now { return .blocked(blocked - now) }
                    realm.blockedUntil = nil
                }
                while let first = realm.minute.first, now - first >= .seconds(60) { realm.minute.removeFirst() }
                while let first = realm.second.first, now - first >= .seconds(1) { realm.second.removeFirst() }
                while let first = realm.batches.first, now - first >= .seconds(60) { realm.batches.removeFirst() }
                var wait: Duration = .zero
                if realm.minute.count >= budget.perMinute { wait = max(wait, realm.minute.first! + .seconds(60) - now) }
                if realm.second.count >= budget.perSecond { wait = max(wait, realm.second.first! + .seconds(1) - now) }
                if batch, realm.batches.count >= budget.batchesPerMinute { wait = max(wait, realm.batches.first! + .seconds(60) - now) }
                if realm.inFlight >= budget.concurrent { wait = max(wait, .milliseconds(20)) }
                guard wait == .zero else { return .wait(wait) }
                realm.minute.append(now)
                realm.second.append(now)
                if batch { realm.batches.append(now) }
                realm.inFlight += 1
                return .granted
            }
            switch decision {
            case .granted: return
            case .blocked(let duration):
                // Blocked after a 429: fail at once with the time left.
                throw .overBudget(retryAfterSeconds: Self.seconds(duration))
            case .wait(let wait):
                guard now + wait <= deadline else { throw .overBudget(retryAfterSeconds: Self.seconds(wait)) }
                if !waited {
                    waited = true
                    waitsCounter.add(1, ordering: .relaxed)
                }
                do { try await clock.sleep(wait) } catch { throw .unavailable("cancelled while waiting for the request budget") }
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Int { max(1, Int(duration.components.seconds) + 1) }

    private enum Decision {
        case granted
        case blocked(Duration)
        case wait(Duration)
    }

    public func release(realmID: String) {
        realms.withLock { $0[realmID]?.inFlight -= 1 }
    }

    /// Intuit answered 429: nothing goes to this company until `seconds` have passed.
    public func block(realmID: String, seconds: Int) {
        let until = clock.now() + .seconds(seconds)
        realms.withLock { realms in
            var realm = realms[realmID] ?? Realm()
            realm.blockedUntil = max(realm.blockedUntil ?? until, until)
            realms[realmID] = realm
        }
    }
}
