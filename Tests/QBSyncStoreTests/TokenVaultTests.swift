import Foundation
import GRDB
import Logging
import QBSyncCore
import QBTestSupport
import Testing
@testable import QBSyncStore

@Suite struct TokenVaultTests {
    let org = OrgID("acme")!

    @Test func sealedTokensOpenOnlyForTheirRowAndColumn() throws {
        let vault = TokenVault(key: TokenKey.generate())
        let token = Secret("AB11-refresh-token-value")
        let sealed = try vault.seal(token, org: org, realm: "123", column: .refreshToken)
        #expect(sealed.range(of: Data("AB11-refresh-token-value".utf8)) == nil)
        #expect(sealed.first == 1, "format version")
        #expect(try vault.open(sealed, org: org, realm: "123", column: .refreshToken) == token)
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: OrgID("other")!, realm: "123", column: .refreshToken) }
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: org, realm: "999", column: .refreshToken) }
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: org, realm: "123", column: .accessToken) }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        #expect(throws: TokenVaultError.self) { try vault.open(tampered, org: org, realm: "123", column: .refreshToken) }
        // Two seals of the same token differ (a fresh nonce each time).
        #expect(try vault.seal(token, org: org, realm: "123", column: .refreshToken) != sealed)
    }

    @Test func aWrongKeyIsNamedByItsID() throws {
        let sealed = try TokenVault(key: TokenKey.generate()).seal(Secret("x"), org: org, realm: "1", column: .accessToken)
        let other = TokenKey.generate()
        #expect {
            try TokenVault(key: other).open(sealed, org: org, realm: "1", column: .accessToken)
        } throws: { error in
            "\(error)".contains("sealed with key id") && "\(error)".contains("has id \(other.id)")
        }
    }

    @Test func keyFilesAreCreated0600AndReadInThreeEncodings() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let generated = directory.file("token.key")
        let first = try TokenKey.load(.generated(generated))
        var info = stat()
        stat(generated, &info)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(FileManager.default.contents(atPath: generated)?.count == 32)
        #expect(try TokenKey.load(.generated(generated)).id == first.id, "loaded again, not replaced")

        let raw = FileManager.default.contents(atPath: generated)!
        let hex = try directory.write("hex.key", raw.map { String(format: "%02x", $0) }.joined() + "\n")
        let base64 = try directory.write("b64.key", raw.base64EncodedString())
        chmod(hex, 0o600)
        chmod(base64, 0o600)
        #expect(try TokenKey.load(.file(hex)).id == first.id)
        #expect(try TokenKey.load(.file(base64)).id == first.id)

        chmod(hex, 0o644)
        #expect(throws: TokenKeyError.self) { try TokenKey.load(.file(hex)) }
        let short = try directory.write("short.key", "too short")
        chmod(short, 0o600)
        #expect(throws: TokenKeyError.self) { try TokenKey.load(.file(short)) }
        #expect(throws: TokenKeyError.self) { try TokenKey.load(.file(directory.file("missing.key"))) }
    }

    @Test func resealingMovesEveryTokenToTheNewKey() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let oldVault = TokenVault(key: TokenKey.generate())
        let repository = ConnectionRepository(store: store, vault: oldVault)
        let tokens = TokenSet(accessToken: Secret("access-1"), refreshToken: Secret("refresh-1"), accessTokenExpiresAt: Date().addingTimeInterval(3600), refreshTokenExpiresAt: Date().addingTimeInterval(86_400), refreshTokenHardExpiresAt: nil)
        try await repository.connect(org: org, realmID: "123", environment: "sandbox", tokens: tokens, now: Date())
        let newVault = TokenVault(key: TokenKey.generate())
        #expect(try await repository.reseal(with: newVault) == 1)
        let reopened = try await ConnectionRepository(store: store, vault: newVault).connection(org)
        #expect(reopened?.tokens.refreshToken.value == "refresh-1")
        await #expect(throws: TokenVaultError.self) { _ = try await repository.connection(org) }
    }

    @Test func statesAreSingleUseAndExpire() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let repository = ConnectionRepository(store: store, vault: TokenVault(key: TokenKey.generate()))
        let now = Date()
        try await repository.insertState(Secret("state-a"), org: org, expiresAt: now.addingTimeInterval(600), now: now)
        try await repository.insertState(Secret("state-b"), org: org, expiresAt: now.addingTimeInterval(600), now: now)
        #expect(try await repository.consumeState(Secret("state-a"), code: Secret("code"), now: now) == .fresh(org))
        #expect(try await repository.consumeState(Secret("state-a"), code: Secret("code"), now: now) == .repeated(org))
        #expect(try await repository.consumeState(Secret("state-a"), code: Secret("other"), now: now) == .invalid)
        #expect(try await repository.consumeState(Secret("state-b"), code: Secret("code"), now: now.addingTimeInterval(601)) == .invalid, "expired")
        #expect(try await repository.consumeState(Secret("unknown"), code: Secret("code"), now: now) == .invalid)
        let stored = try await store.writer.read { db in try Data.fetchAll(db, sql: "SELECT state_hash FROM oauth_states") }
        #expect(stored.allSatisfy { $0.count == 32 }, "only SHA-256 hashes are stored")
    }
}
