import Dispatch
import Foundation

/// A condition that did not become true before its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Polls `condition` until it returns a value or `timeout` passes; the poll interval is a pause
/// between checks, never a guess at how long something takes.
public func eventually<T>(
    timeout: Duration = .seconds(10), _ what: String = "condition", _ condition: () async throws -> T?
) async throws -> T {
    let start = ContinuousClock.now
    let deadline = start + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await condition() {
                // A near miss is named in the output, so that a deadline too tight for a loaded
                // machine shows up before the run where it fails.
                let took = ContinuousClock.now - start
                if took > timeout / 2 {
                    FileHandle.standardError.write(Data("eventually: \(what) took \(took) of its \(timeout)\n".utf8))
                }
                return value
            }
        } catch {
            lastError = error
        }
        await pause(milliseconds: 20)
    }
    throw DeadlineExceeded(description: "\(what) not met within \(timeout)" + (lastError.map { " (last error: \($0))" } ?? ""))
}

/// Yields the thread for a poll interval without blocking it.
public func pause(milliseconds: Int) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { continuation.resume() }
    }
}
