public import Foundation
public import QBSyncCore

/// What the heartbeat needs of the shared database: the instance registry and the company leases
/// (PostgreSQL's `InstanceRegistry` and `CompanyLeaseRepository`; a fake in tests). SQLite has none:
/// one instance alone holds every company.
/// A write made under a company's lease found it held by another instance now (or run out), and
/// was not made: the company's work moved, and a call is to be made again (it goes to the new holder).
public protocol CompanyLeaseLoss: Error {
    var realmID: String { get }
}

public protocol LeaseTable: Sendable {
    /// Records this instance alive; answers how many are (itself included).
    func beat(instance: String, now: Date) async throws -> Int
    /// Every company's stored lease.
    func leases() async throws -> [CompanyLease]
    /// Takes a free or expired company for `instance`; nil when another live instance holds it.
    func acquire(realmID: String, instance: String, now: Date) async throws -> CompanyLease?
    /// Extends a held lease; nil when it is no longer held.
    func renew(_ lease: CompanyLease, now: Date) async throws -> CompanyLease?
    func release(_ lease: CompanyLease, now: Date) async throws
    /// Says this instance is gone (a graceful stop) and gives back every lease the table says it
    /// holds, not only those it knows of: a beat cut short by the stop may have taken some.
    func leave(instance: String, now: Date) async throws
    /// The companies that have work: bound to an org (connected or to connect again), or with pending events.
    func companies() async throws -> Set<String>
}
