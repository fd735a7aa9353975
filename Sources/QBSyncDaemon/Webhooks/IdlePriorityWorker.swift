import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One thread at the lowest CPU priority (nice 19), for work that must never take CPU from the
/// listener: the event extraction's JSON parsing. When the machine is idle it runs at full speed;
/// under a burst of deliveries the kernel gives the event loops the CPU first, and the parsing
/// catches up after. One for the process, started on first use.
final class IdlePriorityWorker: Sendable {
    static let shared = IdlePriorityWorker(name: "qbsyncd-extract")

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wakeup = DispatchSemaphore(value: 0)

    private init(name: String) {
        let thread = Thread { [self] in
            #if canImport(Glibc)
            // On Linux the nice value is per thread, and `who` 0 is the calling thread. A failure only
            // leaves it at normal priority (slower to yield), so its result is not checked.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            #endif
            while true {
                wakeup.wait()
                for job in jobs.withLock({ jobs in defer { jobs.removeAll() }; return jobs }) { job() }
            }
        }
        thread.name = name
        thread.start()
    }

    /// Runs `work` on the worker thread and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            jobs.withLock { $0.append { continuation.resume(returning: work()) } }
            wakeup.signal()
        }
    }
}
