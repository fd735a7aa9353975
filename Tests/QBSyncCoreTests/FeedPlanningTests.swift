import Foundation
import Testing
import QBSyncCore

/// The pipeline's decisions: coalescing, one read per company at a time, the feed's watermark and
/// cap, and how each event is settled. No I/O: the clock is passed in.
@Suite struct FeedQueueTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func eventsWithinTheWindowShareOneRead() {
        var queue = FeedQueue(window: 3, concurrency: 4)
        queue.eventsArrived(realmID: "A", at: t0)
        queue.eventsArrived(realmID: "A", at: t0.addingTimeInterval(1))
        queue.eventsArrived(realmID: "A", at: t0.addingTimeInterval(2.9))
        #expect(queue.take(now: t0.addingTimeInterval(2.9)).isEmpty, "the window is still open")
        #expect(queue.nextWake() == t0.addingTimeInterval(3))
        #expect(queue.take(now: t0.addingTimeInterval(3)) == [.init(realmID: "A", readClass: .event)])
        #expect(queue.take(now: t0.addingTimeInterval(10)).isEmpty, "one read for all three")
    }

    @Test func oneReadPerCompanyAtATimeAndEventsDuringItGetTheirOwn() {
        var queue = FeedQueue(window: 1, concurrency: 4)
        queue.eventsArrived(realmID: "A", at: t0)
        #expect(queue.take(now: t0.addingTimeInterval(1)).count == 1)
        queue.eventsArrived(realmID: "A", at: t0.addingTimeInterval(1.5))
        #expect(queue.take(now: t0.addingTimeInterval(5)).isEmpty, "A is still running")
        queue.finished(realmID: "A", nextAt: t0.addingTimeInterval(1.5))
        #expect(queue.take(now: t0.addingTimeInterval(5)) == [.init(realmID: "A", readClass: .event)])
        queue.finished(realmID: "A", nextAt: nil)
        #expect(queue.entries.isEmpty)
    }

    @Test func aSlowCompanyHoldsOnlyItsOwnSlot() {
        var queue = FeedQueue(window: 0, concurrency: 2)
        queue.eventsArrived(realmID: "slow", at: t0.addingTimeInterval(-1))
        for realm in ["B", "C"] { queue.eventsArrived(realmID: realm, at: t0) }
        let first = queue.take(now: t0)
        #expect(first.count == 2)
        #expect(queue.take(now: t0).isEmpty, "both slots are taken")
        // The fast one finishes; the third company gets its slot while the slow one still runs.
        let fast = first.first { $0.realmID != "slow" }!
        queue.finished(realmID: fast.realmID, nextAt: nil)
        let next = queue.take(now: t0.addingTimeInterval(0.1))
        #expect(next.count == 1 && next[0].realmID != "slow" && next[0].realmID != fast.realmID)
        #expect(queue.active == 2)
    }

    @Test func aFailedCompanyWaitsForItsRetryAndSweepsComeAfterEvents() {
        var queue = FeedQueue(window: 0, concurrency: 1)
        queue.eventsArrived(realmID: "A", at: t0)
        queue.sweepDue(realmID: "S")
        #expect(queue.take(now: t0) == [.init(realmID: "A", readClass: .event)], "events before sweeps")
        queue.finished(realmID: "A", nextAt: t0.addingTimeInterval(30))
        #expect(queue.take(now: t0.addingTimeInterval(1)) == [.init(realmID: "S", readClass: .sweep)])
        queue.finished(realmID: "S", nextAt: nil)
        #expect(queue.take(now: t0.addingTimeInterval(29)).isEmpty, "A waits for its retry")
        #expect(queue.nextWake() == t0.addingTimeInterval(30))
        #expect(queue.take(now: t0.addingTimeInterval(30)) == [.init(realmID: "A", readClass: .event)])
        #expect(queue.isBusy("A"))
    }
}

@Suite struct FeedReadingTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func invoices(_ count: Int, from start: Date, perSecond: Int = 1) -> [FeedChange] {
        (0..<count).map { FeedChange(entity: .invoice, id: "\($0)", updatedAt: start.addingTimeInterval(Double($0 / perSecond))) }
    }

    @Test func theWatermarkMovesOnlyPastWhatTheAnswerHolds() {
        let rows = invoices(3, from: t0.addingTimeInterval(10))
        #expect(FeedReading.outcome(of: rows, watermark: t0) == .init(watermark: t0.addingTimeInterval(12), readAgain: false, narrow: false))
        #expect(FeedReading.outcome(of: [], watermark: t0) == .init(watermark: t0, readAgain: false, narrow: false), "nothing applied, nothing moves")
        #expect(FeedReading.since(watermark: t0, now: t0.addingTimeInterval(60)) == t0.addingTimeInterval(-1), "a second of overlap")
        #expect(FeedReading.since(watermark: t0, now: t0.addingTimeInterval(40 * 86_400)) == t0.addingTimeInterval(11 * 86_400), "never past Intuit's look-back")
    }

    @Test func aFullAnswerIsReadAgainFromJustBeforeItsNewestSecond() {
        // 1,000 changes, two per second: the answer may have been cut inside its newest second.
        let rows = invoices(1000, from: t0.addingTimeInterval(1), perSecond: 2)
        let outcome = FeedReading.outcome(of: rows, watermark: t0)
        #expect(outcome.readAgain)
        #expect(outcome.watermark == t0.addingTimeInterval(499), "the newest second (500) is asked for again")
        // 1,000 changes in one second: time cannot narrow it.
        let stuck = FeedReading.outcome(of: invoices(1000, from: t0, perSecond: 1000), watermark: t0)
        #expect(stuck.narrow && !stuck.readAgain && stuck.watermark == t0)
    }

    @Test func aVoidedOrDeletedPaymentsInvoicesComeFromTheLinksSeenEarlier() {
        let changes = [
            FeedChange(entity: .payment, id: "P1", updatedAt: t0, voided: true),
            FeedChange(entity: .payment, id: "P2", updatedAt: t0, deleted: true),
            FeedChange(entity: .invoice, id: "I1", updatedAt: t0),
            FeedChange(entity: .payment, id: "P3", updatedAt: t0, linkedInvoices: ["I4"]),
        ]
        let links: [String: Set<String>] = ["P1": ["I1", "I2"], "P2": ["I3"]]
        #expect(FeedReading.invoicesToReread(changes, knownLinks: links) == ["I2", "I3", "I4"], "I1 is in the answer already")
    }
}

@Suite struct EventTriageTests {
    let write = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func eachEventIsSettledByTheCheapestTruth() {
        #expect(EventTriage.decide(entityName: "Invoice", eventTime: write, duplicateOf: 7, mapping: (synced: true, lastWriteAt: write)) == .ignore("duplicate of event 7"))
        #expect(EventTriage.decide(entityName: "Invoice", eventTime: write, duplicateOf: nil, mapping: (synced: false, lastWriteAt: nil)) == .ignore("this invoice was not synced by qbsyncd"))
        #expect(EventTriage.decide(entityName: "Customer", eventTime: write, duplicateOf: nil, mapping: Optional<(synced: Bool, lastWriteAt: Date?)>.none) == .ignore("Customer changes are not synced by qbsyncd"))
        // The webhook of qbsyncd's own write (its time has fractions of the write's second): no read.
        #expect(EventTriage.decide(entityName: "Invoice", eventTime: write.addingTimeInterval(0.4), duplicateOf: nil, mapping: (synced: true, lastWriteAt: write)) == .ownWrite)
        #expect(EventTriage.decide(entityName: "Invoice", eventTime: write.addingTimeInterval(1), duplicateOf: nil, mapping: (synced: true, lastWriteAt: write)) == .needsFeed)
        #expect(EventTriage.decide(entityName: "Payment", eventTime: write, duplicateOf: nil, mapping: Optional<(synced: Bool, lastWriteAt: Date?)>.none) == .needsFeed)
    }

    @Test func failedReadsBackOffThenFail() {
        let now = Date(timeIntervalSince1970: 0)
        #expect(EventRetryPolicy.retryAt(attempt: 1, now: now) == now.addingTimeInterval(2))
        #expect(EventRetryPolicy.retryAt(attempt: 7, now: now) == now.addingTimeInterval(3600))
        #expect(EventRetryPolicy.retryAt(attempt: 8, now: now) == nil)
    }
}
