import Foundation
import QBSyncCore

/// `GET /cdc?entities=Invoice,Customer&changedSince=…` (reference §2.2): everything changed since
/// then, deleted rows as stubs, one `QueryResponse` per entity asked for. Intuit looks back 30 days
/// and answers at most 1,000 objects; it has no paging, so the simulator keeps the oldest changes
/// (by last update across the entities, ties by entity then id) and a client that moves
/// `changedSince` to the newest time it received makes progress (unconfirmed at Intuit).
extension SimState {
    func changeDataCapture(entities: String?, changedSince: String?, realmID: String) -> SimResponse {
        let current = now()
        guard let entities, !entities.isEmpty else { return IntuitFault.requiredMissing("entities", now: current) }
        guard let changedSince, let since = IntuitTime.parse(changedSince) else { return IntuitFault.requiredMissing("changedSince", now: current) }
        guard current.timeIntervalSince(since) <= 30 * 86_400 else {
            return IntuitFault.requestValidation("changedSince must be within the last 30 days", now: current)
        }
        var asked: [String] = []
        for name in entities.split(separator: ",") {
            guard let entity = IntuitQuery.entities.first(where: { $0.lowercased() == name.trimmingCharacters(in: .whitespaces).lowercased() }) else {
                return IntuitFault.requestValidation("Unsupported entity \(name) for CDC", now: current)
            }
            asked.append(entity)
        }
        var changed: [(entity: String, id: Int, row: Company.Entity)] = []
        for entity in Set(asked) {
            for row in (companies[realmID]!.entities[entity] ?? [:]).values where row.updatedAt > since {
                changed.append((entity, Int(row.body.string("Id") ?? "") ?? 0, row))
            }
        }
        changed.sort { left, right in
            if left.row.updatedAt != right.row.updatedAt { return left.row.updatedAt < right.row.updatedAt }
            if left.entity != right.entity { return left.entity < right.entity }
            return left.id < right.id
        }
        let kept = changed.prefix(configuration.cdcLimit)
        let responses: [JSONValue] = asked.map { entity in
            let rows: [JSONValue] = kept.filter { $0.entity == entity }.map { change in
                let row = change.row
                if row.deleted {
                    return ["Id": row.body["Id"] ?? .null, "status": "Deleted", "domain": "QBO", "MetaData": ["LastUpdatedTime": .string(IntuitTime.metaData(row.updatedAt))]]
                }
                return .object(row.body)
            }
            return rows.isEmpty ? [:] : [.init(stringLiteral: entity): .array(rows), "startPosition": 1, "maxResults": .int(Int64(rows.count))]
        }
        return .json(.ok, JSONValue.object(["CDCResponse": [["QueryResponse": .array(responses)]], "time": .string(IntuitTime.pacific(current))]))
    }
}
