import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl call METHOD [PARAMS]`: any protocol method with JSON params; prints the JSON result.
    struct Call: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Call any control-protocol method with JSON params and print its JSON result.",
            discussion: #"Example: qbctl call customer.sync '{"org":"acme","development":{"id":"dev-1","name":"Maple Court"}}'"#
        )
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The method, e.g. invoice.sync.") var method: String
        @Argument(help: "The params, a JSON object (default {}).") var params: String = "{}"

        func run() async throws {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(params.utf8)), case .object = value else {  // try?: not JSON is the usage error below
                throw QbctlFailure(message: "params must be a JSON object", exitCode: 2)
            }
            var options = options
            options.json = true
            options.present(try await options.callRaw(method, params: value)) { _ in "" }
        }
    }
}
