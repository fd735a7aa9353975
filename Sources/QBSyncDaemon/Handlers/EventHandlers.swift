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
        let limit = params.limit ?? 100
        guard (1...500).contains(limit) else { throw QBSyncError.invalidParams(field: "limit", detail: "must be from 1 to 500") }
        if let status = params.status, !["pending", "processed", "failed", "ignored"].contains(status) {
            throw QBSyncError.invalidParams(field: "status", detail: "must be pending, processed, failed or ignored")
        }
        var before: Int64?
        if let cursor = params.cursor {
            guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8), text.hasPrefix("e:"), let id = Int64(text.dropFirst(2)) else {
                throw QBSyncError.invalidParams(field: "cursor", detail: "is not a cursor this daemon gave")
            }
            before = id
        }
        let rows = try await repository.list(org: params.org, status: params.status, beforeID: before, limit: limit)
        let next = rows.count == limit ? rows.last.map { Data("e:\($0.id)".utf8).base64EncodedString() } : nil
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
