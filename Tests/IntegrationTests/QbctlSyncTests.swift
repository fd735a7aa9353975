import Foundation
import QBSyncCore
import QBTestSupport
import Testing

/// Every qbctl command an operator uses for an organisation, through the real binaries: qbctl,
/// qbsyncd and qbo-sim. Each is checked as a table and as `--json`.
@Suite(.timeLimit(.minutes(3))) struct QbctlSyncTests {
    static let demand = #"{"id":"dem-1","developmentId":"dev-1","docNumber":"SC-2026-001","dueDate":"2099-12-31","lines":[{"description":"Service charge Q1","amount":"1250.00"}]}"#

    @Test func connectAndManageAnOrganisation() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let socket = pair.daemon.socketPath
        let (state, redirect) = try await pair.consent("acme")
        let connect = try await qbctl(["connect", "--state", state, "--code", redirect["code"] ?? "", "--realm", redirect["realmId"] ?? ""], socket: socket)
        #expect(connect.status == 0, "\(connect.stderr)")
        #expect(connect.stdout.contains("connected acme to Sandbox Company_US_1 (realm \(pair.sim.defaultRealmID))"))

        let list = try await qbctl(["org", "list"], socket: socket)
        #expect(list.stdout.hasPrefix("ORG   STATUS     REALM"), "\(list.stdout)")
        #expect(tableRows(list).count == 1 && tableRows(list)[0].hasPrefix("acme  connected  \(pair.sim.defaultRealmID)  Sandbox Company_US_1"))
        #expect(try parsed(try await qbctl(["org", "list", "--json"], socket: socket))["orgs"]?.arrayValue?.first?["status"] == "connected")
        #expect(try await qbctl(["org", "list", "--status", "needs_reauthorization"], socket: socket).stdout == "no organisations\n")

        let show = try await qbctl(["org", "show", "acme"], socket: socket)
        #expect(show.stdout.contains("status                 connected") && show.stdout.contains("companyName            Sandbox Company_US_1"), "\(show.stdout)")
        #expect(try parsed(try await qbctl(["org", "show", "acme", "--json"], socket: socket))["realmId"] == .string(pair.sim.defaultRealmID))

        let test = try await qbctl(["org", "test", "acme"], socket: socket)
        #expect(test.stdout.hasPrefix("ok: Sandbox Company_US_1 (realm \(pair.sim.defaultRealmID))"), "\(test.stdout)")
        #expect(try parsed(try await qbctl(["org", "test", "acme", "--json"], socket: socket))["ok"] == true)

        let refresh = try await qbctl(["token", "refresh", "acme"], socket: socket)
        #expect(refresh.status == 0 && refresh.stdout.hasPrefix("refreshed acme: access token valid until "), "\(refresh.stdout)\(refresh.stderr)")
        #expect(try parsed(try await qbctl(["token", "refresh", "acme", "--json"], socket: socket))["org"] == "acme")

        let disconnect = try await qbctl(["org", "disconnect", "acme"], socket: socket)
        #expect(disconnect.stdout == "disconnected acme\n", "\(disconnect.stdout)\(disconnect.stderr)")
        #expect(try parsed(try await qbctl(["org", "show", "acme", "--json"], socket: socket))["status"] == "disconnected")
        let again = try await qbctl(["org", "disconnect", "acme", "--json"], socket: socket)
        #expect(again.status == 0 || again.status == 1, "disconnecting twice is answered either way, never a crash")
    }

    @Test func syncListSummariseRefreshAndFollowEvents() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        let listen = try await pair.control.call(DaemonStatusCall.self).webhook.listen
        _ = try await pair.http.post("/sim/webhooks/config", json: ["url": .string("http://\(listen)/api/webhooks/quickbooks"), "format": "cloudevents"])
        _ = try await pair.connect("acme")
        let socket = pair.daemon.socketPath

        // A development from flags, then the same again as JSON (unchanged: the same mapping).
        let development = ["customer", "sync", "acme", "--id", "dev-1", "--name", "Maple Court", "--email", "office@maplecourt.example", "--address-line1", "1 Maple Court", "--city", "Leeds"]
        let customer = try await qbctl(development, socket: socket)
        #expect(customer.status == 0, "\(customer.stderr)")
        #expect(customer.stdout.hasPrefix("status        Synced\norg           acme\nkind          development\nlocalId       dev-1\nqboType       Customer\n"), "\(customer.stdout)")
        let customerJSON = try parsed(try await qbctl(development + ["--json"], socket: socket))
        #expect(customerJSON["kind"] == "development" && customerJSON["syncToken"] == "0")
        let customers = try await pair.http.get("/sim/companies/\(pair.sim.defaultRealmID)").json["customers"]?.arrayValue ?? []
        #expect(customers.first?["BillAddr"]?["City"] == "Leeds")

        // A demand as JSON on standard input, and one from flags.
        let invoice = try await qbctl(["invoice", "sync", "acme", "--file", "-"], socket: socket, input: Self.demand)
        #expect(invoice.status == 0, "\(invoice.stderr)")
        #expect(invoice.stdout.hasPrefix("status        Outstanding\n") && invoice.stdout.contains("totalAmount   1250.00\n"), "\(invoice.stdout)")
        let second = try parsed(
            try await qbctl(
                ["invoice", "sync", "acme", "--id", "dem-2", "--development", "dev-1", "--due-date", "2099-12-31", "--line", "Service charge Q2=100.00", "--line", "Reserve fund=50.50", "--json"],
                socket: socket
            )
        )
        #expect(second["totalAmount"] == "150.50" && second["status"] == "Outstanding")
        let file = try pair.daemon.directory.write("demand.json", Self.demand)
        #expect(try parsed(try await qbctl(["invoice", "sync", "acme", "--file", file, "--force", "--json"], socket: socket))["localId"] == "dem-1")
        let rejected = try await qbctl(["invoice", "sync", "acme", "--id", "dem-3", "--development", "dev-1", "--due-date", "2099-12-31", "--line", "Q=1.001"], socket: socket)
        #expect(rejected.status == 1 && rejected.stderr.contains("demand.lines[0].amount") && rejected.stderr.contains("(invalid_params)"), "\(rejected.stderr)")

        // Paid in QuickBooks: the webhook turns dem-1 Paid.
        let qboID = try #require(try parsed(try await qbctl(["invoice", "refresh", "acme", "dem-1", "--json"], socket: socket))["qboId"]?.stringValue)
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/pay", json: [:])
        _ = try await pair.http.post("/sim/webhooks/flush", json: [:])
        _ = try await eventually("dem-1 Paid") { () -> Bool? in
            let paid = try parsed(try await qbctl(["entities", "acme", "--status", "Paid", "--json"], socket: socket))
            return paid["entities"]?.arrayValue?.map { $0["localId"] } == ["dem-1"] ? true : nil
        }

        let entities = try await qbctl(["entities", "acme"], socket: socket)
        #expect(entities.stdout.hasPrefix("KIND         ID     QUICKBOOKS  NUMBER       STATUS       TOTAL    BALANCE  DUE         LAST SYNCED"), "\(entities.stdout)")
        let rows = tableRows(entities)
        #expect(rows.count == 3)
        #expect(rows[0].hasPrefix("development  dev-1  Customer ") && rows[0].contains("Synced"))
        #expect(rows[1].hasPrefix("demand       dem-1  Invoice \(qboID)") && rows[1].contains("SC-2026-001  Paid         1250.00  0.00     2099-12-31"), "\(rows[1])")
        #expect(rows[2].contains("dem-2") && rows[2].contains("Outstanding  150.50   150.50"))
        let demands = try parsed(try await qbctl(["entities", "acme", "--kind", "demand", "--json"], socket: socket))
        #expect(demands["entities"]?.arrayValue?.map { $0["localId"] } == ["dem-1", "dem-2"] && demands["nextCursor"] == .null)

        let summary = try await qbctl(["summary", "acme"], socket: socket)
        #expect(summary.stdout.hasPrefix("customers      1\ninvoices       2\n  Outstanding  1\n  Paid         1\n  Overdue      0\n  Voided       0\nreads          "), "\(summary.stdout)")
        let summaryJSON = try parsed(try await qbctl(["summary", "acme", "--json"], socket: socket))
        #expect(summaryJSON["invoices"]?["Paid"] == 1 && summaryJSON["customers"] == 1)

        let refreshed = try await qbctl(["invoice", "refresh", "acme", "dem-1"], socket: socket)
        #expect(refreshed.stdout.hasPrefix("status        Paid\n") && refreshed.stdout.contains("balance       0.00\n"), "\(refreshed.stdout)")
        let unknown = try await qbctl(["invoice", "refresh", "acme", "dem-404"], socket: socket)
        #expect(unknown.status == 1 && unknown.stderr.contains("(not_found)"))

        // The event log, and a retry of one of its events.
        let events = try await eventually("events settled") { () -> [JSONValue]? in
            let events = try parsed(try await qbctl(["events", "--org", "acme", "--json"], socket: socket))["events"]?.arrayValue ?? []
            return events.contains { $0["type"] == "payment.created" } && !events.contains { $0["status"] == "pending" } ? events : nil
        }
        let table = try await qbctl(["events", "--org", "acme"], socket: socket)
        #expect(table.stdout.hasPrefix("ID"), "\(table.stdout)")
        #expect(tableRows(table).count == events.count)
        #expect(tableRows(table).contains { $0.contains("payment.created") && $0.contains("Payment ") && $0.contains("processed") })
        let id = try #require(events.first?["id"]?.intValue)
        let retry = try await qbctl(["event", "retry", "\(id)"], socket: socket)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.hasPrefix("id            \(id)\nstatus        "), "\(retry.stdout)")
        #expect(try parsed(try await qbctl(["event", "retry", "\(id)", "--json"], socket: socket))["id"] == .int(id))
        #expect(try await qbctl(["event", "retry", "999999"], socket: socket).status == 1)
    }

    @Test func aConflictListsTheEditsAndForceOverwritesThem() async throws {
        let pair = try await Pair.start()
        defer { pair.cleanUp() }
        _ = try await pair.connect("acme")
        let socket = pair.daemon.socketPath
        #expect(try await qbctl(["customer", "sync", "acme", "--id", "dev-1", "--name", "Maple Court"], socket: socket).status == 0)
        let push = ["invoice", "sync", "acme", "--id", "dem-1", "--development", "dev-1", "--doc-number", "SC-2026-001", "--due-date", "2099-12-31"]
        let qboID = try #require(try parsed(try await qbctl(push + ["--line", "Service charge=1250.00", "--json"], socket: socket))["qboId"]?.stringValue)
        // Someone edits the invoice in QuickBooks (a second later: Intuit's times have whole seconds).
        _ = try await pair.http.post("/sim/clock", json: ["advanceSeconds": 2])
        _ = try await pair.http.post("/sim/companies/\(pair.sim.defaultRealmID)/invoices/\(qboID)/edit", json: ["DocNumber": "QB-77"])

        let refused = try await qbctl(push + ["--line", "Service charge=1300.00"], socket: socket)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("(conflict)\n  DocNumber: pushed SC-2026-001, now QB-77\n  (--force overwrites"), "\(refused.stderr)")
        let note = try await qbctl(["entities", "acme", "--kind", "demand"], socket: socket)
        #expect(tableRows(note).first?.contains(/edited in QuickBooks at \S+: DocNumber SC-2026-001 -> QB-77$/) == true, "the NOTE column: \(note.stdout)")

        let forced = try await qbctl(push + ["--line", "Service charge=1300.00", "--force"], socket: socket)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("docNumber     SC-2026-001\ntotalAmount   1300.00\n"), "\(forced.stdout)")
        #expect(!forced.stdout.contains("drift"))
    }
}
