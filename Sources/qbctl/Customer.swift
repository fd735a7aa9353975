import ArgumentParser
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl customer …`: BlockManOS developments as QuickBooks customers.
    struct Customer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Developments as QuickBooks customers.", subcommands: [Sync.self])
    }
}

extension Qbctl.Customer {
    /// `qbctl customer sync ORG`: `customer.sync` from flags or a JSON development.
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push a development as a QuickBooks customer; pushing it again updates the same customer.",
            discussion: #"""
                Give the development with the flags, or as JSON with --file F (or --file - for standard input), e.g.
                {"id":"dev-1","name":"Maple Court","email":"office@maplecourt.example","address":{"line1":"1 Maple Court","city":"Leeds"}}
                """#
        )

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String
        @Option(help: "The development's id in BlockManOS.") var id: String?
        @Option(help: "Its name (the customer's DisplayName).") var name: String?
        @Option(help: "Its e-mail address.") var email: String?
        @Option(help: "Its phone number.") var phone: String?
        @Option(help: "The first line of its address.") var addressLine1: String?
        @Option(help: "The second line of its address.") var addressLine2: String?
        @Option(help: "The address's city.") var city: String?
        @Option(help: "The address's region or county.") var region: String?
        @Option(help: "The address's postal code.") var postalCode: String?
        @Option(help: "The address's country.") var country: String?
        @Option(help: "Read the development as a JSON object from this file ('-': standard input) instead of the flags.")
        var file: String?
        @Flag(help: "Overwrite edits made in QuickBooks since qbsyncd last pushed this customer.") var force = false

        private var address: [String: String?] {
            ["line1": addressLine1, "line2": addressLine2, "city": city, "region": region, "postalCode": postalCode, "country": country]
        }

        func validate() throws {
            let flagged = [id, name, email, phone].contains { $0 != nil } || address.values.contains { $0 != nil }
            if file != nil {
                guard !flagged else { throw ValidationError("give --file or the development's flags, not both") }
                return
            }
            guard id != nil, name != nil else { throw ValidationError("give --id and --name (or --file)") }
            guard address.values.allSatisfy({ $0 == nil }) || addressLine1 != nil else { throw ValidationError("an address needs --address-line1") }
        }

        func run() async throws {
            let development: JSONValue
            if let file {
                development = try InputFile.object(file)
            } else {
                var fields: [String: JSONValue] = ["id": .string(id!), "name": .string(name!)]
                if let email { fields["email"] = .string(email) }
                if let phone { fields["phone"] = .string(phone) }
                let address = address.compactMapValues { $0.map(JSONValue.string) }
                if !address.isEmpty { fields["address"] = .object(address) }
                development = .object(fields)
            }
            var params = try options.params(CustomerSyncCall.Params.self, ["org": .string(org), "development": development])
            if force { params.force = true }
            options.present(try await options.call(CustomerSyncCall.self, params).json, human: Records.mapping)
        }
    }
}
