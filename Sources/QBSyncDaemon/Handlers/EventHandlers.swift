import Foundation
import QBSyncCore
import QBSyncStore

/// `event.list`: webhook events, newest first, with filters and a cursor.
struct EventListMethod: RPCMethod {
    static let name = "event.list"
    static let access = RPCAccess.read
    struct Params: Decodable, Sendable {
        var org: OrgID?
        var status: String?
        var limit: Int?
        var cursor: String?
    }
    struct Result: Encodable, Sendable {
        var events: [JSONValue]
        var nextCursor: String?
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(events, forKey: .events)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
        enum CodingKeys: String, CodingKey { case events, nextCursor }
    }
    let repository: WebhookRepository

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

/// `event.retry`: processes the event again now.
struct EventRetryMethod: RPCMethod {
    static let name = "event.retry"
    static let access = RPCAccess.write
    struct Params: Decodable, Sendable { var id: Int64 }
    let processor: EventProcessor

    func handle(_ params: Params, context: RPCContext) async throws -> JSONValue {
        guard try await processor.repository.requeue(id: params.id), let event = try await processor.repository.find(id: params.id) else {
            throw QBSyncError.notFound(what: "event \(params.id)")
        }
        let processed = await processor.process(event)
        await processor.updateCounts()
        return processed?.event ?? event.event
    }
}
