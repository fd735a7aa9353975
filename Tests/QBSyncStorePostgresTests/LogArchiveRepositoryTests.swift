import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// Archives of the webhook log, the same on both stores: settled rows leave through a recorded,
/// hash-chained file; pending ones stay.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct LogArchiveRepositoryTests {
    @Test func settledDeliveriesAreArchivedInChainedFilesThatVerify() async throws {
        try await Backends.each { b in
            try await WebhookPipelineTests.connect(b)
            let now = Fixtures.now
            _ = try await b.webhooks.append([Fixtures.cloudEvents(["a"]), Fixtures.cloudEvents(["b", "c"]), Fixtures.cloudEvents(["d"]), Fixtures.cloudEvents(["e"])])
            let events = try await b.webhooks.list(org: nil, status: nil, beforeID: nil, limit: 10).reversed().map(\.self)
            // The fourth delivery's event stays pending: the archive stops before it
            _ = try await b.webhooks.settle(events.prefix(4).map { (id: $0.id, status: "processed", resolution: nil, error: nil) }, now: now)

            let made = try await b.archives.archive(receivedBefore: now.addingTimeInterval(1), now: now, chunk: 2)
            #expect(made.map(\.deliveries) == [2, 1] && made.map(\.events) == [3, 1], "\(b)")
            #expect(made[0].previousSHA256 == nil && made[1].previousSHA256 == made[0].sha256, "\(b): a chain")
            #expect(made[0].file == "webhook-log-\(made[0].firstDeliveryID)-\(made[0].lastDeliveryID).jsonl", "\(b)")
            #expect(try await b.archives.list().map(\.id) == made.map(\.id), "\(b)")
            #expect(try await b.archives.verify().map(\.outcome) == [.verified, .verified], "\(b)")
            #expect(try await b.webhooks.list(org: nil, status: nil, beforeID: nil, limit: 10).map(\.fact.cloudEventID) == ["e"], "\(b): the pending one stays")
            #expect(try await b.archives.archive(receivedBefore: now.addingTimeInterval(1), now: now, chunk: 2).isEmpty, "\(b): nothing more to archive")

            // The file holds the rows as stored
            let path = b.archives.directory + "/" + made[0].file
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 3 && lines[0].contains(#""qbsyncdLogArchive":1"#) && lines[1].contains(#""cloud_event_id":"a""#), "\(b)")
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(b)")

            // A changed file and a missing one are told apart
            try Data("tampered\n".utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.removeItem(atPath: b.archives.directory + "/" + made[1].file)
            #expect(try await b.archives.verify().map(\.outcome) == [.mismatched, .missing], "\(b)")
        }
    }

    @Test func aDeliveryNotYetExtractedIsNotArchived() async throws {
        try await Backends.each { b in
            try await WebhookPipelineTests.connect(b)
            let now = Fixtures.now
            // A settled delivery, then one committed raw whose events are still to be extracted
            _ = try await b.webhooks.append([Fixtures.cloudEvents(["a"])])
            let settled = try await b.webhooks.list(org: nil, status: nil, beforeID: nil, limit: 10)
            _ = try await b.webhooks.settle(settled.map { (id: $0.id, status: "processed", resolution: nil, error: nil) }, now: now)
            let raw = RawDelivery(receivedAt: now, body: Fixtures.cloudEvents(["b"]).body, signature: "sig", remoteAddress: nil)
            _ = try await b.webhooks.appendRaw([raw])

            let made = try await b.archives.archive(receivedBefore: now.addingTimeInterval(1), now: now, chunk: 10)
            #expect(made.map(\.deliveries) == [1], "\(b): only the settled one leaves")
            let listed = try await b.webhooks.unexpanded(limit: 10)
            #expect(listed.count == 1 && listed[0].body == raw.body, "\(b): the unextracted delivery stays, with its body")
        }
    }
}
