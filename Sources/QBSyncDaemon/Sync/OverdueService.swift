import Foundation
import Logging
import QBSyncCore
import QBSyncStore
import ServiceLifecycle

/// Turns invoices whose due date has passed Overdue (and notifies), at start and then hourly, so
/// the daily change happens within an hour of midnight UTC.
struct OverdueService: Service, CustomStringConvertible {
    var description: String { "OverdueService" }
    let sync: SyncService
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            await pass()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }

    /// One pass; returns how many invoices turned Overdue.
    @discardableResult
    func pass(now: Date = Date()) async -> Int {
        let today = SyncService.today(now)
        guard let due = try? await sync.mappings.newlyOverdue(today: today) else { return 0 }
        var turned = 0
        for record in due {
            // Checked again in the transaction that records it (with its history row): a payment may have landed meanwhile.
            guard let changed = try? await sync.mappings.markOverdue(id: record.id, today: today, now: now) else { continue }
            sync.notify(changed, from: record.status)
            turned += 1
        }
        if turned > 0 { logger.info("invoices turned overdue", metadata: ["count": "\(turned)"]) }
        return turned
    }
}
