import Foundation
import QBSyncCore

/// Draws a ``DashboardSnapshot`` as lines of at most `width` visible characters: a pure function,
/// no I/O, so `--once`, the live screen and unit tests share it.
struct DashboardRenderer {
    var width: Int
    /// Rows available; nil: as many as the lists hold (`--once` off a terminal).
    var height: Int?
    var coloured: Bool
    /// The live screen says how to quit.
    var live = false

    func lines(_ snapshot: DashboardSnapshot) -> [String] {
        let updated = "updated \(Self.time(Timestamp.string(snapshot.updatedAt)))" + (live ? " · q quits" : "")
        var top = [justify("qbctl dashboard \(snapshot.org)", updated)]
        top += connection(snapshot) + summary(snapshot)
        let bottom = snapshot.notice.map { ["! " + $0] } ?? []
        let entityRows = entityTable(snapshot)
        let eventRows = eventTable(snapshot)
        // Each list: a heading, then its column header and rows; the rows share what is left.
        var entityShown = entityRows.count - 1
        var eventShown = eventRows.count - 1
        if let height {
            let left = max(0, height - top.count - bottom.count - 2 - 2)
            entityShown = min(entityShown, max(left / 2, left - eventShown))
            eventShown = min(eventShown, left - entityShown)
        }
        let entityCount = snapshot.entities.count
        let eventCount = snapshot.events.count
        var all = top
        all.append(heading("SYNCED ENTITIES", shown: min(entityShown, entityCount), of: entityCount, more: snapshot.moreEntities, order: "last synced first"))
        all += entityRows.prefix(entityShown + 1).map { "  " + $0 }
        all.append(heading("WEBHOOK EVENTS", shown: min(eventShown, eventCount), of: eventCount, more: snapshot.moreEvents, order: "newest first"))
        all += eventRows.prefix(eventShown + 1).map { "  " + $0 }
        all += bottom
        if let height { all = Array(all.prefix(height)) }
        return all.map(clip)
    }

    // MARK: Sections

    private func connection(_ snapshot: DashboardSnapshot) -> [String] {
        let info = snapshot.connection
        let company = info?["companyName"]?.stringValue.map { "\($0) (realm \(Records.text(info?["realmId"])))" } ?? "-"
        var status = paint(info?["status"]?.stringValue)
        if let error = info?["lastError"]?.stringValue { status += " (\(error))" }
        let when = snapshot.testedAt.map { "at \(Self.time(Timestamp.string($0))), when the dashboard started" } ?? ""
        let test: String
        if let result = snapshot.test {
            test = "\(paint("ok")) \(Records.text(result["latencyMs"])) ms (\(when))"
        } else {
            test = "\(paint("failed")) \(snapshot.testError ?? "not run") (\(when))"
        }
        let rows = [
            ["status", status], ["company", company],
            ["token expiry", "access \(Self.time(info?["accessTokenExpiresAt"])), refresh \(Self.time(info?["refreshTokenExpiresAt"]))"],
            ["reconnect by", Self.time(info?["reconnectBy"])], ["test latency", test],
        ]
        return [bold("CONNECTION")] + labelled(rows)
    }

    private func summary(_ snapshot: DashboardSnapshot) -> [String] {
        let invoices = snapshot.summary?["invoices"]
        let counts = ["Outstanding", "Paid", "Overdue", "Voided"].map { "\(paint($0)) \(Records.text(invoices?[$0]))" }.joined(separator: "  ")
        let reads = snapshot.summary?["reads"]
        let rows = [
            ["customers", Records.text(snapshot.summary?["customers"])],
            ["invoices", "\(Records.text(invoices?["total"])): \(counts)"],
            ["reads", "\(Records.text(reads?["count"])) by this company in \(Records.text(reads?["month"]))"],
            ["app quota", quota(snapshot.quota)],
        ]
        return [bold("SYNC SUMMARY")] + labelled(rows)
    }

    /// The month's reads against the app's budget (``QuotaText/summary(_:)`` with this renderer's colour).
    private func quota(_ quota: JSONValue?) -> String {
        guard let quota else { return "-" }
        let budget = quota["budget"]?.intValue ?? 0
        let used = quota["used"]?.intValue ?? 0
        guard budget > 0 else { return "\(QuotaText.number(quota["used"])) this month (no budget set)" }
        let percent = String(format: "%.1f", Double(used) * 100 / Double(budget))
        return "\(QuotaText.number(quota["used"])) of \(QuotaText.number(quota["budget"])) (\(percent) %) this month: \(paint(quota["state"]?.stringValue))"
    }

    /// The column header, then one line per entity, last synced first.
    private func entityTable(_ snapshot: DashboardSnapshot) -> [String] {
        guard !snapshot.entities.isEmpty else { return ["none yet"] }
        let sorted = snapshot.entities.enumerated().sorted { a, b in
            let (x, y) = (a.element["lastSyncedAt"]?.stringValue ?? "", b.element["lastSyncedAt"]?.stringValue ?? "")
            return x != y ? x > y : a.offset > b.offset
        }.map(\.element)
        let rows = sorted.map { entity in
            [
                Records.text(entity["kind"]), Records.text(entity["localId"]), "\(Records.text(entity["qboType"])) \(Records.text(entity["qboId"]))",
                Records.text(entity["docNumber"]), paint(entity["status"]?.stringValue), Records.text(entity["totalAmount"]), Records.text(entity["balance"]),
                Records.text(entity["dueDate"]), Self.time(entity["lastSyncedAt"]), Records.drift(entity["drift"]) ?? Records.text(entity["lastError"]),
            ]
        }
        return Table.render(rows, header: ["KIND", "ID", "QUICKBOOKS", "NUMBER", "STATUS", "TOTAL", "BALANCE", "DUE", "LAST SYNCED", "NOTE"])
            .components(separatedBy: "\n")
    }

    /// The column header, then one line per event, newest first.
    private func eventTable(_ snapshot: DashboardSnapshot) -> [String] {
        guard !snapshot.events.isEmpty else { return ["none yet"] }
        let rows = snapshot.events.map { event in
            let outcome = event["processError"]?.stringValue.map { "error: \($0)" } ?? event["resolvedBy"]?.stringValue ?? "-"
            return [
                Self.time(event["receivedAt"]), Records.text(event["type"]), "\(Records.text(event["entityName"])) \(Records.text(event["entityId"]))",
                paint(event["status"]?.stringValue), outcome,
            ]
        }
        return Table.render(rows, header: ["RECEIVED", "TYPE", "ENTITY", "STATUS", "ERROR / RESOLVED BY"]).components(separatedBy: "\n")
    }

    // MARK: Text

    private func heading(_ title: String, shown: Int, of count: Int, more: Bool, order: String) -> String {
        let total = "\(count)\(more ? "+" : "")"
        return bold(title) + " (" + (shown < count || more ? "\(shown) of \(total)" : total) + ", \(order))"
    }

    private func paint(_ word: String?) -> String { Badge.paint(word, coloured: coloured) }
    private func bold(_ text: String) -> String { coloured ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    /// `  label         value`, labels in one column across the sections.
    private func labelled(_ rows: [[String]]) -> [String] {
        rows.map { "  " + $0[0].padding(toLength: 12, withPad: " ", startingAt: 0) + "  " + $0[1] }
    }

    private func justify(_ left: String, _ right: String) -> String {
        let gap = width - Table.visibleWidth(left) - Table.visibleWidth(right)
        return gap >= 2 ? left + String(repeating: " ", count: gap) + right : left + "  " + right
    }

    /// At most `width` visible characters; a cut line ends in `…` (and a colour reset if it had colour).
    func clip(_ line: String) -> String {
        guard Table.visibleWidth(line) > width else { return line }
        guard width > 0 else { return "" }
        var out = ""
        var visible = 0
        var escaping = false
        for character in line {
            if escaping {
                out.append(character)
                if character.isLetter { escaping = false }
            } else if character == "\u{1B}" {
                out.append(character)
                escaping = true
            } else {
                if visible == width - 1 { break }
                out.append(character)
                visible += 1
            }
        }
        return out + "…" + (line.contains("\u{1B}") ? "\u{1B}[0m" : "")
    }

    /// `2026-05-04T10:11:12Z` as `2026-05-04 10:11:12` (times are UTC).
    static func time(_ value: JSONValue?) -> String {
        guard let string = value?.stringValue else { return "-" }
        return time(string)
    }

    static func time(_ string: String) -> String {
        var text = string.replacingOccurrences(of: "T", with: " ")
        if text.hasSuffix("Z") { text.removeLast() }
        if let dot = text.firstIndex(of: ".") { text = String(text[..<dot]) }
        return text
    }
}
