import Crypto
import Foundation
import QBOClient
import QBSyncCore

/// `customer.sync`'s development (declared in QBSyncCore's ControlProtocol).
extension DevelopmentInput {
    func validate() throws(QBSyncError) {
        try SyncValidation.identifier(id, field: "development.id")
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 100, !trimmed.contains(":") else {
            throw .invalidParams(field: "development.name", detail: "must be 1-100 characters without ':'")
        }
        try SyncValidation.noControlCharacters(name, field: "development.name")
        if let email, email.count > 100 || !email.contains("@") { throw .invalidParams(field: "development.email", detail: "is not an e-mail address") }
        if let phone, phone.count > 30 { throw .invalidParams(field: "development.phone", detail: "is longer than 30 characters") }
        if let address, address.line1.isEmpty || address.line1.count > 500 { throw .invalidParams(field: "development.address.line1", detail: "must be 1-500 characters") }
    }
}

/// `invoice.sync`'s demand (declared in QBSyncCore's ControlProtocol).
extension DemandInput {
    func validate() throws(QBSyncError) {
        try SyncValidation.identifier(id, field: "demand.id")
        try SyncValidation.identifier(developmentId, field: "demand.developmentId")
        if let docNumber, docNumber.isEmpty || docNumber.count > 21 { throw .invalidParams(field: "demand.docNumber", detail: "must be 1-21 characters") }
        if let docNumber { try SyncValidation.noControlCharacters(docNumber, field: "demand.docNumber") }
        if let txnDate { try SyncValidation.date(txnDate, field: "demand.txnDate") }
        try SyncValidation.date(dueDate, field: "demand.dueDate")
        if let memo, memo.count > 1000 { throw .invalidParams(field: "demand.memo", detail: "is longer than 1000 characters") }
        guard !lines.isEmpty, lines.count <= 250 else { throw .invalidParams(field: "demand.lines", detail: "must have 1-250 lines") }
        for (index, line) in lines.enumerated() where line.description.isEmpty || line.description.count > 4000 {
            throw .invalidParams(field: "demand.lines[\(index)].description", detail: "must be 1-4000 characters")
        }
        guard lines.reduce(Money.zero, { $0 + $1.amount }) > .zero else { throw .invalidParams(field: "demand.lines", detail: "must add up to more than 0.00") }
    }
}

enum SyncValidation {
    static func identifier(_ value: String, field: String) throws(QBSyncError) {
        guard !value.isEmpty, value.count <= 64 else { throw .invalidParams(field: field, detail: "must be 1-64 characters") }
    }

    /// Names and DocNumbers are looked up in Intuit's query language, where a control character
    /// has no documented meaning (L2): refused before any call.
    static func noControlCharacters(_ value: String, field: String) throws(QBSyncError) {
        if AccountingClient.hasControlCharacters(value) { throw .invalidParams(field: field, detail: "must not contain control characters") }
    }

    static func date(_ value: String, field: String) throws(QBSyncError) {
        guard value.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil, (try? Date.ISO8601FormatStyle().year().month().day().parse(value)) != nil else {  // try?: not a date is the answer
            throw .invalidParams(field: field, detail: "must be a date, YYYY-MM-DD")
        }
    }

    /// SHA-256 of the input's canonical JSON (sorted keys) plus what else shapes the QBO record.
    static func contentHash(_ value: some Encodable, extra: String = "") -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = ((try? encoder.encode(value)) ?? Data()) + Data(extra.utf8)  // try?: validated inputs always encode
        return Data(SHA256.hash(data: data))
    }
}
