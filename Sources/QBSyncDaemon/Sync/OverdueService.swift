import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// Turns invoices whose due date has passed Overdue (and notifies), at start and then just after
/// each hour starts (``OverduePass``), so the daily change lands within minutes of midnight UTC.
struct OverdueService: Service, CustomStringConvertible {
    var description: String { "OverdueService" }
    let mappings: any MappingStore
    /// Tells subscribers of each invoice that turned (``SyncService/notify(_:from:)``).
    let sync: SyncService
    let logger: Logger
    /// Runs a pass on one instance at a time among several sharing the store (``StoreBackend/asLeader(_:_:)``);
    /// nil when another instance ran it. Alone, it just runs it.
    var asLeader: @Sendable (@Sendable () async -> Int) async -> Int? = { await $0() }

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            _ = await asLeader { await pass() }
            let wait = OverduePass.nextRun(after: Date()).timeIntervalSinceNow
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(max(1, wait))) }  // try?: a shutdown ends the wait
        }
    }

    /// One pass; returns how many invoices turned Overdue. No notification follows a write that
    /// did not happen (failed, or found the invoice no longer Outstanding).
    @discardableResult
    func pass(now: Date = Date()) async -> Int {
        let today = SyncService.today(now)
        let due: [MappingRecord]
        do {
            due = try await mappings.newlyOverdue(today: today).filter { OverduePass.turnsOverdue($0, today: today) }
        } catch {
            logger.warning("the Overdue pass could not read the invoices due; it runs again next hour", metadata: [LogKey.error: "\(error)"])
            return 0
        }
        var turned = 0
        for record in due {
            do {
                guard let changed = try await mappings.markOverdue(id: record.id, today: today, now: now) else { continue }
                sync.notify(changed, from: record.status)
                turned += 1
            } catch {
                logger.warning("the Overdue pass could not record an invoice; it is tried again next hour", metadata: [LogKey.error: "\(error)", LogKey.demand: "\(record.localID)"])
            }
        }
        if turned > 0 { logger.info("invoices turned overdue", metadata: [LogKey.count: "\(turned)"]) }
        return turned
    }
}
