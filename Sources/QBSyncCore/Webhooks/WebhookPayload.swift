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
    /// Classic deliveries carry no event id: the delivery's digest and the event's place in it
    /// identify it, so Intuit's retry of the same body is recognised while two changes of one
    /// entity in the same second (whole-second `lastUpdated`) stay two.
    public var classicKey: String?

    public init(
        realmID: String, entityName: String, entityID: String, operation: String, lastUpdated: String?, type: String, cloudEventID: String?,
        classicKey: String? = nil
    ) {
        self.classicKey = classicKey
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
        if let cloudEventID { return "ce:" + cloudEventID }
        return "cl:\(realmID)|\(entityName)|\(entityID)|\(operation)|\(lastUpdated ?? "")" + (classicKey.map { "|" + $0 } ?? "")
    }
}

/// Parses Intuit's two webhook bodies (reference §3.2, §3.3). Parsing happens after the signature
/// is verified and the raw body stored; a body that does not parse is still kept (format unknown).
public enum WebhookPayload {
    public enum Format: String, Sendable {
        case classic, cloudevents, unknown
    }

    /// A delivery as parsed: its format, the events understood, and for each event that was not
    /// understood the reason (those are stored and shown as failed, never dropped in silence).
    public struct Parsed: Sendable, Equatable {
        public var format: Format
        public var events: [WebhookEventFact]
        public var unparsed: [String]
        public init(format: Format, events: [WebhookEventFact], unparsed: [String]) {
            self.format = format
            self.events = events
            self.unparsed = unparsed
        }
    }

    public static func parse(_ body: Data) -> (Format, [WebhookEventFact]) {
        let parsed = parseDelivery(body)
        return (parsed.format, parsed.events)
    }

    /// CloudEvents first (a JSON array, possibly of several companies), then the classic
    /// `eventNotifications` object.
    public static func parseDelivery(_ body: Data) -> Parsed {
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: body) else {  // try?: not JSON is the answer below
            return Parsed(format: .unknown, events: [], unparsed: ["the body is not JSON"])
        }
        if let events = json.arrayValue { return cloudEvents(events) }
        if let notifications = json["eventNotifications"]?.arrayValue { return classic(notifications, digest: digest(body)) }
        return Parsed(format: .unknown, events: [], unparsed: ["the body is neither a CloudEvents array nor eventNotifications"])
    }

    static func cloudEvents(_ events: [JSONValue]) -> Parsed {
        var facts: [WebhookEventFact] = []
        var unparsed: [String] = []
        for (index, event) in events.enumerated() {
            let id = text(event["id"])
            let name = "event \(index)" + (id.map { " (id \($0.prefix(64)))" } ?? "")
            guard let type = event["type"]?.stringValue else { unparsed.append("\(name): no type"); continue }
            guard let realm = text(event["intuitaccountid"]) else { unparsed.append("\(name): no intuitaccountid"); continue }
            guard let entityID = text(event["intuitentityid"]) else { unparsed.append("\(name): no intuitentityid"); continue }
            // qbo.<entity>.<verb>.v1
            let parts = type.split(separator: ".")
            guard parts.count >= 3, parts[0] == "qbo" else { unparsed.append("\(name): type '\(type.prefix(64))' is not qbo.<entity>.<verb>"); continue }
            let entity = String(parts[1])
            let verbText = String(parts[2])
            facts.append(
                WebhookEventFact(
                    realmID: realm, entityName: entityName(entity), entityID: entityID, operation: operation(verbText), lastUpdated: event["time"]?.stringValue,
                    type: "\(entity).\(verbText == "void" ? "voided" : verbText)", cloudEventID: id
                )
            )
        }
        return Parsed(format: .cloudevents, events: facts, unparsed: unparsed)
    }

    static func classic(_ notifications: [JSONValue], digest: String) -> Parsed {
        var facts: [WebhookEventFact] = []
        var unparsed: [String] = []
        for (n, notification) in notifications.enumerated() {
            guard let realm = text(notification["realmId"]) else { unparsed.append("notification \(n): no realmId"); continue }
            for (index, entity) in (notification["dataChangeEvent"]?["entities"]?.arrayValue ?? []).enumerated() {
                guard let name = entity["name"]?.stringValue, let id = text(entity["id"]), let operation = entity["operation"]?.stringValue else {
                    unparsed.append("notification \(n) entity \(index): no name, id or operation")
                    continue
                }
                facts.append(
                    WebhookEventFact(
                        realmID: realm, entityName: name, entityID: id, operation: operation, lastUpdated: classicTime(entity["lastUpdated"]),
                        type: "\(name.lowercased()).\(verb(operation))", cloudEventID: nil, classicKey: "\(digest):\(n).\(index)"
                    )
                )
            }
        }
        return Parsed(format: .classic, events: facts, unparsed: unparsed)
    }

    /// A string, or a whole number given as a JSON number (ids arrive both ways).
    static func text(_ value: JSONValue?) -> String? {
        if let string = value?.stringValue, !string.isEmpty { return string }
        if let number = value?.intValue { return String(number) }
        if case .double(let number)? = value, number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return nil
    }

    /// Classic `lastUpdated`: RFC 3339 text, or epoch milliseconds (as a number or digits).
    static func classicTime(_ value: JSONValue?) -> String? {
        let millis: Int64?
        switch value {
        case .string(let text)? where !text.isEmpty && text.allSatisfy(\.isNumber): millis = Int64(text)
        case .string(let text)?: return text
        case .int(let number)?: millis = number
        case .double(let number)?: millis = Int64(number)
        default: return nil
        }
        guard let millis else { return nil }
        let date = Date(timeIntervalSince1970: TimeInterval(millis) / 1000)
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// FNV-1a of the body: names a classic delivery for de-duplication (not a security measure;
    /// the signature already proved the body).
    static func digest(_ body: Data) -> String { String(FNV1a.hash(body), radix: 16) }

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
