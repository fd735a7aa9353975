import QBSyncCore
import QBSyncStore
import Testing

/// ``PendingUpdate``: what an update set, recognised in a record without storing its values.
@Suite struct PendingUpdateTests {
    let update = PendingUpdate(PushedFields(["TotalAmt": "250.00", "DueDate": "2099-12-31"]))

    @Test func aRecordHoldingWhatTheUpdateSetHoldsItWhateverElseItHolds() {
        #expect(update.isHeld(by: PushedFields(["TotalAmt": "250.00", "DueDate": "2099-12-31", "status": "Active"])))
        #expect(!update.isHeld(by: PushedFields(["TotalAmt": "250.00", "DueDate": "2099-06-30"])), "one field differs")
        #expect(!update.isHeld(by: PushedFields(["TotalAmt": "250.00"])), "a field the record does not carry is not held")
    }

    @Test func onlyFieldNamesAndADigestAreKept() {
        #expect(update.fields == ["DueDate", "TotalAmt"])
        #expect(update.sha256.count == 64 && !update.sha256.contains("250"))
        #expect(PendingUpdate(PushedFields(["DueDate": "2099-12-31", "TotalAmt": "250.00"])) == update, "the same fields in any order")
    }

    @Test func theNewestAreKept() {
        let all = (1...6).map { PendingUpdate(PushedFields(["TotalAmt": .string("\($0).00")])) }
        let kept = all.reduce([PendingUpdate]()) { PendingUpdate.appending($1, to: $0) }
        #expect(kept == Array(all.suffix(PendingUpdate.kept)))
    }
}
