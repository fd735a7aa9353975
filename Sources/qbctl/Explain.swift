import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl.Invoice {
    /// `qbctl invoice explain ORG DEMAND`: `invoice.explain`, the history behind a status.
    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show why a demand's invoice has its status: every push, delivery, event and read, oldest first.",
            discussion: """
                The rule is the one the invoice's append-only history gives; 'rebuilt' is the status that rule \
                gives. A rebuilt status that differs from the stored one is what 'audit verify' reports.
                """
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String
        @Argument(help: "The demand's id in BlockManOS.") var demand: String

        func run() async throws {
            let result = try await options.call(InvoiceExplainCall.self, DemandParams(org: options.org(org), demandId: demand))
            options.present(result.json, human: Self.human)
        }

        static func human(_ result: JSONValue) -> String {
            let mapping = result["mapping"]
            let stored = result["status"]?.stringValue
            let rebuilt = result["rebuilt"]?.stringValue
            let agreement = rebuilt == nil ? "(no history)" : rebuilt == stored ? "(matches the stored status)" : "(DIFFERS from the stored status)"
            let summary = Table.render(
                [
                    ["demand", "\(Records.text(mapping?["localId"])) in \(Records.text(mapping?["org"])): Invoice \(Records.text(mapping?["qboId"])) \(Records.text(mapping?["docNumber"]))"],
                    ["status", Badge.paint(stored)],
                    ["rebuilt", "\(Badge.paint(rebuilt)) \(agreement)"],
                    ["rule", Records.text(result["rule"])],
                ],
                header: nil
            )
            let chain = result["chain"]?.arrayValue ?? []
            guard !chain.isEmpty else { return summary + "\n\nno history" }
            let rows = chain.map { step in [Records.text(step["at"]), Records.text(step["kind"]), badge(step), detail(step)] }
            return summary + "\n\n" + Table.render(rows, header: ["AT", "STEP", "STATUS", "DETAIL"])
        }

        /// A state change's stored status, or an event's processing status; a delivery has none.
        static func badge(_ step: JSONValue) -> String {
            step["kind"] == "delivery" ? "-" : Badge.paint(step["status"]?.stringValue)
        }

        /// What the step holds, in a line.
        static func detail(_ step: JSONValue) -> String {
            func field(_ label: String, _ key: String) -> String? {
                guard let value = step[key], value != .null else { return nil }
                return "\(label) \(Records.text(value))"
            }
            switch step["kind"]?.stringValue {
            case "delivery":
                return "webhook delivery \(Records.text(step["deliveryId"])) (\(Records.text(step["format"])))"
            case "event":
                let outcome = field("resolved by", "resolvedBy") ?? field("error", "processError")
                return ["event \(Records.text(step["eventId"])) \(Records.text(step["type"])) \(Records.text(step["entityName"])) \(Records.text(step["entityId"]))", outcome]
                    .compactMap { $0 }.joined(separator: ", ")
            default:
                let hash = step["contentHash"]?.stringValue.map { "hash \($0.prefix(12))…" }
                var parts = [
                    field("SyncToken", "syncToken"), field("requestid", "requestId"), hash, field("total", "totalAmount"), field("balance", "balance"),
                    field("due", "dueDate"), field("QuickBooks", "qboState"),
                ].compactMap { $0 }
                if let changes = step["changes"]?.arrayValue, !changes.isEmpty {
                    parts.append("edited in QuickBooks: " + changes.map { "\(Records.text($0["field"])) \(Records.text($0["pushed"])) -> \(Records.text($0["now"]))" }.joined(separator: ", "))
                }
                if let detail = field("note", "detail") { parts.append(detail) }
                if let rule = step["rule"]?.stringValue { parts.append("rule: \(rule)") }
                return parts.joined(separator: ", ")
            }
        }
    }
}
