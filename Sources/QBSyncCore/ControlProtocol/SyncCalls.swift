/// `customer.sync`: a development as a QBO customer; a second call updates the same customer.
/// `force` overwrites an edit made in QuickBooks (else `conflict` with `data.changes`).
public enum CustomerSyncCall: ControlCall {
    public static let method = "customer.sync"
    public typealias Result = Mapping

    public struct Params: Codable, Sendable, Equatable {
        public var org: OrgID
        public var development: DevelopmentInput
        public var force: Bool?
        public init(org: OrgID, development: DevelopmentInput, force: Bool? = nil) {
            self.org = org
            self.development = development
            self.force = force
        }
    }
}

/// `invoice.sync`: a demand as a QBO invoice; a second call updates the same invoice.
public enum InvoiceSyncCall: ControlCall {
    public static let method = "invoice.sync"
    public typealias Result = Mapping

    public struct Params: Codable, Sendable, Equatable {
        public var org: OrgID
        public var demand: DemandInput
        public var force: Bool?
        public init(org: OrgID, demand: DemandInput, force: Bool? = nil) {
            self.org = org
            self.demand = demand
            self.force = force
        }
    }
}

/// `{org, demandId}`: the params of the methods about one invoice.
public struct DemandParams: Codable, Sendable, Equatable {
    public var org: OrgID
    public var demandId: String
    public init(org: OrgID, demandId: String) {
        self.org = org
        self.demandId = demandId
    }
}

/// `invoice.refresh`: the demand's invoice freshly read from QBO.
public enum InvoiceRefreshCall: ControlCall {
    public static let method = "invoice.refresh"
    public typealias Params = DemandParams
    public typealias Result = Mapping
}

/// `entity.list`: synced entities in insertion order, with an opaque cursor.
public enum EntityListCall: ControlCall {
    public static let method = "entity.list"

    public struct Params: Codable, Sendable, Equatable, PagedParams {
        public var org: OrgID
        public var kind: MappingKind?
        public var status: EntityStatus?
        /// 1…500, default 100.
        public var limit: Int?
        public var cursor: String?
        public init(org: OrgID, kind: MappingKind? = nil, status: EntityStatus? = nil, limit: Int? = nil, cursor: String? = nil) {
            self.org = org
            self.kind = kind
            self.status = status
            self.limit = limit
            self.cursor = cursor
        }
    }

    public struct Result: Codable, Sendable, Equatable, PagedResult {
        public var entities: [Mapping]
        /// `null` on the last page.
        public var nextCursor: String?
        public var rows: [Mapping] { entities }
        public init(entities: [Mapping], nextCursor: String?) {
            self.entities = entities
            self.nextCursor = nextCursor
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(entities, forKey: .entities)
            try c.encode(nextCursor, forKey: .nextCursor)
        }
        enum CodingKeys: String, CodingKey { case entities, nextCursor }
    }
}

/// `sync.summary`: counts, and the month's metered QuickBooks reads for the org's company.
public enum SyncSummaryCall: ControlCall {
    public static let method = "sync.summary"
    public typealias Params = OrgParams

    public struct Result: Codable, Sendable, Equatable {
        /// Invoices by status; the member names are the statuses as the spec spells them.
        public struct Invoices: Codable, Sendable, Equatable {
            public var Outstanding: Int
            public var Paid: Int
            public var Overdue: Int
            public var Voided: Int
            public var total: Int
            public init(Outstanding: Int, Paid: Int, Overdue: Int, Voided: Int, total: Int) {
                self.Outstanding = Outstanding
                self.Paid = Paid
                self.Overdue = Overdue
                self.Voided = Voided
                self.total = total
            }
        }
        /// Metered reads of a month.
        public struct Reads: Codable, Sendable, Equatable {
            public var month: String
            public var count: Int
            public init(month: String, count: Int) {
                self.month = month
                self.count = count
            }
        }
        public var customers: Int
        public var invoices: Invoices
        /// Added: metered reads this month for the org's company.
        public var reads: Reads
        public init(customers: Int, invoices: Invoices, reads: Reads) {
            self.customers = customers
            self.invoices = invoices
            self.reads = reads
        }
    }
}
