import Foundation
import QBSyncCore
import Logging
public import ServiceLifecycle

/// `--state PATH`: the simulator's companies, grants and tokens survive a restart. The file is
/// written (atomically: a temporary file, then rename) within half a second of a change and at
/// shutdown.
final class StatePersister: Service, Sendable {
    private let simulator: Simulator
    private let path: String

    init(simulator: Simulator, path: String) {
        self.simulator = simulator
        self.path = path
    }

    /// Loads a saved state into the simulator; a missing file is a fresh start.
    static func load(into simulator: Simulator, path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let saved = try JSONDecoder().decode(PersistedState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        simulator.state.withLock { $0.restore(saved) }
    }

    func run() async throws {
        var last = simulator.state.withLock { $0.persisted }
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(500)) }  // try?: shutdown ends the wait early
            let current = simulator.state.withLock { $0.persisted }
            if current != last {
                save(current)
                last = current
            }
        }
        save(simulator.state.withLock { $0.persisted })
    }

    private func save(_ state: PersistedState) {
        do {
            let data = try JSONEncoder().encode(state)
            let temporary = path + ".tmp"
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            simulator.logger.error("cannot save the simulator state", metadata: [LogKey.path: "\(path)", LogKey.error: "\(error)"])
        }
    }
}

extension Simulator {
    /// Restores `path` if it exists and returns the service that keeps it up to date.
    public func persistence(at path: String) throws -> some Service {
        try StatePersister.load(into: self, path: path)
        return StatePersister(simulator: self, path: path)
    }
}
