import Foundation
import QBSyncCore
import QBSyncStore

/// `event.list`: webhook events, newest first, with filters and a cursor.
struct EventListMethod: RPCMethod {
    typealias Call = EventListCall
    typealias Result = Call.Result
    static let access = RPCAccess.read
    let repository: any WebhookLog

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        let limit = try ListCursor.limit(params.limit)
        if let status = params.status, !["pending", "processed", "failed", "ignored"].contains(status) {
            throw QBSyncError.invalidParams(field: "status", detail: "must be pending, processed, failed or ignored")
        }
        let before = try params.cursor.map { cursor throws(QBSyncError) in try ListCursor.parse(cursor, prefix: "e") }
        let rows = try await repository.list(org: params.org, status: params.status, beforeID: before, limit: limit)
        let next = rows.count == limit ? rows.last.map { ListCursor.make(prefix: "e", id: $0.id) } : nil
        return Result(events: rows.map(\.event), nextCursor: next)
    }
}

/// `event.retry`: back to pending and served now (without waiting for the coalescing window);
/// answers the event once it is settled, or as it stands after 30 s.
struct EventRetryMethod: RPCMethod {
    typealias Call = EventRetryCall
    static let access = RPCAccess.write
    let pipeline: FeedPipeline

    func handle(_ params: Params, context: RPCContext) async throws -> JSONValue {
        let repository = pipeline.worker.webhooks
        guard try await repository.requeue(id: params.id), let event = try await repository.find(id: params.id) else {
            throw QBSyncError.notFound(what: "event \(params.id)")
        }
        pipeline.expedite(realmID: event.realmID)
        let deadline = ContinuousClock.now + .seconds(30)
        var current = event
        while current.status == "pending", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            current = try await repository.find(id: params.id) ?? current
        }
        await pipeline.updateCounts()
        return current.event
    }
}
