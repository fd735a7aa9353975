import Foundation
import QBSyncCore
import QBSyncStore
@testable import QBSyncStorePostgres
import Testing

/// The webhook log's pipeline and intake calls, the same on both stores.
@Suite(PostgresTestDatabase.enabled, .timeLimit(.minutes(3)))
struct WebhookPipelineTests {
    let now = Fixtures.now

    /// A connected org for the fixture realm, so its events are pending.
    static func connect(_ b: Backend) async throws {
        try await b.connections(TokenVault(key: .generate())).connect(
            org: OrgID("org-hooks")!, realmID: Fixtures.realm, environment: "sandbox", tokens: Tokens.pair("1"), now: Fixtures.now
        )
    }

    @Test func dueSettlePostponeAndRequeueKeepArrivalOrder() async throws {
        try await Backends.each { [now] b in
            try await Self.connect(b)
            _ = try await b.webhooks.append([Fixtures.cloudEvents(["a", "b", "c"]), Fixtures.cloudEvents(["d"], realmID: "42")])
            #expect(try await b.webhooks.pendingRealms().map(\.realmID) == [Fixtures.realm], "\(b): the unknown company's event is ignored")
            #expect(try await b.webhooks.oldestPending() == now, "\(b)")
            let due = try await b.webhooks.due(realmID: Fixtures.realm, now: now, limit: 10)
            #expect(due.map(\.fact.cloudEventID) == ["a", "b", "c"], "\(b): arrival order")
            #expect(try await b.webhooks.due(realmID: Fixtures.realm, now: now, limit: 2).count == 2, "\(b)")

            try await b.webhooks.postpone(ids: [due[0].id], error: "busy", at: now.addingTimeInterval(30))
            try await b.webhooks.postpone(ids: [due[1].id], error: "budget", at: now.addingTimeInterval(10), countAttempt: false)
            #expect(try await b.webhooks.due(realmID: Fixtures.realm, now: now, limit: 10).map(\.id) == [due[2].id], "\(b)")
            #expect(try await b.webhooks.due(realmID: Fixtures.realm, now: now.addingTimeInterval(30), limit: 10).map(\.id) == due.map(\.id), "\(b)")
            #expect(try await b.webhooks.nextDue(realmID: Fixtures.realm) == now, "\(b): the third is due since it arrived")

            let settled = try await b.webhooks.settle(
                [(id: due[2].id, status: "processed", resolution: "feed", error: nil), (id: 999_999, status: "processed", resolution: nil, error: nil),
                 (id: due[0].id, status: "failed", resolution: nil, error: "refused")],
                now: now.addingTimeInterval(5)
            )
            #expect(settled.map(\.id) == [due[2].id, due[0].id], "\(b): in the order given, unknown ids skipped")
            #expect(settled[0].status == "processed" && settled[0].resolution == "feed" && settled[0].attempts == 1, "\(b)")
            #expect(settled[1].attempts == 2 && settled[1].processError == "refused" && settled[1].processedAt == now.addingTimeInterval(5), "\(b)")
            #expect(try await b.webhooks.find(id: due[1].id)?.attempts == 0, "\(b): waiting for the budget counts no attempt")
            #expect(try await b.webhooks.nextDue(realmID: Fixtures.realm) == now.addingTimeInterval(10), "\(b)")
            #expect(try await b.webhooks.counts() == (pending: 1, failed: 1), "\(b)")

            #expect(try await b.webhooks.requeue(id: due[0].id), "\(b)")
            #expect(try await !b.webhooks.requeue(id: 999_999), "\(b)")
            #expect(try await b.webhooks.due(realmID: Fixtures.realm, now: now, limit: 10).map(\.id) == [due[0].id], "\(b)")
            _ = try await b.webhooks.settle([(id: due[0].id, status: "processed", resolution: nil, error: nil), (id: due[1].id, status: "processed", resolution: nil, error: nil)], now: now)
            #expect(try await b.webhooks.nextDue(realmID: Fixtures.realm) == nil, "\(b)")
            #expect(try await b.webhooks.oldestPending() == nil, "\(b)")
            #expect(try await b.webhooks.pendingRealms().isEmpty, "\(b)")
        }
    }

    @Test func listPagesNewestFirstAndDuplicatesAndReportsAreFound() async throws {
        try await Backends.each { [now] b in
            try await Self.connect(b)
            _ = try await b.webhooks.append([Fixtures.cloudEvents(["a"]), Fixtures.cloudEvents(["b"]), Fixtures.cloudEvents(["c"], body: "[\"c-other-body\"]")])
            let all = try await b.webhooks.list(org: nil, status: nil, beforeID: nil, limit: 10)
            #expect(all.map(\.fact.cloudEventID) == ["c", "b", "a"], "\(b)")
            let page = try await b.webhooks.list(org: OrgID("org-hooks"), status: "pending", beforeID: all[0].id, limit: 1)
            #expect(page.map(\.id) == [all[1].id], "\(b)")
            #expect(try await b.webhooks.list(org: OrgID("org-none"), status: nil, beforeID: nil, limit: 10).isEmpty, "\(b)")

            #expect(try await b.webhooks.reported(realmID: Fixtures.realm, entityName: "Invoice", entityID: "i-a", since: now), "\(b)")
            #expect(try await !b.webhooks.reported(realmID: Fixtures.realm, entityName: "Invoice", entityID: "i-a", since: now.addingTimeInterval(1)), "\(b)")
            #expect(try await b.webhooks.duplicateOf(all[2]) == nil, "\(b)")
        }
    }

    @Test func rawDeliveriesAreExpandedOnceAndACloudEventsRetryIsADuplicate() async throws {
        try await Backends.each { [now] b in
            try await Self.connect(b)
            let first = Fixtures.cloudEvents(["x", "y"])
            let raw = RawDelivery(receivedAt: now, body: first.body, signature: "sig", remoteAddress: nil)
            let retry = RawDelivery(receivedAt: now, body: Data(#"[{"id":"x"},{"id":"y"}, "retried"]"#.utf8), signature: "sig", remoteAddress: nil)
            let outcomes = try await b.webhooks.appendRaw([raw, raw, retry])
            guard case .stored(let id) = outcomes[0], case .stored(let retryID) = outcomes[2] else {
                Issue.record("\(b): \(outcomes)")
                return
            }
            #expect(outcomes[1] == .duplicate(of: id), "\(b): repeated in the batch")
            #expect(try await b.webhooks.appendRaw([raw]) == [.duplicate(of: id)], "\(b): a replay")
            #expect(raw.format == .cloudevents, "\(b)")

            let listed = try await b.webhooks.unexpanded(limit: 10)
            #expect(listed.map(\.id) == [id, retryID] && listed[0].body == raw.body && listed[0].receivedAt == now, "\(b)")
            let parsed = WebhookPayload.Parsed(format: .cloudevents, events: first.events, unparsed: [])
            let expanded = try await b.webhooks.expand([(delivery: listed[0], parsed: parsed), (delivery: listed[1], parsed: parsed), (delivery: listed[0], parsed: parsed)])
            #expect(expanded == [.stored, .duplicate(of: id), nil], "\(b): the retry's events are stored once; an extracted delivery gets nothing more")
            #expect(try await b.webhooks.unexpanded(limit: 10).isEmpty, "\(b)")
            let events = try await b.webhooks.list(org: nil, status: nil, beforeID: nil, limit: 10)
            #expect(events.map(\.fact.cloudEventID) == ["y", "x"] && events.allSatisfy { $0.status == "pending" }, "\(b)")
        }
    }
}
