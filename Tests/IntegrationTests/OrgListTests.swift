import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// `org.list` pages (control protocol 0.2: `{status?, limit?, cursor?}` → `{orgs, nextCursor}`).
@Suite(.timeLimit(.minutes(2))) struct OrgListTests {
    @Test func orgsComeInPagesFilteredByStatus() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        for name in ["a-org", "b-org", "c-org", "d-org", "e-org"] { _ = try await pair.control.call(OAuthBeginCall.self, OrgParams(org: .test(name))) }
        _ = try await pair.connect("c-org")
        var seen: [String] = []
        var cursor: JSONValue = .null
        repeat {
            var params: [String: JSONValue] = ["limit": 2]
            if cursor != .null { params["cursor"] = cursor }
            let page = try await pair.control.call("org.list", params: .object(params))
            let orgs = page["orgs"]?.arrayValue ?? []
            #expect(orgs.count <= 2)
            seen += orgs.compactMap { $0["org"]?.stringValue }
            cursor = page["nextCursor"] ?? .null
        } while cursor != .null
        #expect(seen == ["a-org", "b-org", "c-org", "d-org", "e-org"], "every org once, in order")
        let connected = try await pair.control.call(OrgListCall.self, .init(status: "connected"))
        #expect(connected.orgs.map(\.org.rawValue) == ["c-org"])
        #expect(connected.nextCursor == nil)
        #expect(try await pair.control.call(OrgListCall.self, .init()).orgs.count == 5, "no params: the first 1,000")
        await #expect { _ = try await pair.control.call("org.list", params: ["limit": 1001]) } throws: { rpcReason($0) == "invalid_params" }
        await #expect { _ = try await pair.control.call("org.list", params: ["status": "happy"]) } throws: { rpcReason($0) == "invalid_params" }
        await #expect { _ = try await pair.control.call("org.list", params: ["cursor": "bm9wZQ=="]) } throws: { rpcReason($0) == "invalid_params" }
    }
}
