public import Foundation

/// One heartbeat's decisions for one instance, pure (``LeaseRules/plan(instance:instances:companies:stored:now:)``):
/// which of its leases to renew, which companies to take, which leases to give back.
public struct LeasePlan: Sendable, Equatable {
    /// Held and still wanted: extended from now.
    public var renew: [CompanyLease] = []
    /// Companies with work and no live holder (never leased, released, or a dead holder's): taken
    /// with the next generation, up to this instance's share.
    public var take: [String] = []
    /// Held but not to be kept: the company has no work any more (disconnected), or this instance
    /// holds more than its share while another live instance holds less.
    public var release: [CompanyLease] = []

    public init(renew: [CompanyLease] = [], take: [String] = [], release: [CompanyLease] = []) {
        self.renew = renew
        self.take = take
        self.release = release
    }
}

extension LeaseRules {
    /// The share of `companies` companies each of `instances` live instances holds (rounded up, so
    /// the shares always cover every company).
    public func share(companies: Int, instances: Int) -> Int {
        (companies + max(1, instances) - 1) / max(1, instances)
    }

    /// What `instance` does at this heartbeat, given every company's stored lease, the companies
    /// that have work, and how many instances are alive (itself included).
    ///
    /// Work spreads without a coordinator: each instance takes free companies up to its share, and
    /// one holding more than its share gives back one lease a beat while another live instance is
    /// under it, so a newcomer (or a restarted instance) gets its share within a few beats and no
    /// company changes hands more often than that. Order is by realm id, so the choice is stable.
    public func plan(instance: String, instances: Int, companies: Set<String>, stored: [CompanyLease], now: Date) -> LeasePlan {
        var plan = LeasePlan()
        let live = stored.filter { $0.expiresAt > now }
        var held: [CompanyLease] = []
        for lease in live.sorted(by: { $0.realmID < $1.realmID }) where lease.owner == instance {
            if companies.contains(lease.realmID) { held.append(lease) } else { plan.release.append(lease) }
        }
        let share = share(companies: companies.count, instances: instances)
        let heldByOwner = Dictionary(grouping: live.filter { companies.contains($0.realmID) }, by: \.owner).mapValues(\.count)
        let othersAtShare = heldByOwner.filter { $0.key != instance && $0.value >= share }.count
        let othersUnderShare = max(0, instances - 1 - othersAtShare)
        if held.count > share, othersUnderShare > 0, let surplus = held.popLast() {
            plan.release.append(surplus)
        }
        plan.renew = held
        let liveRealms = Set(live.map(\.realmID))
        let free = companies.subtracting(liveRealms).sorted()
        plan.take = Array(free.prefix(max(0, share - held.count)))
        return plan
    }
}
