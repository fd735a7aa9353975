import Foundation
import Configuration
import Logging
import SystemPackage

extension Settings {
    /// Reads the settings: the environment wins over `$CREDENTIALS_DIRECTORY/<lower-case name>`,
    /// which wins over the settings file (`QBSYNCD_CONFIG`, default `/etc/qbsyncd/qbsyncd.conf`).
    ///
    /// Returns every problem at once, one line each, so `--check-config` can print them all.
    /// A missing file is a problem only when `QBSYNCD_CONFIG` names it explicitly.
    public static func load(environment: [String: String]) async -> Result<Settings, SettingsProblems> {
        var problems: [String] = []
        let configPath = nonEmpty(environment[SettingKey.config]) ?? SettingDefaults.configPath
        var fileValues: [String: String] = [:]
        switch readFile(configPath) {
        case .success(let contents?):
            let parsed = EnvironmentFile.parse(contents)
            problems += parsed.problems.map { "\(configPath): \($0)" }
            for key in parsed.values.keys.sorted() where isOurs(key) && !SettingKey.all.contains(key) {
                problems.append("\(configPath): \(key) is not a known setting")
            }
            fileValues = parsed.values
        case .success(nil):
            if environment[SettingKey.config] != nil { problems.append("\(SettingKey.config): \(configPath) does not exist") }
        case .failure(let message):
            problems.append("\(SettingKey.config): \(configPath): \(message)")
        }

        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: environment.filter { !$0.value.trimmingWhitespace().isEmpty },
                secretsSpecifier: .specific(SettingKey.secrets)
            )
        ]
        let credentialsDirectory = nonEmpty(environment["CREDENTIALS_DIRECTORY"])
        if let credentialsDirectory {
            do {
                let credentials = try await DirectoryFilesProvider(directoryPath: FilePath(credentialsDirectory), allowMissing: true)
                providers.append(
                    KeyMappingProvider(upstream: credentials) { key in
                        AbsoluteConfigKey(key.components.map { $0.lowercased() }, context: key.context)
                    }
                )
            } catch {
                problems.append("CREDENTIALS_DIRECTORY: \(credentialsDirectory) cannot be read")
            }
        }
        providers.append(
            EnvironmentVariablesProvider(
                environmentVariables: fileValues.filter { !$0.value.trimmingWhitespace().isEmpty },
                secretsSpecifier: .specific(SettingKey.secrets)
            )
        )
        let reader = ConfigReader(providers: providers)
        func value(_ name: String) -> String? {
            nonEmpty(reader.string(forKey: ConfigKey([name]), isSecret: SettingKey.secrets.contains(name)))
        }

        var builder = Builder(problems: problems)
        let settings = builder.build(value: value, environment: environment, credentialsDirectory: credentialsDirectory, configPath: configPath)
        if builder.problems.isEmpty { return .success(settings) }
        return .failure(SettingsProblems(builder.problems))
    }

    /// Every setting with its effective value, secrets shown as `<redacted>`: for `--check-config`
    /// and the start-up log.
    public var redactedSummary: [(name: String, value: String)] {
        func secret(_ value: Secret<String>?) -> String { value == nil ? "(unset)" : "<redacted>" }
        return [
            (SettingKey.clientID, quickBooks.clientID ?? "(unset)"),
            (SettingKey.clientSecret, secret(quickBooks.clientSecret)),
            (SettingKey.redirectURI, quickBooks.redirectURI ?? "(unset)"),
            (SettingKey.environment, quickBooks.environment.rawValue),
            (SettingKey.verifierToken, secret(quickBooks.webhookVerifierToken)),
            (SettingKey.authorizeURL, quickBooks.authorizeURL),
            (SettingKey.tokenURL, quickBooks.tokenURL),
            (SettingKey.revokeURL, quickBooks.revokeURL),
            (SettingKey.apiBaseURL, quickBooks.apiBaseURL),
            (SettingKey.minorVersion, String(quickBooks.minorVersion)),
            (SettingKey.timeout, String(quickBooks.timeoutSeconds)),
            (SettingKey.stateDirectory, stateDirectory),
            (SettingKey.databaseURL, databaseURL?.redacted ?? "(unset)"),
            (SettingKey.leaseSeconds, String(leaseSeconds)),
            (SettingKey.controlSocket, controlSocketPath),
            (SettingKey.controlGroup, controlGroup),
            (SettingKey.readonlyGroup, readonlyGroup ?? "(unset)"),
            (SettingKey.webhookListen, webhookListen.description),
            (SettingKey.controlMaxConnections, String(controlMaxConnections)),
            (SettingKey.controlMaxConnectionsPerUID, String(controlMaxConnectionsPerUID)),
            (SettingKey.controlIdleTimeout, String(controlIdleTimeoutSeconds)),
            (SettingKey.webhookRequestTimeout, String(webhookRequestTimeoutSeconds)),
            (SettingKey.tokenKeyFile, tokenKey.description),
            (SettingKey.refreshMargin, String(refreshMarginSeconds)),
            (SettingKey.logLevel, logLevel.rawValue),
            (SettingKey.reconnectWarningDays, String(reconnectWarningDays)),
            (SettingKey.invoiceItem, invoiceItemName),
            (SettingKey.incomeAccount, incomeAccountName ?? "(the first service-fee Income account)"),
            (SettingKey.sweepPeriod, String(sweepPeriodSeconds)),
            (SettingKey.reconcileGrace, String(reconcileGraceSeconds)),
            (SettingKey.readQuota, String(readQuota)),
            (SettingKey.readReserve, String(readReservePercent)),
            (SettingKey.coalesceWindow, String(coalesceWindowSeconds)),
            (SettingKey.pipelineConcurrency, String(pipelineConcurrency)),
            (SettingKey.webhookLossThreshold, String(webhookLossThresholdPercent)),
        ]
    }

    static func isOurs(_ key: String) -> Bool { key.hasPrefix("QBSYNCD_") || key.hasPrefix("QUICKBOOKS_") }

    static func nonEmpty(_ value: String?) -> String? {
        guard let trimmed = value?.trimmingWhitespace(), !trimmed.isEmpty else { return nil }
        return trimmed
    }

    /// nil contents: the file does not exist.
    static func readFile(_ path: String) -> Result<String?, SettingsReadError> {
        guard FileManager.default.fileExists(atPath: path) else { return .success(nil) }
        guard let data = FileManager.default.contents(atPath: path) else { return .failure(.init("cannot be read")) }
        guard let text = String(data: data, encoding: .utf8) else { return .failure(.init("is not UTF-8 text")) }
        return .success(text)
    }
}

struct SettingsReadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Validates each value and collects a problem for each bad one.
private struct Builder {
    var problems: [String]

    mutating func build(
        value: (String) -> String?, environment: [String: String], credentialsDirectory: String?, configPath: String
    ) -> Settings {
        var missing: [String] = []
        let environmentName = value(SettingKey.environment) ?? SettingDefaults.environment.rawValue
        let qboEnvironment: QBOEnvironment
        if let parsed = QBOEnvironment(rawValue: environmentName.lowercased()) {
            qboEnvironment = parsed
        } else {
            problems.append("\(SettingKey.environment): '\(environmentName)' is not sandbox or production")
            missing.append(SettingKey.environment)
            qboEnvironment = SettingDefaults.environment
        }
        let clientID = value(SettingKey.clientID)
        let clientSecret = value(SettingKey.clientSecret).map(Secret.init)
        let redirectURI = url(SettingKey.redirectURI, value(SettingKey.redirectURI), allowNil: true)
        let verifier = value(SettingKey.verifierToken).map(Secret.init)
        if clientID == nil { missing.append(SettingKey.clientID) }
        if clientSecret == nil { missing.append(SettingKey.clientSecret) }
        if redirectURI == nil { missing.append(SettingKey.redirectURI) }
        if verifier == nil { missing.append(SettingKey.verifierToken) }

        let quickBooks = Settings.QuickBooks(
            clientID: clientID,
            clientSecret: clientSecret,
            redirectURI: redirectURI,
            environment: qboEnvironment,
            webhookVerifierToken: verifier,
            authorizeURL: url(SettingKey.authorizeURL, value(SettingKey.authorizeURL)) ?? SettingDefaults.authorizeURL,
            tokenURL: url(SettingKey.tokenURL, value(SettingKey.tokenURL))
                ?? SettingDefaults.tokenURL,
            revokeURL: url(SettingKey.revokeURL, value(SettingKey.revokeURL))
                ?? SettingDefaults.revokeURL,
            apiBaseURL: url(SettingKey.apiBaseURL, value(SettingKey.apiBaseURL)).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
                ?? qboEnvironment.defaultAPIBaseURL,
            minorVersion: integer(SettingKey.minorVersion, value(SettingKey.minorVersion), range: 75...999, default: SettingDefaults.minorVersion),
            timeoutSeconds: integer(SettingKey.timeout, value(SettingKey.timeout), range: 1...300, default: SettingDefaults.timeoutSeconds)
        )

        let systemdState = Settings.nonEmpty(environment["STATE_DIRECTORY"]).map { String($0.split(separator: ":")[0]) }
        let systemdRuntime = Settings.nonEmpty(environment["RUNTIME_DIRECTORY"]).map { String($0.split(separator: ":")[0]) }
        let stateDirectory = path(SettingKey.stateDirectory, value(SettingKey.stateDirectory)) ?? systemdState ?? SettingDefaults.stateDirectory
        let socketPath = path(SettingKey.controlSocket, value(SettingKey.controlSocket)) ?? (systemdRuntime.map { $0 + "/" + SettingDefaults.controlSocketName } ?? SettingDefaults.controlSocket)
        if socketPath.utf8.count > 107 {
            problems.append("\(SettingKey.controlSocket): \(socketPath) is longer than a Unix socket path may be (107 bytes)")
        }

        let listenText = value(SettingKey.webhookListen) ?? SettingDefaults.webhookListen.description
        let listen = ListenAddress(parsing: listenText) ?? {
            problems.append("\(SettingKey.webhookListen): '\(listenText)' is not HOST:PORT or [IPv6]:PORT")
            return SettingDefaults.webhookListen
        }()

        let tokenKey: TokenKeySource
        if let file = path(SettingKey.tokenKeyFile, value(SettingKey.tokenKeyFile)) {
            tokenKey = .file(file)
        } else if let credentialsDirectory, FileManager.default.fileExists(atPath: credentialsDirectory + "/token_key") {
            tokenKey = .credential(credentialsDirectory + "/token_key")
        } else {
            tokenKey = .generated(stateDirectory + "/" + SettingDefaults.generatedTokenKeyName)
        }

        let levelText = value(SettingKey.logLevel) ?? SettingDefaults.logLevel.rawValue
        let level = Logger.Level(rawValue: levelText.lowercased()) ?? {
            problems.append("\(SettingKey.logLevel): '\(levelText)' is not one of trace, debug, info, notice, warning, error, critical")
            return SettingDefaults.logLevel
        }()

        return Settings(
            quickBooks: quickBooks,
            stateDirectory: stateDirectory,
            databaseURL: databaseURL(value(SettingKey.databaseURL)),
            leaseSeconds: integer(SettingKey.leaseSeconds, value(SettingKey.leaseSeconds), range: 6...3600, default: SettingDefaults.leaseSeconds),
            controlSocketPath: socketPath,
            controlGroup: value(SettingKey.controlGroup) ?? SettingDefaults.controlGroup,
            readonlyGroup: value(SettingKey.readonlyGroup),
            webhookListen: listen,
            controlMaxConnections: integer(SettingKey.controlMaxConnections, value(SettingKey.controlMaxConnections), range: 1...65_536, default: SettingDefaults.controlMaxConnections),
            controlMaxConnectionsPerUID: integer(
                SettingKey.controlMaxConnectionsPerUID, value(SettingKey.controlMaxConnectionsPerUID), range: 1...65_536, default: SettingDefaults.controlMaxConnectionsPerUID
            ),
            controlIdleTimeoutSeconds: integer(SettingKey.controlIdleTimeout, value(SettingKey.controlIdleTimeout), range: 1...86_400, default: SettingDefaults.controlIdleTimeoutSeconds),
            webhookRequestTimeoutSeconds: integer(SettingKey.webhookRequestTimeout, value(SettingKey.webhookRequestTimeout), range: 1...300, default: SettingDefaults.webhookRequestTimeoutSeconds),
            tokenKey: tokenKey,
            refreshMarginSeconds: integer(SettingKey.refreshMargin, value(SettingKey.refreshMargin), range: 30...3000, default: SettingDefaults.refreshMarginSeconds),
            reconnectWarningDays: integer(SettingKey.reconnectWarningDays, value(SettingKey.reconnectWarningDays), range: 1...365, default: SettingDefaults.reconnectWarningDays),
            invoiceItemName: itemName(value(SettingKey.invoiceItem)),
            incomeAccountName: value(SettingKey.incomeAccount),
            sweepPeriodSeconds: value(SettingKey.sweepPeriod) != nil || value(SettingKey.reconcileInterval) == nil
                ? integer(SettingKey.sweepPeriod, value(SettingKey.sweepPeriod), range: 1...(30 * 86_400), default: SettingDefaults.sweepPeriodSeconds)
                : integer(SettingKey.reconcileInterval, value(SettingKey.reconcileInterval), range: 1...(30 * 86_400), default: SettingDefaults.sweepPeriodSeconds),
            reconcileGraceSeconds: integer(SettingKey.reconcileGrace, value(SettingKey.reconcileGrace), range: 0...3600, default: SettingDefaults.reconcileGraceSeconds),
            readQuota: integer(SettingKey.readQuota, value(SettingKey.readQuota), range: 0...1_000_000_000, default: SettingDefaults.readQuota),
            readReservePercent: integer(SettingKey.readReserve, value(SettingKey.readReserve), range: 0...50, default: SettingDefaults.readReservePercent),
            coalesceWindowSeconds: decimalSeconds(SettingKey.coalesceWindow, value(SettingKey.coalesceWindow), range: 0...60, default: SettingDefaults.coalesceWindowSeconds),
            pipelineConcurrency: integer(SettingKey.pipelineConcurrency, value(SettingKey.pipelineConcurrency), range: 1...256, default: SettingDefaults.pipelineConcurrency),
            webhookLossThresholdPercent: integer(SettingKey.webhookLossThreshold, value(SettingKey.webhookLossThreshold), range: 0...100, default: SettingDefaults.webhookLossThresholdPercent),
            logLevel: level,
            configFilePath: configPath,
            integrationMissing: missing
        )
    }

    /// The URL is never echoed: it may hold a password.
    mutating func databaseURL(_ text: String?) -> DatabaseURL? {
        guard let text else { return SettingDefaults.databaseURL }
        guard let url = DatabaseURL(text) else {
            problems.append("\(SettingKey.databaseURL): the value is not a postgres:// or postgresql:// URL")
            return SettingDefaults.databaseURL
        }
        return url
    }

    mutating func itemName(_ text: String?) -> String {
        guard let text else { return SettingDefaults.invoiceItemName }
        guard text.count <= 100, !text.contains(":"), !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            problems.append("\(SettingKey.invoiceItem): '\(text.prefix(40).debugDescription.dropFirst().dropLast())' is not a QuickBooks item name (at most 100 characters, no ':', no control characters)")
            return SettingDefaults.invoiceItemName
        }
        return text
    }

    mutating func url(_ name: String, _ text: String?, allowNil: Bool = true) -> String? {
        guard let text else { return nil }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty
        else {
            problems.append("\(name): '\(text)' is not an absolute http(s) URL")
            return nil
        }
        // Plain http would send the client secret, codes and tokens in clear: loopback only (L7).
        guard scheme == "https" || Self.isLoopback(host) else {
            problems.append("\(name): '\(text)' uses plain http to a host that is not this machine; use https")
            return nil
        }
        return text
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return bare.lowercased() == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }

    mutating func path(_ name: String, _ text: String?) -> String? {
        guard let text else { return nil }
        guard text.hasPrefix("/") else {
            problems.append("\(name): '\(text)' is not an absolute path")
            return nil
        }
        return text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// Seconds with an optional fraction (`2.5`).
    mutating func decimalSeconds(_ name: String, _ text: String?, range: ClosedRange<Double>, default defaultValue: Double) -> Double {
        guard let text else { return defaultValue }
        guard let number = Double(text), number.isFinite, range.contains(number) else {
            problems.append("\(name): '\(text)' is not a number of seconds from \(Int(range.lowerBound)) to \(Int(range.upperBound))")
            return defaultValue
        }
        return number
    }

    mutating func integer(_ name: String, _ text: String?, range: ClosedRange<Int>, default defaultValue: Int) -> Int {
        guard let text else { return defaultValue }
        guard let number = Int(text), range.contains(number) else {
            problems.append("\(name): '\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            return defaultValue
        }
        return number
    }
}
