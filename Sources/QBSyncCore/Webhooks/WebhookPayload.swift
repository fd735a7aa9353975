public import Foundation

/// One entity change as a webhook reported it, in either of Intuit's formats.
public struct WebhookEventFact: Sendable, Equatable {
    public var realmID: String
    /// `Invoice`, `Payment`, `Customer`, …
    public var entityName: String
    public var entityID: String
    /// `Create`, `Update`, `Delete`, `Void`, `Emailed`, `Merge`.
    public var operation: String
    public var lastUpdated: String?
    /// `invoice.updated`, `payment.created`, …
    public var type: String
    public var cloudEventID: String?

    public init(realmID: String, entityName: String, entityID: String, operation: String, lastUpdated: String?, type: String, cloudEventID: String?) {
        self.realmID = realmID
        self.entityName = entityName
        self.entityID = entityID
        self.operation = operation
        self.lastUpdated = lastUpdated
        self.type = type
        self.cloudEventID = cloudEventID
    }

    /// Two deliveries of the same change share this (CloudEvents: its id; classic: the change itself).
    public var dedupeKey: String {
        cloudEventID.map { "ce:" + $0 } ?? "cl:\(realmID)|\(entityName)|\(entityID)|\(operation)|\(lastUpdated ?? "")"
    }
}

/// Parses Intuit's two webhook bodies (reference §3.2, §3.3). Parsing happens after the signature
/// is verified and the raw body stored; a body that does not parse is still kept (format unknown).
public enum WebhookPayload {
    public enum Format: String, Sendable {
        case classic, cloudevents, unknown
    }

    public static func parse(_ body: Data) -> (Format, [WebhookEventFact]) {
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: body) else { return (.unknown, []) }
        if let notifications = json["eventNotifications"]?.arrayValue {
            var facts: [WebhookEventFact] = []
            for notification in notifications {
                guard let realm = notification["realmId"]?.stringValue ?? notification["realmId"]?.intValue.map(String.init) else { continue }
                for entity in notification["dataChangeEvent"]?["entities"]?.arrayValue ?? [] {
                    guard let name = entity["name"]?.stringValue, let id = entity["id"]?.stringValue ?? entity["id"]?.intValue.map(String.init),
                        let operation = entity["operation"]?.stringValue
                    else { continue }
                    facts.append(
                        WebhookEventFact(
                            realmID: realm, entityName: name, entityID: id, operation: operation, lastUpdated: entity["lastUpdated"]?.stringValue,
                            type: "\(name.lowercased()).\(verb(operation))", cloudEventID: nil
                        )
                    )
                }
            }
            return (.classic, facts)
        }
        if let events = json.arrayValue {
            var facts: [WebhookEventFact] = []
            for event in events {
                guard let type = event["type"]?.stringValue, let realm = event["intuitaccountid"]?.stringValue,
                    let id = event["intuitentityid"]?.stringValue
                else { continue }
                // qbo.<entity>.<verb>.v1
                let parts = type.split(separator: ".")
                guard parts.count >= 3, parts[0] == "qbo" else { continue }
                let entity = String(parts[1])
                let verbText = String(parts[2])
                facts.append(
                    WebhookEventFact(
                        realmID: realm, entityName: entityName(entity), entityID: id, operation: operation(verbText), lastUpdated: event["time"]?.stringValue,
                        type: "\(entity).\(verbText == "void" ? "voided" : verbText)", cloudEventID: event["id"]?.stringValue
                    )
                )
            }
            return (.cloudevents, facts)
        }
        return (.unknown, [])
    }

    /// `Create` → `created`, … (CloudEvents verbs and the event `type`).
    public static func verb(_ operation: String) -> String {
        switch operation {
        case "Create": return "created"
        case "Update": return "updated"
        case "Delete": return "deleted"
        case "Void": return "voided"
        case "Emailed": return "emailed"
        case "Merge": return "merged"
        default: return operation.lowercased()
        }
    }

    /// CloudEvents verbs back to the classic operations; `void` and `voided` both mean Void.
    static func operation(_ verb: String) -> String {
        switch verb {
        case "created": return "Create"
        case "updated": return "Update"
        case "deleted": return "Delete"
        case "voided", "void": return "Void"
        case "emailed": return "Emailed"
        case "merged": return "Merge"
        default: return verb.capitalized
        }
    }

    static func entityName(_ lower: String) -> String {
        switch lower {
        case "invoice": return "Invoice"
        case "payment": return "Payment"
        case "customer": return "Customer"
        case "salesreceipt": return "SalesReceipt"
        case "creditmemo": return "CreditMemo"
        default: return lower.prefix(1).uppercased() + lower.dropFirst()
        }
    }
}
