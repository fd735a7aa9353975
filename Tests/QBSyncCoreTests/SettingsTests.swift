import Foundation
import Testing
import QBTestSupport
@testable import QBSyncCore

@Suite struct SettingsTests {
    let complete = [
        "QUICKBOOKS_CLIENT_ID": "client-id",
        "QUICKBOOKS_CLIENT_SECRET": "super-secret-value",
        "QUICKBOOKS_REDIRECT_URI": "https://app.example.com/callback",
        "QUICKBOOKS_WEBHOOK_VERIFIER_TOKEN": "verifier-value",
    ]

    func load(_ environment: [String: String], file: String? = nil, credentials: [String: String] = [:]) async throws -> Result<Settings, SettingsProblems> {
        let directory = try TempDirectory()
        defer { directory.remove() }
        var environment = environment
        if environment["QBSYNCD_CONFIG"] == nil {
            environment["QBSYNCD_CONFIG"] = try directory.write("qbsyncd.conf", file ?? "")
        }
        if !credentials.isEmpty {
            let credentialsDirectory = try directory.makeDirectory("credentials")
            for (name, value) in credentials { try directory.write("credentials/\(name)", value) }
            environment["CREDENTIALS_DIRECTORY"] = credentialsDirectory
        }
        return await Settings.load(environment: environment)
    }

    @Test func defaultsFollowTheRuntimeContract() async throws {
        let settings = try await load([:]).get()
        #expect(settings.stateDirectory == "/var/lib/qbsyncd")
        #expect(settings.controlSocketPath == "/run/qbsyncd/control.sock")
        #expect(settings.controlGroup == "qbsyncd")
        #expect(settings.readonlyGroup == nil)
        #expect(settings.webhookListen == ListenAddress(host: "127.0.0.1", port: 8731))
        #expect(settings.refreshMarginSeconds == 300)
        #expect(settings.logLevel == .info)
        #expect(settings.quickBooks.environment == .sandbox)
        #expect(settings.quickBooks.minorVersion == 75)
        #expect(settings.quickBooks.apiBaseURL == "https://sandbox-quickbooks.api.intuit.com")
        #expect(settings.quickBooks.tokenURL == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer")
        #expect(settings.tokenKey == .generated("/var/lib/qbsyncd/token.key"))
        #expect(!settings.integrationEnabled)
        #expect(settings.integrationMissing == SettingKey.integrationRequired)
    }

    @Test func systemdDirectoriesAreTheFallbacks() async throws {
        let settings = try await load(["STATE_DIRECTORY": "/var/lib/q", "RUNTIME_DIRECTORY": "/run/q"]).get()
        #expect(settings.stateDirectory == "/var/lib/q")
        #expect(settings.controlSocketPath == "/run/q/control.sock")
    }

    @Test func environmentWinsOverCredentialsWhichWinOverTheFile() async throws {
        let settings = try await load(
            ["QUICKBOOKS_CLIENT_ID": "from-env"],
            file: "QUICKBOOKS_CLIENT_ID=from-file\nQUICKBOOKS_CLIENT_SECRET=file-secret\nQUICKBOOKS_REDIRECT_URI=https://a.example/cb\nQUICKBOOKS_WEBHOOK_VERIFIER_TOKEN=file-verifier\n",
            credentials: ["quickbooks_client_secret": "credential-secret\n"]
        ).get()
        #expect(settings.quickBooks.clientID == "from-env")
        #expect(settings.quickBooks.clientSecret?.value == "credential-secret")
        #expect(settings.quickBooks.webhookVerifierToken?.value == "file-verifier")
        #expect(settings.integrationEnabled)
    }

    @Test func productionPicksIntuitsProductionHost() async throws {
        var environment = complete
        environment["QUICKBOOKS_ENVIRONMENT"] = "production"
        let settings = try await load(environment).get()
        #expect(settings.quickBooks.apiBaseURL == "https://quickbooks.api.intuit.com")
        #expect(settings.integrationEnabled)
    }

    @Test func everyProblemIsReportedOnItsOwnLine() async throws {
        let result = try await load(
            [
                "QUICKBOOKS_ENVIRONMENT": "staging", "QBSYNCD_REFRESH_MARGIN": "soon", "QBSYNCD_LOG_LEVEL": "loud",
                "QBSYNCD_WEBHOOK_LISTEN": "8731", "QUICKBOOKS_TOKEN_URL": "not a url", "QBSYNCD_STATE_DIR": "relative/dir",
            ],
            file: "QBSYNCD_TYPO=1\nbroken line\n"
        )
        guard case .failure(let problems) = result else {
            Issue.record("expected problems")
            return
        }
        let text = problems.problems.joined(separator: "\n")
        #expect(problems.problems.count == 8, "\(text)")
        for fragment in [
            "QUICKBOOKS_ENVIRONMENT", "QBSYNCD_REFRESH_MARGIN", "QBSYNCD_LOG_LEVEL", "QBSYNCD_WEBHOOK_LISTEN", "QUICKBOOKS_TOKEN_URL",
            "QBSYNCD_STATE_DIR", "QBSYNCD_TYPO is not a known setting", "line 2: expected KEY=value",
        ] {
            #expect(text.contains(fragment), "missing \(fragment) in \(text)")
        }
    }

    @Test func anExplicitMissingFileIsAProblem() async throws {
        let result = try await load(["QBSYNCD_CONFIG": "/nonexistent/explicit.conf"])
        guard case .failure(let problems) = result else {
            Issue.record("expected a problem")
            return
        }
        #expect(problems.problems == ["QBSYNCD_CONFIG: /nonexistent/explicit.conf does not exist"])
    }

    @Test func secretsNeverAppearInTheSummaryOrDescriptions() async throws {
        let settings = try await load(complete).get()
        let summary = settings.redactedSummary.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
        #expect(!summary.contains("super-secret-value"))
        #expect(!summary.contains("verifier-value"))
        #expect(summary.contains("QUICKBOOKS_CLIENT_SECRET=<redacted>"))
        #expect("\(settings.quickBooks.clientSecret!)" == "<redacted>")
        #expect(!String(reflecting: settings).contains("super-secret-value"))
        var dumped = ""
        dump(settings, to: &dumped)
        #expect(!dumped.contains("super-secret-value"))
    }

    @Test func valuesAreTrimmedSoAStraySpaceCannotBreakTheSecret() async throws {
        var environment = complete
        environment["QUICKBOOKS_CLIENT_SECRET"] = "  spaced-secret \n"
        let settings = try await load(environment).get()
        #expect(settings.quickBooks.clientSecret?.value == "spaced-secret")
    }

    @Test func listenAddressesParse() {
        #expect(ListenAddress(parsing: "[::1]:8731") == ListenAddress(host: "::1", port: 8731))
        #expect(ListenAddress(parsing: "0.0.0.0:80") == ListenAddress(host: "0.0.0.0", port: 80))
        #expect(ListenAddress(parsing: "localhost") == nil)
        #expect(ListenAddress(parsing: "a:70000") == nil)
        #expect(ListenAddress(parsing: "::1:80") == nil)
    }

    /// Plain http would carry the client secret, codes and tokens in clear: loopback only (L7).
    @Test func plainHTTPOnlyForThisMachine() async throws {
        for url in ["http://127.0.0.1:8732/oauth2/v1/tokens/bearer", "http://localhost:1/x", "http://[::1]:8/x", "https://oauth.example.com/x"] {
            #expect((try? await load(complete.merging(["QUICKBOOKS_TOKEN_URL": url]) { _, new in new }).get()) != nil, "\(url)")
        }
        for (name, url) in [("QUICKBOOKS_TOKEN_URL", "http://oauth.example.com/x"), ("QUICKBOOKS_REDIRECT_URI", "http://app.example.com/cb"), ("QUICKBOOKS_API_BASE_URL", "http://10.0.0.1")] {
            guard case .failure(let problems) = try await load(complete.merging([name: url]) { _, new in new }) else {
                Issue.record("\(name)=\(url) was accepted")
                continue
            }
            #expect(problems.problems.contains { $0.hasPrefix(name) && $0.contains("plain http") }, "\(problems)")
        }
    }
}

extension SettingsTests {
    @Test func theDatabaseURLIsReadButShownOnlyWithoutItsCredentials() async throws {
        var environment = complete
        environment["QBSYNCD_DATABASE_URL"] = "postgres://qbsync:db-password-value@db.example.com:5433/qbsyncd?sslmode=require&password=query-password-value"
        let settings = try await load(environment).get()
        #expect(settings.databaseURL?.secret.value == environment["QBSYNCD_DATABASE_URL"])
        let shown = "\(settings.databaseURL!)"
        #expect(shown == "postgres://qbsync:<redacted>@db.example.com:5433/qbsyncd?sslmode=require&password=<redacted>")
        let summary = settings.redactedSummary.map { "\($0.name)=\($0.value)" }.joined(separator: "\n")
        #expect(summary.contains("QBSYNCD_DATABASE_URL=\(shown)"))
        var dumped = ""
        dump(settings, to: &dumped)
        for text in [summary, dumped, String(reflecting: settings)] {
            #expect(!text.contains("db-password-value") && !text.contains("query-password-value"))
        }
        #expect(try await load(complete).get().databaseURL == nil)
        let refused = try await load(environment.merging(["QBSYNCD_DATABASE_URL": "mysql://u:db-password-value@h/d"]) { $1 })
        guard case .failure(let problems) = refused else {
            Issue.record("expected a problem")
            return
        }
        #expect(problems.problems == ["QBSYNCD_DATABASE_URL: the value is not a postgres:// or postgresql:// URL"])
    }
}
