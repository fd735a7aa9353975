import Foundation
import QBSyncCore
import QBSyncStore

/// Extraction never takes CPU from the listener: it parses on ``IdlePriorityWorker`` (nice 19), so
/// a burst is answered at full speed and extracted as the CPU allows, in full once it ends. Its
/// transactions have no fsync of their own (``WebhookRepository/expand(_:)``), so running after
/// every commit costs the commits nothing but the writer's time.
extension WebhookIntake {
    func expansionLoop() async {
        while true {
            let (due, finished) = state.withLock { state in
                defer { state.expansionDue = false }
                return (state.expansionDue, state.stopped)
            }
            // Stopping: what is still listed is extracted at the next start, not while systemd waits.
            if finished { return }
            if due, await !expandListed(untilStopping: true), !state.withLock({ $0.stopping }) {
                // The store could not take them (a full disk): again in a while, not only at the next delivery.
                try? await Task.sleep(for: Self.extractionRetry)  // try?: cancelled means stopping; the loop ends next round
                state.withLock { $0.expansionDue = true }
            }
            await withCheckedContinuation { continuation in
                let now = state.withLock { state in
                    if state.expansionDue || state.stopped { return true }
                    state.expansionWakeup = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        }
    }

    /// Extracts the events of every listed delivery (at start: what a crash left listed); from the
    /// loop, only until the intake is stopping. False when a batch failed (logged) or it stopped early.
    @discardableResult
    func expandListed(untilStopping: Bool = false) async -> Bool {
        while true {
            // From the loop, each of a batch's small transactions gives way to the intake
            // (``ExtractionPacing``); at start nothing arrives yet, and a batch is one transaction.
            guard let more = await expandBatch(paced: untilStopping) else { return false }
            if !more { return true }
            if untilStopping, state.withLock({ $0.stopping }) { return false }
        }
    }

    /// Returns when the intake is idle, or when the batch has waited ``ExtractionPacing/maximumDeferral``.
    private func giveWayToTheIntake(_ pacing: inout ExtractionPacing) async {
        while case .wait = pacing.decide(intakeBusy: intakeBusy, now: .now) {
            // A short poll while a burst lasts: the commit loop keeps its thread to itself.
            do { try await Task.sleep(for: Self.idlePoll) } catch { return }  // cancelled: stopping, which the caller checks
        }
    }

    /// Whether deliveries wait for a commit or one is under way.
    var intakeBusy: Bool { state.withLock { !$0.waiting.isEmpty || $0.committing } }

    /// How often a waiting extraction looks again for an idle intake.
    static let idlePoll: Duration = .milliseconds(2)

    /// One batch, read and parsed whole; `paced`, it is written ``WebhookIntake/expansionWriteChunk``
    /// deliveries to a transaction, each giving way to the intake first. Whether more may be listed
    /// (nil: it failed, logged, and is tried again after ``WebhookIntake/extractionRetry``, at the
    /// next commit, or at the next start).
    private func expandBatch(paced: Bool) async -> Bool? {
        var pacing = ExtractionPacing()
        let writeChunk = paced ? Self.expansionWriteChunk : Self.expansionBatch
        do {
            let listed = try await repository.unexpanded(limit: Self.expansionBatch)
            guard !listed.isEmpty else { return false }
            let parsed = await IdlePriorityWorker.shared.run { listed.map { (delivery: $0, parsed: WebhookPayload.parseDelivery($0.body)) } }
            for start in stride(from: 0, to: parsed.count, by: writeChunk) {
                if paced { await giveWayToTheIntake(&pacing) }  // a commit due waits for one small transaction at most
                let chunk = Array(parsed[start..<min(start + writeChunk, parsed.count)])
                let outcomes = try await repository.expand(chunk)
                report(zip(chunk.map(\.parsed), outcomes))
            }
            return listed.count == Self.expansionBatch
        } catch is CancellationError {
            return nil
        } catch {
            logger.error("webhook events could not be extracted; they will be when the store can write", metadata: [LogKey.error: "\(error)"])
            return nil
        }
    }

    private func report(_ outcomes: some Sequence<(WebhookPayload.Parsed, ExpansionOutcome?)>) {
        var stored: [WebhookPayload.Parsed] = []
        for (parsed, outcome) in outcomes {
            switch outcome {
            case .stored?:
                stored.append(parsed)
                if !parsed.unparsed.isEmpty {
                    // Stored (the raw body and a failed event each), counted and said: never silent.
                    unparsed(parsed.unparsed.count)
                    logger.warning(
                        "a signed webhook delivery held events that could not be parsed; stored as failed events",
                        metadata: [LogKey.unparsed: "\(parsed.unparsed.count)", LogKey.parsed: "\(parsed.events.count)", LogKey.first: "\(parsed.unparsed[0].prefix(120))"]
                    )
                }
            case .duplicate?:
                duplicate()
            case nil:
                break
            }
        }
        if !stored.isEmpty { committed(stored) }
    }
}
