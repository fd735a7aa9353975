import Foundation
import QBControlClient
import QBSyncCore
import QBTestSupport
import Testing

/// Token-key rotation as the shipped unit needs it (L16): run from a root shell, where the
/// `token_key` credential is not visible, it never makes a key of its own, and the new key it
/// creates belongs to the daemon's user.
@Suite(.timeLimit(.minutes(2))) struct TokenKeyRotationTests {
    @Test func aRotationFromARootShellNeverCreatesTheKeyInUseAndGivesTheNewOneToTheDaemon() async throws {
        // The unit passes the key as a credential (LoadCredential=token_key:qbsyncd.token_key, from /etc/credstore).
        let credentials = try TempDirectory()
        defer { credentials.remove() }
        let credential = credentials.file("token_key")
        _ = FileManager.default.createFile(atPath: credential, contents: Data((0..<32).map { _ in UInt8.random(in: 0...255) }), attributes: [.posixPermissions: 0o400])
        let pair = try await Pair.start(daemonEnvironment: ["CREDENTIALS_DIRECTORY": credentials.path])
        defer { pair.cleanUp() }
        _ = try await pair.connect("rotating")
        await pair.control.close()
        pair.daemon.signal(SIGTERM)
        #expect(try await pair.daemon.waitForExit() == 0)

        // The state directory belongs to the daemon's user (User=qbsyncd), here uid 4242.
        let daemonUser: uid_t = geteuid() == 0 ? 4242 : geteuid()
        if geteuid() == 0 { chown(pair.daemon.stateDirectory, daemonUser, daemonUser) }
        let generated = pair.daemon.stateDirectory + "/token.key"
        let newKey = pair.daemon.stateDirectory + "/new.key"

        // A root shell: no CREDENTIALS_DIRECTORY, so the settings fall back to <state>/token.key.
        var shell = pair.daemon.environment
        shell.removeValue(forKey: "CREDENTIALS_DIRECTORY")
        let refused = try await runCommand(Binaries.qbsyncd, ["--rotate-token-key", newKey], environment: shell)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("QBSYNCD_TOKEN_KEY_FILE=/etc/credstore/qbsyncd.token_key"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: generated), "the key in use is never created")
        #expect(!FileManager.default.fileExists(atPath: newKey))

        // As documented: name the credential's file.
        shell["QBSYNCD_TOKEN_KEY_FILE"] = credential
        let rotated = try await runCommand(Binaries.qbsyncd, ["--rotate-token-key", newKey], environment: shell)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("re-sealed the tokens of 1 organisation(s)"))
        var info = stat()
        #expect(stat(newKey, &info) == 0)
        #expect(info.st_uid == daemonUser, "the daemon's user can read its new key")
        #expect(info.st_mode & 0o777 == 0o600)

        // The daemon starts on the new key.
        try await pair.daemon.start(extraEnvironment: ["QBSYNCD_TOKEN_KEY_FILE": newKey, "CREDENTIALS_DIRECTORY": ""])
        let client = try await pair.daemon.connect()
        #expect(try await client.call(OrgTestCall.self, OrgParams(org: .test("rotating"))).ok == true)
        await client.close()
    }
}
