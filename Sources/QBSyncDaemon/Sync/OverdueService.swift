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
        guard let due = try? await sync.mappings.newlyOverdue(today: SyncService.today(now)) else { return 0 }
        for record in due {
            try? await sync.mappings.setStatus(id: record.id, status: .overdue, now: now)
            var changed = record
            changed.status = .overdue
            sync.notify(changed, from: record.status)
        }
        if !due.isEmpty { logger.info("invoices turned overdue", metadata: ["count": "\(due.count)"]) }
        return due.count
    }
}
