import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl invoice …`: service-charge demands as QuickBooks invoices.
    struct Invoice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Demands as QuickBooks invoices.", subcommands: [Sync.self, Refresh.self, Explain.self])
    }
}

extension Qbctl.Invoice {
    /// `qbctl invoice sync ORG`: `invoice.sync` from flags or a JSON demand.
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push a demand as a QuickBooks invoice; pushing it again updates the same invoice.",
            discussion: #"""
                Give the demand with the flags (--line once per line: DESCRIPTION=AMOUNT, two decimal places),
                or as JSON with --file F (or --file - for standard input), e.g.
                {"id":"dem-1","developmentId":"dev-1","docNumber":"SC-2026-001","dueDate":"2026-12-31","lines":[{"description":"Service charge Q1","amount":"1250.00"}]}
                """#
        )

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String
        @Option(help: "The demand's id in BlockManOS.") var id: String?
        @Option(help: "The development it is for (synced first with 'customer sync').") var development: String?
        @Option(help: "The invoice number (DocNumber).") var docNumber: String?
        @Option(help: "The invoice date, YYYY-MM-DD (default: today).") var txnDate: String?
        @Option(help: "The due date, YYYY-MM-DD.") var dueDate: String?
        @Option(help: "A memo for the customer.") var memo: String?
        @Option(help: ArgumentHelp("A line, DESCRIPTION=AMOUNT (repeat for more lines).", valueName: "description=amount"))
        var line: [String] = []
        @Option(help: "Read the demand as a JSON object from this file ('-': standard input) instead of the flags.")
        var file: String?
        @Flag(help: "Overwrite edits made in QuickBooks since qbsyncd last pushed this invoice.") var force = false

        func validate() throws {
            let flagged = [id, development, docNumber, txnDate, dueDate, memo].contains { $0 != nil } || !line.isEmpty
            if file != nil {
                guard !flagged else { throw ValidationError("give --file or the demand's flags, not both") }
                return
            }
            guard id != nil, development != nil, dueDate != nil, !line.isEmpty else {
                throw ValidationError("give --id, --development, --due-date and at least one --line (or --file)")
            }
            for entry in line where Self.split(entry) == nil { throw ValidationError("--line '\(entry)' is not DESCRIPTION=AMOUNT") }
        }

        /// `Service charge Q1=1250.00`: the description may hold `=`, the amount follows the last one.
        static func split(_ line: String) -> (description: String, amount: String)? {
            guard let equals = line.lastIndex(of: "=") else { return nil }
            let description = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            let amount = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            return description.isEmpty || amount.isEmpty ? nil : (description, amount)
        }

        func run() async throws {
            let demand: JSONValue
            if let file {
                demand = try InputFile.object(file)
            } else {
                var fields: [String: JSONValue] = [
                    "id": .string(id!), "developmentId": .string(development!), "dueDate": .string(dueDate!),
                    "lines": .array(line.compactMap(Self.split).map { ["description": .string($0.description), "amount": .string($0.amount)] }),
                ]
                for (key, value) in [("docNumber", docNumber), ("txnDate", txnDate), ("memo", memo)] {
                    if let value { fields[key] = .string(value) }
                }
                demand = .object(fields)
            }
            var params = try options.params(InvoiceSyncCall.Params.self, ["org": .string(org), "demand": demand])
            if force { params.force = true }
            options.present(try await options.call(InvoiceSyncCall.self, params).json, human: Records.mapping)
        }
    }

    /// `qbctl invoice refresh ORG DEMAND`: `invoice.refresh`.
    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read a demand's invoice from QuickBooks now (an operator read).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String
        @Argument(help: "The demand's id in BlockManOS.") var demand: String

        func run() async throws {
            let mapping = try await options.call(InvoiceRefreshCall.self, DemandParams(org: options.org(org), demandId: demand))
            options.present(mapping.json, human: Records.mapping)
        }
    }
}
