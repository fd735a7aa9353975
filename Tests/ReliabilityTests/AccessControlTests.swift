import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// The control socket's access rules, with real users and groups that the test creates and
/// `qbctl` run as each of them: members of the control group may do everything, members of the
/// read-only group may read, anyone else is refused.
@Suite(.timeLimit(.minutes(5))) struct AccessControlTests {
    static let canCreateUsers = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

    /// Users and groups named for this run, removed (synchronously, for `defer`) at the end.
    struct Accounts {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var operatorsGroup: String { "qbt-ops-\(suffix)" }
        var viewersGroup: String { "qbt-view-\(suffix)" }
        var operatorUser: String { "qbt-op-\(suffix)" }
        var viewerUser: String { "qbt-vw-\(suffix)" }
        var strangerUser: String { "qbt-st-\(suffix)" }

        func create() async throws {
            for group in [operatorsGroup, viewersGroup] {
                let result = try await runCommand("/usr/sbin/groupadd", ["--system", group])
                #expect(result.status == 0, "\(result.stderr)")
            }
            // Each user's own primary group; the daemon's groups only as supplementary ones, so the
            // daemon must read them from /proc, not from SO_PEERCRED alone.
            for (user, groups) in [(operatorUser, [operatorsGroup]), (viewerUser, [viewersGroup]), (strangerUser, [])] {
                let result = try await runCommand("/usr/sbin/useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin"] + (groups.isEmpty ? [] : ["--groups", groups.joined(separator: ",")]) + [user])
                #expect(result.status == 0, "\(result.stderr)")
            }
        }

        /// One shell, in order (userdel before groupdel), not waited for: a blocking wait here would
        /// hold one of the test pool's two threads.
        func remove() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "userdel \(operatorUser); userdel \(viewerUser); userdel \(strangerUser); groupdel \(operatorsGroup); groupdel \(viewersGroup)"]
            process.standardError = FileHandle.nullDevice
            try? process.run()
        }
    }

    @Test(.enabled(if: canCreateUsers)) func realUsersGetWhatTheirGroupsAllow() async throws {
        let accounts = Accounts()
        defer { accounts.remove() }
        try await accounts.create()
        let daemon = try DaemonProcess(
            extraEnvironment: HostileEnvironmentTests.integration.merging(["QBSYNCD_CONTROL_GROUP": accounts.operatorsGroup, "QBSYNCD_READONLY_GROUP": accounts.viewersGroup]) { _, new in new }
        )
        defer { daemon.cleanUp() }
        chmod(daemon.directory.path, 0o755)
        try await daemon.start()

        func qbctl(as user: String, _ arguments: [String]) async throws -> CommandResult {
            try await runCommand("/usr/bin/setpriv", ["--reuid=\(user)", "--regid=\(user)", "--init-groups", Binaries.qbctl] + arguments, environment: ["PATH": "/usr/bin:/bin", "QBSYNCD_CONTROL_SOCKET": daemon.socketPath])
        }
        let write = ["call", "oauth.begin", #"{"org":"acme"}"#]
        var table: [String] = []
        for (user, role, mayRead, mayWrite) in [
            (accounts.operatorUser, "control group", true, true), (accounts.viewerUser, "read-only group", true, false), (accounts.strangerUser, "neither", false, false),
        ] {
            let read = try await qbctl(as: user, ["status"])
            let written = try await qbctl(as: user, write)
            #expect((read.status == 0) == mayRead, "\(role) reading: \(read.status) \(read.stderr)")
            #expect((written.status == 0) == mayWrite, "\(role) writing: \(written.status) \(written.stderr)")
            if !mayWrite { #expect(written.status == 1 && written.stderr.contains("forbidden"), "\(role): \(written.stderr)") }
            if !mayRead { #expect(read.status == 1 && read.stderr.contains("forbidden"), "\(role): \(read.stderr)") }
            table.append("\(role) (\(user)): status → exit \(read.status), oauth.begin → exit \(written.status)\(written.status == 1 ? " (forbidden)" : "")")
        }
        // Every refusal is logged with the peer's credentials.
        let log = daemon.log
        #expect(log.contains("control call forbidden"))
        let strangerUID = try await runCommand("/usr/bin/id", ["-u", accounts.strangerUser]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(log.contains("peer.uid=\(strangerUID)"), "the refused peer's uid is in the log")
        Campaign.report("Access control with real users", table + ["groups given as supplementary groups only (read from /proc/PID/status); refusals logged with peer uid/gid/pid"])
    }
}
