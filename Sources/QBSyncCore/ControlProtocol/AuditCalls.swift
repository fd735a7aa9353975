/// `invoice.explain`: why an invoice has its status: every push, delivery, event, change-feed row,
/// read and Overdue pass that touched it, oldest first, and the rule that gives the status.
public enum InvoiceExplainCall: ControlCall {
    public static let method = "invoice.explain"
    public typealias Params = DemandParams

    public struct Result: Codable, Sendable, Equatable {
        public var mapping: Mapping
        public var status: String
        public var rule: String
        /// Added: the status the history alone gives (`null`: the invoice has no history).
        public var rebuilt: String?
        /// Entries `{at, kind, ...}`, open-ended by kind.
        public var chain: [JSONValue]

        public init(mapping: Mapping, status: String, rule: String, rebuilt: String?, chain: [JSONValue]) {
            self.mapping = mapping
            self.status = status
            self.rule = rule
            self.rebuilt = rebuilt
            self.chain = chain
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(mapping, forKey: .mapping)
            try c.encode(status, forKey: .status)
            try c.encode(rule, forKey: .rule)
            try c.encode(rebuilt, forKey: .rebuilt)
            try c.encode(chain, forKey: .chain)
        }
        enum CodingKeys: String, CodingKey { case mapping, status, rule, rebuilt, chain }
    }
}

/// `audit.verify`: rebuilds every invoice status from the append-only history and lists those that
/// differ from the stored status; also checks the webhook log's archive files.
public enum AuditVerifyCall: ControlCall {
    public static let method = "audit.verify"

    public struct Params: Codable, Sendable, Equatable {
        public var org: OrgID?
        public init(org: OrgID? = nil) { self.org = org }
    }

    /// One invoice whose stored status the history does not give.
    public struct Mismatch: Codable, Sendable, Equatable {
        public var org: String
        public var demandId: String
        public var stored: String
        public var rebuilt: String?
        /// Added: the rule the history gives.
        public var rule: String?
        public init(org: String, demandId: String, stored: String, rebuilt: String?, rule: String?) {
            self.org = org
            self.demandId = demandId
            self.stored = stored
            self.rebuilt = rebuilt
            self.rule = rule
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(org, forKey: .org)
            try c.encode(demandId, forKey: .demandId)
            try c.encode(stored, forKey: .stored)
            try c.encode(rebuilt, forKey: .rebuilt)
            try c.encode(rule, forKey: .rule)
        }
        enum CodingKeys: String, CodingKey { case org, demandId, stored, rebuilt, rule }
    }

    /// The webhook log's archives, each file against its recorded hash and chain link. `missing`
    /// files (moved off the host) are listed, not failures.
    public struct Archives: Codable, Sendable, Equatable {
        public var checked: Int
        public var verified: Int
        public var missing: [String]
        /// `{id, file, reason}` per archive that differs from its record.
        public var mismatched: [JSONValue]
        public init(checked: Int, verified: Int, missing: [String], mismatched: [JSONValue]) {
            self.checked = checked
            self.verified = verified
            self.missing = missing
            self.mismatched = mismatched
        }
    }

    public struct Result: Codable, Sendable, Equatable {
        public var checked: Int
        public var mismatches: [Mismatch]
        /// Added: see ``Archives``.
        public var archives: Archives
        public init(checked: Int, mismatches: [Mismatch], archives: Archives) {
            self.checked = checked
            self.mismatches = mismatches
            self.archives = archives
        }
    }
}
