import Crypto
import Foundation
import QBSyncCore

/// Builds and signs webhook bodies in Intuit's two formats (reference §3.2–3.4).
enum WebhookPayload {
    /// Classic: one `eventNotifications` element per realm (the sender puts one realm in a POST),
    /// its entities in order.
    static func classic(events: [ChangeEvent]) -> Data {
        var realms: [String] = []
        for event in events where !realms.contains(event.realmID) { realms.append(event.realmID) }
        let notifications: [JSONValue] = realms.map { realmID in
            let entities: [JSONValue] = events.filter { $0.realmID == realmID }.map { event in
                [
                    "name": .string(event.entityName), "id": .string(event.entityID), "operation": .string(event.operation),
                    "lastUpdated": .string(Timestamp.fractional(event.at)),
                ]
            }
            return ["realmId": .string(realmID), "dataChangeEvent": ["entities": .array(entities)]]
        }
        return encode(["eventNotifications": .array(notifications)])
    }

    /// CloudEvents 1.0: a JSON array, one event per change (of any company), each with the `id` it
    /// was given when the change was recorded.
    static func cloudEvents(events: [ChangeEvent]) -> Data {
        let array: [JSONValue] = events.map { event in
            [
                "specversion": "1.0", "id": .string(event.id), "source": "intuit.qbo-sim",
                "type": .string("qbo.\(event.entityName.lowercased()).\(verb(event.operation)).v1"),
                "datacontenttype": "application/json", "time": .string(Timestamp.fractional(event.at)),
                "intuitentityid": .string(event.entityID), "intuitaccountid": .string(event.realmID), "data": [:],
            ]
        }
        return encode(.array(array))
    }

    static func verb(_ operation: String) -> String { QBSyncCore.WebhookPayload.verb(operation) }

    /// `base64(HMAC-SHA256(key: verifier token, message: the exact body bytes))`.
    static func signature(body: Data, verifierToken: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(verifierToken.utf8)))
        return Data(mac).base64EncodedString()
    }

    private static func encode(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)  // try?: payloads always encode
    }
}

extension Timestamp {
    /// RFC 3339 UTC with milliseconds, as webhook timestamps are.
    static func fractional(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
