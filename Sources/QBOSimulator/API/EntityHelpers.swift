import Foundation
import NIOHTTP1
import QBSyncCore

/// Money and JSON helpers shared by the entity handlers.
enum Money {
    /// Cents from a JSON number or numeric string; nil for absent, `""` or anything else.
    static func cents(_ value: JSONValue?) -> Int? {
        switch value {
        case .int(let int)?: return Int(int) * 100
        case .double(let double)?: return double.isFinite ? Int((double * 100).rounded()) : nil
        case .string(let text)? where !text.isEmpty:
            guard let decimal = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
            return NSDecimalNumber(decimal: decimal * 100).rounding(accordingToBehavior: nil).intValue
        default: return nil
        }
    }

    /// A JSON number as Intuit writes amounts.
    static func json(_ cents: Int) -> JSONValue {
        cents % 100 == 0 ? .int(Int64(cents / 100)) : .double(Double(cents) / 100)
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// Intuit treats `""` as absent and ignores read-only members on input.
    func cleanedInput(readOnly: Set<String>) -> [String: JSONValue] {
        filter { key, value in
            if readOnly.contains(key) { return false }
            if case .string(let text) = value, text.isEmpty { return false }
            return true
        }
    }

    func string(_ key: String) -> String? {
        switch self[key] {
        case .string(let text)? where !text.isEmpty: return text
        case .int(let int)?: return String(int)
        default: return nil
        }
    }

    /// A ref's id: `{"value":"24"}`.
    func refID(_ key: String) -> String? {
        guard case .object(let ref)? = self[key] else { return nil }
        return ref.string("value")
    }
}

extension SimState {
    /// An entity reply: `{"<Type>":{…},"time":…}`.
    func entityReply(_ type: String, _ body: [String: JSONValue]) -> SimResponse {
        .json(.ok, JSONValue.object([type: .object(body), "time": .string(IntuitTime.pacific(now()))]))
    }

    func meta(created: Date, updated: Date) -> JSONValue {
        ["CreateTime": .string(IntuitTime.metaData(created)), "LastUpdatedTime": .string(IntuitTime.metaData(updated))]
    }

    /// Reads an entity (`GET /v3/company/{realm}/{type}/{id}`); a deleted one is 610.
    func read(_ type: String, id: String, realmID: String) -> SimResponse {
        guard let entity = companies[realmID]?.entities[type]?[id], !entity.deleted else {
            return IntuitFault.objectNotFound(type, id: id, now: now())
        }
        return entityReply(type, entity.body)
    }

    /// The checks every update and delete makes: the entity exists and the SyncToken is current.
    func checkedForUpdate(_ type: String, input: [String: JSONValue], realmID: String) throws(SimFailure) -> Company.Entity {
        guard let id = input.string("Id") else { throw SimFailure(IntuitFault.requiredMissing("Id", now: now())) }
        guard let syncToken = input.string("SyncToken") else { throw SimFailure(IntuitFault.requiredMissing("SyncToken", now: now())) }
        guard let entity = companies[realmID]?.entities[type]?[id], !entity.deleted else {
            throw SimFailure(IntuitFault.objectNotFound(type, id: id, now: now()))
        }
        guard entity.body.string("SyncToken") == syncToken else { throw SimFailure(IntuitFault.staleObject(now: now())) }
        return entity
    }

    /// Stores a changed entity with SyncToken + 1 and a new LastUpdatedTime, and records the change.
    mutating func store(_ type: String, _ entity: Company.Entity, realmID: String, operation: String, bumpSyncToken: Bool = true) -> Company.Entity {
        var entity = entity
        let current = now()
        let id = entity.body.string("Id")!
        if bumpSyncToken {
            let next = (Int(entity.body.string("SyncToken") ?? "0") ?? 0) + 1
            entity.body["SyncToken"] = .string(String(next))
        }
        let created = (entity.body["MetaData"]?["CreateTime"]?.stringValue).flatMap(IntuitTime.parse) ?? current
        entity.body["MetaData"] = meta(created: created, updated: current)
        entity.updatedAt = current
        companies[realmID]?.entities[type, default: [:]][id] = entity
        pendingChanges.append(ChangeEvent(realmID: realmID, entityName: type, entityID: id, operation: operation, at: current))
        return entity
    }
}

/// A failure already shaped as Intuit's answer.
struct SimFailure: Error {
    let response: SimResponse
    init(_ response: SimResponse) { self.response = response }
}
