import Foundation
import QBSyncCore
import QBSyncStore

/// Makes verified deliveries durable with group commit: the first caller commits every delivery
/// that queued up while the previous commit ran, in one transaction, so throughput is not one
/// fsync per request. A caller returns only once its delivery is committed.
///
/// An exact replay of a stored delivery is recognised inside the same write transaction, so it is
/// acknowledged only once the delivery it repeats is committed (earlier, or in this very batch),
/// and is counted instead of stored (F10). If a batch fails, its members are committed again one
/// by one, so one bad delivery does not cost the others a 503 (L10).
actor WebhookIntake {
    private let repository: WebhookRepository
    private var queued: [(IncomingDelivery, CheckedContinuation<WebhookRepository.AppendOutcome, any Error>)] = []
    private var committing = false
    /// Told after each commit, with what it stored (the pipeline wakes for their companies).
    private let committed: @Sendable ([IncomingDelivery]) -> Void
    /// Told of each replay acknowledged without being stored.
    private let duplicate: @Sendable () -> Void

    init(
        repository: WebhookRepository, duplicate: @escaping @Sendable () -> Void = {}, committed: @escaping @Sendable ([IncomingDelivery]) -> Void
    ) {
        self.repository = repository
        self.duplicate = duplicate
        self.committed = committed
    }

    /// Deliveries waiting for the next commit, and whether a commit is under way (for tests).
    var queue: (waiting: Int, committing: Bool) { (queued.count, committing) }

    @discardableResult
    func append(_ delivery: IncomingDelivery) async throws -> WebhookRepository.AppendOutcome {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WebhookRepository.AppendOutcome, any Error>) in
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
                finish(batch, with: try await repository.append(batch.map(\.0)).map { .success($0) })
            } catch where batch.count > 1 {
                // Each alone: only the deliveries that fail by themselves are refused.
                var results: [Result<WebhookRepository.AppendOutcome, any Error>] = []
                for (delivery, _) in batch {
                    do {
                        results.append(.success(try await repository.append([delivery])[0]))
                    } catch {
                        results.append(.failure(error))
                    }
                }
                finish(batch, with: results)
            } catch {
                finish(batch, with: [.failure(error)])
            }
        }
        committing = false
    }

    private func finish(
        _ batch: [(IncomingDelivery, CheckedContinuation<WebhookRepository.AppendOutcome, any Error>)],
        with results: [Result<WebhookRepository.AppendOutcome, any Error>]
    ) {
        var stored: [IncomingDelivery] = []
        for ((delivery, continuation), result) in zip(batch, results) {
            switch result {
            case .success(let outcome):
                if case .stored = outcome { stored.append(delivery) } else { duplicate() }
                continuation.resume(returning: outcome)
            case .failure(let error):
                continuation.resume(throwing: error)
            }
        }
        if !stored.isEmpty { committed(stored) }
    }
}
