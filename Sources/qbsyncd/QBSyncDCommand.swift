import ArgumentParser
import Foundation
import Logging
import QBSyncCore
import QBSyncDaemon
import SystemdSupport

/// `qbsyncd`: runs in the foreground as systemd expects; `--check-config` and `--version` exit at once.
@main
struct QBSyncDCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbsyncd",
        abstract: "Keeps BlockManOS organisations in step with their QuickBooks Online companies.",
        discussion: "Settings come from the environment, the file QBSYNCD_CONFIG (default /etc/qbsyncd/qbsyncd.conf) and $CREDENTIALS_DIRECTORY.",
        version: QBSyncVersion.current
    )

    @Flag(name: .customLong("check-config"), help: "Validate the settings, print one line per problem, and exit 0 (valid) or 1.")
    var checkConfig = false

    @Option(name: .customLong("rotate-token-key"), help: ArgumentHelp("Re-seal every stored token under the key in PATH (created if missing), with the daemon stopped.", valueName: "PATH"))
    var rotateTokenKey: String?

    @Option(name: .customLong("migrate-to"), help: ArgumentHelp("Copy the SQLite store of the state directory into the empty PostgreSQL store of URL (as QBSYNCD_DATABASE_URL takes it), with the daemon stopped.", valueName: "URL"))
    var migrateTo: String?

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let environment = ProcessInfo.processInfo.environment
        if let migrateTo {
            let outcome = await MigrateTo.run(environment: environment, url: migrateTo)
            for line in outcome.lines { FileHandle(fileDescriptor: outcome.ok ? 1 : 2).write(Data((line + "\n").utf8)) }
            if !outcome.ok { throw ExitCode(1) }
            return
        }
        if let rotateTokenKey {
            let outcome = await TokenKeyRotation.run(environment: environment, newKeyPath: rotateTokenKey)
            for line in outcome.lines { FileHandle(fileDescriptor: outcome.ok ? 1 : 2).write(Data((line + "\n").utf8)) }
            if !outcome.ok { throw ExitCode(1) }
            return
        }
        if checkConfig {
            let outcome = await ConfigCheck.run(environment: environment)
            guard outcome.problems.isEmpty else {
                for problem in outcome.problems { FileHandle.standardError.write(Data((problem + "\n").utf8)) }
                throw ExitCode(1)
            }
            print("configuration OK")
            for line in outcome.summary { print("  " + line) }
            return
        }

        let level = LogLevelControl(.info)
        // Journald's native protocol when stderr is the journal; plain stderr otherwise.
        let journal = JournalLogHandler.stderrIsJournal
        LoggingSystem.bootstrap { label in
            let upstream: any LogHandler = journal ? JournalLogHandler(identifier: "qbsyncd") : StreamLogHandler.standardError(label: label)
            return DynamicLevelLogHandler(upstream: upstream, control: level)
        }
        let listenFDs = ListenFDs.fromEnvironment()
        let logger = Logger(label: "qbsyncd")
        do {
            try await Daemon.run(environment: environment, listenFDs: listenFDs, logLevel: level, logger: logger)
        } catch let failure as Daemon.StartupFailure {
            // EX_CONFIG: the unit's RestartPreventExitStatus=78 does not restart what a restart cannot fix.
            logger.critical("cannot start: \(failure.description)")
            throw ExitCode(Self.exitConfiguration)
        } catch {
            // Anything else at run time (a store error, a service that ended): exit 1, which systemd restarts.
            logger.critical("stopped by a failure: \(error)")
            throw ExitCode(Self.exitFailure)
        }
    }

    /// sysexits.h EX_CONFIG: settings, key or store that a restart will not fix.
    static let exitConfiguration: Int32 = 78
    /// Any failure after start-up: systemd restarts it (Restart=on-failure).
    static let exitFailure: Int32 = 1
}
