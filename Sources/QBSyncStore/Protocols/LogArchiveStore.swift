public import Foundation

/// The only way rows leave the append-only webhook log: settled deliveries older than a cutoff are
/// written to hash-chained archive files, recorded, then deleted; and the check of that chain.
public protocol LogArchiveStore: Sendable {
    /// Where the archive files are written.
    var directory: String { get }
    func archive(receivedBefore cutoff: Date, now: Date, chunk: Int) async throws -> [LogArchive]
    func list() async throws -> [LogArchive]
    func verify() async throws -> [LogArchiveCheck]
}

extension LogArchiveStore {
    /// Files of at most ``LogArchiveRepository/chunk`` deliveries.
    public func archive(receivedBefore cutoff: Date, now: Date = Date()) async throws -> [LogArchive] {
        try await archive(receivedBefore: cutoff, now: now, chunk: LogArchiveRepository.chunk)
    }
}
