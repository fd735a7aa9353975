public import Foundation
public import QBSyncCore

/// A reference to another entity: `{"value":"24"}`.
public struct QBORef: Codable, Sendable, Equatable {
    public var value: String
    public init(_ value: String) { self.value = value }
}

/// The customer fields the daemon writes. Nil members are left out of the JSON, which in a
/// sparse update leaves them unchanged.
public struct CustomerPayload: Encodable, Sendable {
    public struct Email: Encodable, Sendable { public var Address: String }
    public struct Phone: Encodable, Sendable { public var FreeFormNumber: String }
    public typealias Address = PostalAddress

    public var Id: String?
    public var SyncToken: String?
    public var sparse: Bool?
    public var DisplayName: String
    public var CompanyName: String?
    public var PrimaryEmailAddr: Email?
    public var PrimaryPhone: Phone?
    public var BillAddr: Address?
    public var Notes: String?
    /// Every push says the customer is active (its intended `status`): one a QuickBooks user made
    /// inactive (Intuit renamed it "<name> (deleted)") comes back under the pushed name.
    public var Active = true

    public init(displayName: String, email: String?, phone: String?, address: Address?, notes: String?) {
        DisplayName = displayName
        CompanyName = displayName
        PrimaryEmailAddr = email.map { Email(Address: $0) }
        PrimaryPhone = phone.map { Phone(FreeFormNumber: $0) }
        BillAddr = address
        Notes = notes
    }
}

/// The invoice fields the daemon writes; amounts are exact decimals.
public struct InvoicePayload: Encodable, Sendable {
    public struct Line: Encodable, Sendable {
        public struct Detail: Encodable, Sendable {
            public var ItemRef: QBORef
            public var Qty: Int = 1
            public var UnitPrice: Decimal
        }
        public var Amount: Decimal
        public var Description: String
        public var DetailType = "SalesItemLineDetail"
        public var SalesItemLineDetail: Detail

        public init(amount: Money, description: String, itemID: String) {
            Amount = amount.decimal
            Description = description
            SalesItemLineDetail = Detail(ItemRef: QBORef(itemID), UnitPrice: amount.decimal)
        }
    }
    public struct Memo: Encodable, Sendable { public var value: String }

    public var Id: String?
    public var SyncToken: String?
    public var sparse: Bool?
    public var CustomerRef: QBORef
    public var DocNumber: String?
    public var TxnDate: String?
    public var DueDate: String
    public var CustomerMemo: Memo?
    public var PrivateNote: String?
    public var Line: [InvoicePayload.Line]

    public init(customerID: String, docNumber: String?, txnDate: String?, dueDate: String, memo: String?, privateNote: String?, lines: [InvoicePayload.Line]) {
        CustomerRef = QBORef(customerID)
        DocNumber = docNumber
        TxnDate = txnDate
        DueDate = dueDate
        CustomerMemo = memo.map { Memo(value: $0) }
        PrivateNote = privateNote
        self.Line = lines
    }
}

/// A customer as QuickBooks answers it (the members the daemon reads).
public struct QBOCustomer: Decodable, Sendable {
    public struct Email: Decodable, Sendable { public var Address: String? }
    public struct Phone: Decodable, Sendable { public var FreeFormNumber: String? }
    public typealias Address = PostalAddress

    public var Id: String
    public var SyncToken: String
    public var DisplayName: String
    public var Notes: String?
    public var CompanyName: String? = nil
    public var PrimaryEmailAddr: Email? = nil
    public var PrimaryPhone: Phone? = nil
    public var BillAddr: Address? = nil
    public var Active: Bool? = nil
    public var MetaData: QBOMeta? = nil
}

/// An invoice line as QuickBooks answers it (the daemon compares amounts only).
public struct QBOLine: Decodable, Sendable {
    public var Amount: Decimal?
    public var DetailType: String?
}

/// An invoice as QuickBooks answers it; `TotalAmt` and `Balance` are decoded from their JSON text.
public struct QBOInvoice: Decodable, Sendable {
    public var Id: String
    public var SyncToken: String
    public var DocNumber: String?
    public var TotalAmt: Decimal
    public var Balance: Decimal
    public var DueDate: String?
    public var PrivateNote: String?
    public var CustomerRef: QBORef
    public var MetaData: QBOMeta? = nil
    public var Line: [QBOLine]? = nil

    /// Intuit has no void flag: a voided invoice has zero amounts and "Voided" before its note.
    public var isVoided: Bool { TotalAmt == 0 && (PrivateNote?.hasPrefix("Voided") ?? false) }
}

/// A service item and the income account it posts to.
public struct QBOItem: Decodable, Sendable {
    public struct AccountRef: Decodable, Sendable {
        public var value: String
        public var name: String?
    }
    public var Id: String
    public var SyncToken: String? = nil
    public var Name: String?
    public var IncomeAccountRef: AccountRef?
    /// False once a QuickBooks user made it inactive (Intuit then renames it "<name> (deleted)").
    public var Active: Bool? = nil
}

/// An account as the service item's choice needs it.
public struct QBOAccount: Decodable, Sendable {
    public var Id: String
    public var Name: String
    public var AccountSubType: String?
}

/// A minimal entity with an id (items, accounts).
public struct QBONamed: Decodable, Sendable {
    public var Id: String
    public var Name: String?
}

/// A payment as QuickBooks answers it: the invoices it pays are in `Line[].LinkedTxn`.
public struct QBOPayment: Decodable, Sendable {
    public struct Line: Decodable, Sendable {
        public struct Linked: Decodable, Sendable {
            public var TxnId: String
            public var TxnType: String
        }
        public var LinkedTxn: [Linked]?
    }
    public var Id: String
    public var Line: [QBOPayment.Line]?

    public var invoiceIDs: [String] {
        let lines: [QBOPayment.Line] = self.Line ?? []
        var ids: [String] = []
        for line in lines {
            for linked in line.LinkedTxn ?? [] where linked.TxnType == "Invoice" { ids.append(linked.TxnId) }
        }
        return ids
    }
}

/// `MetaData`: when QuickBooks last changed the record (company time zone, whole seconds).
public struct QBOMeta: Decodable, Sendable {
    public var LastUpdatedTime: String?

    /// `LastUpdatedTime` as a date.
    public var lastUpdated: Date? { LastUpdatedTime.flatMap(IntuitTime.parse) }
}

/// Intuit's timestamps: RFC 3339 with an offset, with or without fractions.
public enum IntuitTime {
    public static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))  // try?: not a timestamp is nil
    }
}

/// What one change-feed read answered.
public struct ChangeFeed: Sendable {
    public var invoices: [CDCInvoice]
    public var payments: [CDCPayment]
    public var count: Int { invoices.count + payments.count }
}

/// One payment row of a CDC answer: the invoices it pays, or a stub for a deleted one.
public struct CDCPayment: Decodable, Sendable {
    public var Id: String
    public var status: String?
    public var TotalAmt: Decimal?
    public var PrivateNote: String?
    public var Line: [QBOPayment.Line]?
    public var MetaData: QBOMeta?

    public var isDeleted: Bool { status == "Deleted" }
    public var isVoided: Bool { !isDeleted && TotalAmt == 0 && (PrivateNote?.hasPrefix("Voided") ?? false) }
    public var invoiceIDs: [String] { QBOPayment(Id: Id, Line: Line).invoiceIDs }
}

/// One invoice row of a CDC answer: a full invoice, or a stub for a deleted one.
public struct CDCInvoice: Decodable, Sendable {
    public typealias Meta = QBOMeta
    public var Id: String
    public var status: String?
    public var SyncToken: String?
    public var DocNumber: String?
    public var TotalAmt: Decimal?
    public var Balance: Decimal?
    public var DueDate: String?
    public var PrivateNote: String?
    public var MetaData: Meta?
    public var CustomerRef: QBORef?
    public var Line: [QBOLine]?

    public var isDeleted: Bool { status == "Deleted" }

    /// The full invoice (nil for a deleted stub); an absent CustomerRef is `""`.
    public var invoice: QBOInvoice? {
        guard !isDeleted, let SyncToken, let TotalAmt, let Balance else { return nil }
        return QBOInvoice(
            Id: Id, SyncToken: SyncToken, DocNumber: DocNumber, TotalAmt: TotalAmt, Balance: Balance, DueDate: DueDate, PrivateNote: PrivateNote,
            CustomerRef: CustomerRef ?? QBORef(""), MetaData: MetaData, Line: Line
        )
    }
}

/// An address as Intuit writes and reads it (`BillAddr`). Nil members are left out of the JSON.
public struct PostalAddress: Codable, Sendable {
    public var Line1: String?
    public var Line2: String?
    public var City: String?
    public var CountrySubDivisionCode: String?
    public var PostalCode: String?
    public var Country: String?
    public init(line1: String?, line2: String?, city: String?, region: String?, postalCode: String?, country: String?) {
        Line1 = line1
        Line2 = line2
        City = city
        CountrySubDivisionCode = region
        PostalCode = postalCode
        Country = country
    }
}
