import Foundation
import QBSyncCore
import QBSyncStore

/// `log.archive`: moves settled webhook deliveries (and their events) older than N days out of
/// the append-only log into hash-chained archive files (docs/log-retention.md), the only way rows
/// leave it. Control group only.
struct LogArchiveMethod: RPCMethod {
    typealias Call = LogArchiveCall
    typealias Result = Call.Result
    static let access = RPCAccess.write
    let repository: any LogArchiveStore
    let pipeline: FeedPipeline

    func handle(_ params: Params, context: RPCContext) async throws -> Result {
        guard (0...36_500).contains(params.olderThanDays) else {
            throw QBSyncError.invalidParams(field: "olderThanDays", detail: "must be a whole number of days from 0 to 36500")
        }
        let cutoff = Date().addingTimeInterval(-Double(params.olderThanDays) * 86_400)
        // A failure leaves the failed chunk in the log (its transaction rolls back); the dispatcher logs it.
        let made = try await repository.archive(receivedBefore: cutoff)
        let deliveries = made.reduce(0) { $0 + $1.deliveries }
        let events = made.reduce(0) { $0 + $1.events }
        if !made.isEmpty {
            context.logger.notice("webhook log archived", metadata: [LogKey.archives: "\(made.count)", LogKey.deliveries: "\(deliveries)", LogKey.events: "\(events)"])
            await pipeline.updateCounts()
        }
        return Result(archives: made.map(\.json), deliveries: deliveries, events: events)
    }
}

/// `log.archives`: every recorded archive, oldest first.
struct LogArchivesMethod: RPCMethod {
    typealias Call = LogArchivesCall
    typealias Result = Call.Result
    static let access = RPCAccess.read
    let repository: any LogArchiveStore

    func handle(_ params: NoParams, context: RPCContext) async throws -> Result {
        Result(directory: repository.directory, archives: try await repository.list().map(\.json))
    }
}
