import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl connect ORG`: `oauth.begin`, then `oauth.complete` from the redirect Intuit sent.
    struct Connect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect an organisation to its QuickBooks company.",
            discussion: """
                Prints the authorize URL. Open it, approve, then paste the URL Intuit redirected to (or pipe it
                in). Or complete a consent begun elsewhere with --state, --code and --realm.
                """
        )

        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String?
        @Option(help: "Complete with this OAuth state (from an earlier 'connect').") var state: String?
        @Option(help: "The authorization code from the redirect.") var code: String?
        @Option(help: "The realmId from the redirect.") var realm: String?
        @Flag(help: "Connect to another QuickBooks company than the organisation's records belong to: archive them and start afresh.")
        var fresh = false

        func validate() throws {
            let completing = [state, code, realm].compactMap { $0 }.count
            guard completing == 0 || completing == 3 else { throw ValidationError("--state, --code and --realm go together") }
            guard org != nil || completing == 3 else { throw ValidationError("name the organisation, or give --state, --code and --realm") }
        }

        func run() async throws {
            if let state, let code, let realm {
                try await complete(state: state, code: code, realm: realm)
                return
            }
            let begun = try await options.call(OAuthBeginCall.self, OrgParams(org: options.org(org!))).result
            let url = begun.authorizeUrl
            let state = begun.state
            FileHandle.standardError.write(Data("Open this URL, approve, then paste the URL you were redirected to:\n".utf8))
            print(url)
            fflush(nil)
            guard let line = readLine(strippingNewline: true), let redirect = URLComponents(string: line.trimmingCharacters(in: .whitespaces)) else {
                throw QbctlFailure(message: "no redirect URL was given", exitCode: 2)
            }
            let items = Dictionary((redirect.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
            if let error = items["error"] { throw QbctlFailure(message: "Intuit refused the connection: \(error)", exitCode: 1) }
            guard let code = items["code"], let realm = items["realmId"] else {
                throw QbctlFailure(message: "the redirect URL has no code and realmId", exitCode: 2)
            }
            guard items["state"] == state else { throw QbctlFailure(message: "the redirect URL belongs to another consent (state differs)", exitCode: 2) }
            try await complete(state: state, code: code, realm: realm)
        }

        private func complete(state: String, code: String, realm: String) async throws {
            let params = OAuthCompleteCall.Params(state: state, code: code, realmId: realm, fresh: fresh ? true : nil)
            let info = try await options.call(OAuthCompleteCall.self, params)
            options.present(info.json) { info in
                "connected \(info["org"]?.stringValue ?? "?") to \(info["companyName"]?.stringValue ?? "company") (realm \(info["realmId"]?.stringValue ?? "?"))"
            }
        }
    }

    /// `qbctl token refresh ORG`: `token.refresh`.
    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Access tokens.", subcommands: [Refresh.self])

        struct Refresh: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Refresh an organisation's access token now.")
            @OptionGroup var options: GlobalOptions
            @Argument(help: "The organisation id.") var org: String

            func run() async throws {
                let info = try await options.call(TokenRefreshCall.self, OrgParams(org: options.org(org)))
                options.present(info.json) { info in
                    "refreshed \(info["org"]?.stringValue ?? "?"): access token valid until \(info["accessTokenExpiresAt"]?.stringValue ?? "?")"
                }
            }
        }
    }
}

extension Qbctl.Org {
    /// `qbctl org test ORG`: `org.test`.
    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read the organisation's QuickBooks CompanyInfo.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String

        func run() async throws {
            let result = try await options.call(OrgTestCall.self, OrgParams(org: options.org(org)))
            options.present(result.json) { result in
                "ok: \(result["companyName"]?.stringValue ?? "?") (realm \(result["realmId"]?.stringValue ?? "?")), \(result["latencyMs"]?.intValue ?? 0) ms"
            }
        }
    }

    /// `qbctl org disconnect ORG`: `org.disconnect`.
    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke at Intuit and forget the organisation's tokens.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The organisation id.") var org: String

        func run() async throws {
            let result = try await options.call(OrgDisconnectCall.self, OrgParams(org: options.org(org)))
            options.present(result.json) { result in
                "disconnected \(result["org"]?.stringValue ?? "?")" + (result["revoked"]?.boolValue == true ? "" : " (the revoke at Intuit failed; the tokens are forgotten anyway)")
            }
        }
    }
}
