import Synchronization

/// Where a caller waits for the answer to a call it forwarded: rung by the holder's announcement
/// (`a:` + the call's id), and by a timer, so that a lost announcement costs one poll interval.
final class AnswerBells: Sendable {
    private enum Bell {
        case quiet
        /// Rung while no one waited: the next wait returns at once.
        case rung
        case waiting(CheckedContinuation<Void, Never>)
    }

    private let bells = Mutex<[String: Bell]>([:])

    /// From now on a ring for `id` is kept until it is waited for.
    func open(_ id: String) { bells.withLock { $0[id] = .quiet } }

    func close(_ id: String) {
        if case .waiting(let continuation)? = bells.withLock({ $0.removeValue(forKey: id) }) { continuation.resume() }
    }

    /// Wakes the wait for `id` (a call of another instance: nothing).
    func ring(_ id: String) {
        let waiting: CheckedContinuation<Void, Never>? = bells.withLock { bells in
            switch bells[id] {
            case .waiting(let continuation)?:
                bells[id] = .quiet
                return continuation
            case .quiet?:
                bells[id] = .rung
                return nil
            case .rung?, nil:
                return nil
            }
        }
        waiting?.resume()
    }

    /// Returns when `id` is rung, or after `interval`.
    func wait(_ id: String, upTo interval: Duration) async {
        let timer = Task { [weak self] in
            // Cancelled once the wait ended otherwise: then it must not ring (a ring would be kept for the next wait).
            guard (try? await Task.sleep(for: interval)) != nil else { return }
            self?.ring(id)
        }
        defer { timer.cancel() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now: Bool = bells.withLock { bells in
                switch bells[id] {
                case .quiet?:
                    bells[id] = .waiting(continuation)
                    return false
                case .rung?:
                    bells[id] = .quiet
                    return true
                case .waiting?, nil:
                    return true
                }
            }
            if now { continuation.resume() }
        }
    }
}
