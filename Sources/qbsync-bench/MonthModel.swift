import Foundation
import HeapModule
import QBSyncCore

/// One simulated month of N companies, driven by the daemon's own planning code: ``FeedQueue``
/// coalesces each company's webhooks, ``EventTriage`` settles the webhooks of qbsyncd's own
/// writes without a read, ``SweepPlan`` schedules catch-up sweeps within ``ReadBudget``, which
/// grants or refuses every read. Only Intuit and the clock are modelled: changes happen at seeded
/// random times, webhooks arrive a little later or (at the loss rate) never.
struct MonthModel {
    struct Configuration {
        var companies: Int
        var demandsPerCompany = 20
        var paidShare = 0.80
        var voidedShare = 0.02
        var webhookLoss = 0.01
        var budget = 500_000
        var reservePercent = 5
        var window: TimeInterval = 3
        var sweepPeriod: TimeInterval = 86_400
        /// Webhook delivery delay after the change.
        var delivery: TimeInterval = 1
        /// The month modelled (its length is the horizon); `horizon` overrides it for a live run.
        var month = "2026-11"
        var horizon: TimeInterval?
        var seed: UInt64 = 1
    }

    struct Result {
        var reads = 0
        var byClass: [ReadClass: Int] = [:]
        var refused = 0
        var webhooks = 0
        var lost = 0
        var freshness: [TimeInterval] = []
        var catchUp: [TimeInterval] = []
        var uncaught = 0
        /// Reads of 0.1's design for the same month: one read per invoice event, a payment read and
        /// an invoice read per payment event, and a change-feed read per company every 15 minutes.
        var oldDesignReads = 0
        var finalPlan: SweepPlan?
        /// The plan in force half-way through the month.
        var midPlan: SweepPlan?
        var finalState: QuotaState = .ok
        var finalForecast = 0
    }

    private enum Kind {
        /// A change in QuickBooks: a create (qbsyncd's own write), a payment, a void.
        case change(company: Int, change: Int)
        case webhook(company: Int, change: Int)
        case wake
        /// A company's sweep comes due (entries of an older `version` were overtaken by a read).
        case sweep(company: Int, version: Int)
        case plan
    }

    private struct Item: Comparable {
        var at: TimeInterval
        var seq: Int
        var kind: Kind
        static func < (l: Item, r: Item) -> Bool { l.at != r.at ? l.at < r.at : l.seq < r.seq }
        static func == (l: Item, r: Item) -> Bool { l.at == r.at && l.seq == r.seq }
    }

    private struct Change {
        enum What { case create, pay, void }
        var what: What
        var at: TimeInterval
        var lost: Bool
    }

    private struct Company {
        var realmID: String
        var changes: [Change] = []
        var lastReadAt: TimeInterval
        var suspectedLoss = false
        /// Index of the first change not yet seen by a read (changes are sorted by time).
        var unseen = 0
        var version = 0
    }

    let configuration: Configuration

    func run() -> Result {
        var random = SplitMix64(seed: configuration.seed)
        let start = ReadBudget.monthStart(of: configuration.month)
        let horizon = configuration.horizon ?? ReadBudget.monthEnd(of: configuration.month).timeIntervalSince(start)
        var budget = ReadBudget(budget: configuration.budget, reservePercent: configuration.reservePercent, month: configuration.month)
        var queue = FeedQueue(window: configuration.window, concurrency: .max)
        var heap = Heap<Item>()
        var seq = 0
        func push(_ at: TimeInterval, _ kind: Kind) {
            seq += 1
            heap.insert(Item(at: at, seq: seq, kind: kind))
        }
        var result = Result()
        var companies: [Company] = []
        for index in 0..<configuration.companies {
            // Steady state: each company was last read somewhere in the period before the month began.
            var company = Company(realmID: String(9_130_000_000_000 + index), lastReadAt: -random.unit() * configuration.sweepPeriod)
            for _ in 0..<configuration.demandsPerCompany {
                // Payments and voids fall at random times through the month; each demand was pushed
                // (created) at a random time before its payment, so the month is steady, not back-loaded.
                let fate = random.unit()
                let settled = random.unit() * horizon
                let paid = fate < configuration.paidShare
                let voided = !paid && fate < configuration.paidShare + configuration.voidedShare
                let created = paid || voided ? random.unit() * settled : random.unit() * horizon
                company.changes.append(Change(what: .create, at: created, lost: random.unit() < configuration.webhookLoss))
                if paid || voided {
                    company.changes.append(Change(what: paid ? .pay : .void, at: settled, lost: random.unit() < configuration.webhookLoss))
                }
            }
            company.changes.sort { $0.at < $1.at }
            for (n, change) in company.changes.enumerated() { push(change.at, .change(company: index, change: n)) }
            companies.append(company)
            result.oldDesignReads += Int(horizon / 900)
        }
        var plan = SweepPlan(basePeriod: configuration.sweepPeriod, period: configuration.sweepPeriod, plannedSweeps: 0, allowance: 0)
        push(0, .plan)
        for index in companies.indices { push(plan.dueAt(company(companies[index]), firstSeen: start).timeIntervalSince(start), .sweep(company: index, version: 0)) }

        /// A read of a company's feed at `t`: every change up to `t` is seen.
        func read(_ index: Int, _ readClass: ReadClass, at t: TimeInterval) {
            guard budget.take(readClass, now: start.addingTimeInterval(t)) == .granted else {
                result.refused += 1
                return
            }
            result.reads += 1
            result.byClass[readClass, default: 0] += 1
            var company = companies[index]
            company.lastReadAt = t
            var missed = false
            while company.unseen < company.changes.count, company.changes[company.unseen].at <= t {
                let change = company.changes[company.unseen]
                if change.what != .create {
                    if change.lost {
                        result.catchUp.append(t - change.at)
                        missed = true
                    } else {
                        result.freshness.append(t - change.at)
                    }
                }
                company.unseen += 1
            }
            company.suspectedLoss = missed
            company.version += 1
            companies[index] = company
            push(plan.dueAt(self.company(company), firstSeen: start).timeIntervalSince(start), .sweep(company: index, version: company.version))
        }

        while let item = heap.popMin(), item.at <= horizon {
            let t = item.at
            switch item.kind {
            case .change(let index, let n):
                let change = companies[index].changes[n]
                if change.lost {
                    result.lost += 1
                } else {
                    result.webhooks += 1
                    push(t + configuration.delivery, .webhook(company: index, change: n))
                }
            case .webhook(let index, let n):
                let change = companies[index].changes[n]
                // 0.1: an invoice event re-read the invoice; a payment event read the payment and its invoice.
                result.oldDesignReads += change.what == .pay ? 3 : 1
                // The webhook of qbsyncd's own write is settled from the write's answer.
                let triage = EventTriage.decide(
                    entityName: "Invoice", eventTime: Date(timeIntervalSince1970: change.at), duplicateOf: nil,
                    mapping: (synced: true, lastWriteAt: change.what == .create ? Date(timeIntervalSince1970: change.at) : nil)
                )
                guard triage == .needsFeed else { continue }
                queue.eventsArrived(realmID: String(index), at: start.addingTimeInterval(t))
                if let wake = queue.nextWake() { push(wake.timeIntervalSince(start), .wake) }
            case .wake:
                for work in queue.take(now: start.addingTimeInterval(t)) {
                    read(Int(work.realmID)!, work.readClass, at: t)
                    queue.finished(realmID: work.realmID, nextAt: nil)
                }
            case .sweep(let index, let version):
                guard version == companies[index].version else { continue }
                // The period may have stretched since this entry was made.
                let due = plan.dueAt(company(companies[index]), firstSeen: start).timeIntervalSince(start)
                if due > t + 1 {
                    if due.isFinite { push(due, .sweep(company: index, version: version)) } else { push(t + 3600, .sweep(company: index, version: version)) }
                    continue
                }
                guard budget.allows(.sweep) else {
                    push(t + 3600, .sweep(company: index, version: version))
                    continue
                }
                read(index, .sweep, at: t)
            case .plan:
                plan = SweepPlan.fit(basePeriod: configuration.sweepPeriod, companies: configuration.companies, budget: budget, now: start.addingTimeInterval(t))
                if result.midPlan == nil, t >= horizon / 2 { result.midPlan = plan }
                push(t + min(3600, max(1, horizon / 100)), .plan)
            }
        }
        for company in companies {
            result.uncaught += company.changes[company.unseen...].filter { $0.what != .create && $0.lost }.count
        }
        result.finalPlan = plan
        let end = start.addingTimeInterval(horizon)
        result.finalState = budget.state(now: end)
        result.finalForecast = budget.forecast(now: end)
        return result
    }

    private func company(_ company: Company) -> SweepPlan.Company {
        let start = ReadBudget.monthStart(of: configuration.month)
        return SweepPlan.Company(realmID: company.realmID, lastReadAt: start.addingTimeInterval(company.lastReadAt), suspectedLoss: company.suspectedLoss)
    }
}

