/// `invoice.status_changed` notification params.
public struct InvoiceStatusChanged: ControlNotification, Equatable {
    public static let method = "invoice.status_changed"
    public var org: String
    public var demandId: String
    public var qboId: String
    public var from: String
    public var to: String
    public var balance: String
    public var at: String
    public init(org: String, demandId: String, qboId: String, from: String, to: String, balance: String, at: String) {
        self.org = org
        self.demandId = demandId
        self.qboId = qboId
        self.from = from
        self.to = to
        self.balance = balance
        self.at = at
    }
}

/// `connection.status_changed` notification params (also sent when a connection recovers).
public struct ConnectionStatusChanged: ControlNotification, Equatable {
    public static let method = "connection.status_changed"
    public var org: String
    public var from: String
    public var to: String
    public var reason: String
    public var at: String
    public init(org: String, from: String, to: String, reason: String, at: String) {
        self.org = org
        self.from = from
        self.to = to
        self.reason = reason
        self.at = at
    }
}

/// `mapping.drift` notification params (added topic): a record was edited in QuickBooks.
public struct MappingDriftNotice: ControlNotification, Equatable {
    public static let method = "mapping.drift"
    public var org: String
    public var kind: String
    public var localId: String
    public var qboId: String
    public var changes: [FieldChange]
    public var at: String
    public init(org: String, kind: String, localId: String, qboId: String, changes: [FieldChange], at: String) {
        self.org = org
        self.kind = kind
        self.localId = localId
        self.qboId = qboId
        self.changes = changes
        self.at = at
    }
}

/// `connection.reconnect_due` notification params (added topic): the org must connect again soon.
public struct ReconnectDue: ControlNotification, Equatable {
    public static let method = "connection.reconnect_due"
    public var org: String
    public var reconnectBy: String
    public var daysLeft: Int
    public var at: String
    public init(org: String, reconnectBy: String, daysLeft: Int, at: String) {
        self.org = org
        self.reconnectBy = reconnectBy
        self.daysLeft = daysLeft
        self.at = at
    }
}

/// `quota.status_changed` notification params.
public struct QuotaStatusChanged: ControlNotification, Equatable {
    public static let method = "quota.status_changed"
    public var from: String
    public var to: String
    public var used: Int
    public var budget: Int
    public var forecast: Int
    public var at: String
    public init(from: String, to: String, used: Int, budget: Int, forecast: Int, at: String) {
        self.from = from
        self.to = to
        self.used = used
        self.budget = budget
        self.forecast = forecast
        self.at = at
    }
}

/// `webhook.loss` notification params (added topic): webhooks missed more than the threshold.
public struct WebhookLoss: ControlNotification, Equatable {
    public static let method = "webhook.loss"
    public var lossRate: Double
    public var missed: Int
    public var changes: Int
    public var at: String
    public init(lossRate: Double, missed: Int, changes: Int, at: String) {
        self.lossRate = lossRate
        self.missed = missed
        self.changes = changes
        self.at = at
    }
}
