import QBSyncCore

/// Example lines of spec/control-protocol.md, with its placeholders (`...`, `a|b`) filled in.
/// The spec's examples are the contract: every member they show must survive a client's
/// decode and encode unchanged, `null`s included.
enum ControlCallExamples {
    static let orgInfo = #"""
        {"org":"acme","status":"connected","realmId":"9341453000000000","companyName":"Acme Block Management Ltd",
         "environment":"sandbox","connectedAt":"2026-11-24T10:00:00Z","accessTokenExpiresAt":"2026-11-24T11:00:00Z",
         "refreshTokenExpiresAt":"2027-02-22T10:00:00Z","lastRefreshAt":"2026-11-24T10:00:00Z","lastError":null}
        """#

    static let mapping = #"""
        {"org":"acme","kind":"demand","localId":"dem-1","qboType":"Invoice","qboId":"130","syncToken":"0",
         "status":"Outstanding","docNumber":"SC-2026-001","totalAmount":"1250.00","balance":"1250.00",
         "dueDate":"2026-12-31","lastSyncedAt":"2026-11-24T10:00:00Z","lastError":null,"realmId":"9341453000000000","drift":null}
        """#

    static let customerMapping = #"""
        {"org":"acme","kind":"development","localId":"dev-1","qboType":"Customer","qboId":"58","syncToken":"0",
         "status":"Synced","docNumber":null,"totalAmount":null,"balance":null,"dueDate":null,
         "lastSyncedAt":"2026-11-24T10:00:00Z","lastError":null,"realmId":"9341453000000000",
         "drift":{"detectedAt":"2026-11-25T09:00:00Z","changes":[{"field":"DisplayName","pushed":"Maple Court","now":"Maple Ct"}]}}
        """#

    static let event = #"""
        {"id":123,"receivedAt":"2026-11-24T10:00:00Z","realmId":"9341453000000000","org":"acme",
         "type":"invoice.paid","entityName":"Invoice","entityId":"130","operation":"Update",
         "status":"processed","processError":null,"processedAt":"2026-11-24T10:00:03Z","attempts":1}
        """#

    static let quota = #"""
        {"month":"2026-11","used":1234,"budget":500000,"reserve":25000,"forecast":37020,"state":"ok",
         "resetsAt":"2026-12-01T00:00:00Z","byClass":{"sweep":1000,"event":200,"operator":34},
         "sweepPeriodSeconds":86400,"sweepStretch":1.0}
        """#

    static let daemonStatus = #"""
        {"version":"0.2.0","startedAt":"2026-11-24T10:00:00Z","uptimeSeconds":3600,
         "integration":{"enabled":false,"missing":["QUICKBOOKS_CLIENT_ID"],"environment":"sandbox"},
         "orgs":{"total":3,"connected":2,"needsReauthorization":1},
         "webhook":{"listen":"127.0.0.1:8731","accepted":10,"rejected":1,"reconciledChanges":4,"missedByWebhooks":0,"lossRate":0.0,"unparsed":0,"duplicates":0},
         "events":{"pending":0,"failed":1},
         "config":{"path":"/etc/qbsyncd/qbsyncd.conf","loadedAt":"2026-11-24T10:00:00Z","reloads":0,"lastReloadError":null},
         "controlConnections":1,"subscribers":0,
         "quota":\#(quota),
         "pipeline":{"realmsActive":0,"eventsQueued":0,"oldestPendingSeconds":0,"realmsWaiting":0}}
        """#

    static let development = #"""
        {"id":"dev-1","name":"Maple Court","email":"office@maplecourt.example","phone":"0113 496 0000",
         "address":{"line1":"1 Maple Court","line2":"Headingley","city":"Leeds","region":"West Yorkshire","postalCode":"LS6 1AA","country":"GB"}}
        """#

    static let demand = #"""
        {"id":"dem-1","developmentId":"dev-1","docNumber":"SC-2026-001","txnDate":"2026-11-24","dueDate":"2026-12-31",
         "memo":"Q1 service charge","lines":[{"description":"Service charge Q1","amount":"1250.00"}]}
        """#

    /// One call: its params and its result as the spec shows them (nil: the method takes none).
    struct Case: Sendable, CustomStringConvertible {
        var method: String
        var params: String?
        var result: String
        var roundTrip: @Sendable (_ params: String?, _ result: String) throws -> (params: JSONValue?, result: JSONValue)
        var description: String { method }
    }
}
