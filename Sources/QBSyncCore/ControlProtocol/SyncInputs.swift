/// `customer.sync`'s development (the daemon validates it before any QuickBooks call).
public struct DevelopmentInput: Codable, Sendable, Equatable {
    /// The development's postal address.
    public struct Address: Codable, Sendable, Equatable {
        public var line1: String
        public var line2: String?
        public var city: String?
        public var region: String?
        public var postalCode: String?
        public var country: String?
        public init(line1: String, line2: String? = nil, city: String? = nil, region: String? = nil, postalCode: String? = nil, country: String? = nil) {
            self.line1 = line1
            self.line2 = line2
            self.city = city
            self.region = region
            self.postalCode = postalCode
            self.country = country
        }
    }

    public var id: String
    public var name: String
    public var email: String?
    public var phone: String?
    public var address: Address?

    public init(id: String, name: String, email: String? = nil, phone: String? = nil, address: Address? = nil) {
        self.id = id
        self.name = name
        self.email = email
        self.phone = phone
        self.address = address
    }
}

/// `invoice.sync`'s demand.
public struct DemandInput: Codable, Sendable, Equatable {
    /// One invoice line; `amount` is a decimal string or a number with at most two places.
    public struct Line: Codable, Sendable, Equatable {
        public var description: String
        public var amount: Money
        public init(description: String, amount: Money) {
            self.description = description
            self.amount = amount
        }
    }

    public var id: String
    public var developmentId: String
    public var docNumber: String?
    public var txnDate: String?
    public var dueDate: String
    public var memo: String?
    public var lines: [Line]

    public init(
        id: String, developmentId: String, docNumber: String? = nil, txnDate: String? = nil, dueDate: String, memo: String? = nil, lines: [Line]
    ) {
        self.id = id
        self.developmentId = developmentId
        self.docNumber = docNumber
        self.txnDate = txnDate
        self.dueDate = dueDate
        self.memo = memo
        self.lines = lines
    }
}
