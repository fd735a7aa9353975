import Foundation
import QBSyncCore
import QBSyncStore

/// Makes verified deliveries durable with group commit: the first caller commits every delivery
/// that queued up while the previous commit ran, in one transaction, so throughput is not one
/// fsync per request. A caller returns only once its delivery is committed.
actor WebhookIntake {
    private let repository: WebhookRepository
    private var queued: [(IncomingDelivery, CheckedContinuation<Void, any Error>)] = []
    private var committing = false
    /// Told after each commit, with what it stored (the pipeline wakes for their companies).
    private let committed: @Sendable ([IncomingDelivery]) -> Void

    init(repository: WebhookRepository, committed: @escaping @Sendable ([IncomingDelivery]) -> Void) {
        self.repository = repository
        self.committed = committed
    }

    func append(_ delivery: IncomingDelivery) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queued.append((delivery, continuation))
            if !committing {
                committing = true
                Task { await self.commitLoop() }
            }
        }
    }

    private func commitLoop() async {
        while !queued.isEmpty {
            let batch = queued
            queued.removeAll()
            do {
                try await repository.append(batch.map(\.0))
                for (_, continuation) in batch { continuation.resume() }
                committed(batch.map(\.0))
            } catch {
                for (_, continuation) in batch { continuation.resume(throwing: error) }
            }
        }
        committing = false
    }
}
