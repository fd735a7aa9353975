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
        let sealed = try vault.seal(token, org: org, realm: "123", column: .refreshToken, generation: 1)
        #expect(sealed.range(of: Data("AB11-refresh-token-value".utf8)) == nil)
        #expect(sealed.first == 2, "format version (2: bound to the token generation)")
        #expect(try vault.open(sealed, org: org, realm: "123", column: .refreshToken, generation: 1) == token)
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: OrgID("other")!, realm: "123", column: .refreshToken, generation: 1) }
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: org, realm: "999", column: .refreshToken, generation: 1) }
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: org, realm: "123", column: .accessToken, generation: 1) }
        #expect(throws: TokenVaultError.self) { try vault.open(sealed, org: org, realm: "123", column: .refreshToken, generation: 2) }
        var tampered = sealed
        tampered[tampered.count - 1] ^= 1
        #expect(throws: TokenVaultError.self) { try vault.open(tampered, org: org, realm: "123", column: .refreshToken, generation: 1) }
        // Two seals of the same token differ (a fresh nonce each time).
        #expect(try vault.seal(token, org: org, realm: "123", column: .refreshToken, generation: 1) != sealed)
    }

    @Test func aWrongKeyIsNamedByItsID() throws {
        let sealed = try TokenVault(key: TokenKey.generate()).seal(Secret("x"), org: org, realm: "1", column: .accessToken, generation: 1)
        let other = TokenKey.generate()
        #expect {
            try TokenVault(key: other).open(sealed, org: org, realm: "1", column: .accessToken, generation: 1)
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

    static let tokens = TokenSet(
        accessToken: Secret("access-1"), refreshToken: Secret("refresh-1"), accessTokenExpiresAt: Date().addingTimeInterval(3600),
        refreshTokenExpiresAt: Date().addingTimeInterval(86_400), refreshTokenHardExpiresAt: nil
    )

    static func sealedRow(_ store: Store, _ org: OrgID) async throws -> (access: Data, refresh: Data, generation: Int64) {
        try await store.writer.read { db in
            let row = try #require(try Row.fetchOne(db, sql: "SELECT access_token, refresh_token, token_generation FROM qb_configs WHERE org = ?", arguments: [org.rawValue]))
            return (row["access_token"], row["refresh_token"], row["token_generation"])
        }
    }

    /// L17: an older ciphertext of the same row, written back over a newer one, does not open.
    @Test func anOlderCiphertextOfTheSameRowDoesNotOpen() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let repository = ConnectionRepository(store: store, vault: TokenVault(key: TokenKey.generate()))
        try await repository.connect(org: org, realmID: "123", environment: "sandbox", tokens: Self.tokens, now: Date())
        let old = try await Self.sealedRow(store, org)
        var refreshed = Self.tokens
        refreshed.refreshToken = Secret("refresh-2")
        #expect(try await repository.storeRefreshed(org: org, realmID: "123", tokens: refreshed, expectedGeneration: old.generation, now: Date()))
        #expect(try await repository.connection(org)?.tokens.refreshToken.value == "refresh-2")
        // Someone with write access to the database restores the older pair.
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET access_token = ?, refresh_token = ? WHERE org = ?", arguments: [old.access, old.refresh, org.rawValue])
        }
        await #expect(throws: TokenVaultError.self) { _ = try await repository.connection(org) }
        #expect(try await repository.tokensNotOpening().failing == [org.rawValue])
    }

    /// Rows sealed before the generation binding (version 1) still open, and the next token write
    /// seals them as version 2.
    @Test func legacyRowsOpenAndAreResealedOnTheNextWrite() async throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let store = try Store.open(stateDirectory: directory.path, logger: Logger(label: "test"))
        defer { try? store.close() }
        let vault = TokenVault(key: TokenKey.generate())
        let repository = ConnectionRepository(store: store, vault: vault)
        try await repository.connect(org: org, realmID: "123", environment: "sandbox", tokens: Self.tokens, now: Date())
        let legacyAccess = try vault.sealLegacy(Secret("access-1"), org: org, realm: "123", column: .accessToken)
        let legacyRefresh = try vault.sealLegacy(Secret("refresh-1"), org: org, realm: "123", column: .refreshToken)
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET access_token = ?, refresh_token = ? WHERE org = ?", arguments: [legacyAccess, legacyRefresh, org.rawValue])
        }
        let opened = try #require(try await repository.connection(org))
        #expect(opened.tokens.refreshToken.value == "refresh-1")
        #expect(try await repository.tokensNotOpening().failing.isEmpty)
        var refreshed = Self.tokens
        refreshed.refreshToken = Secret("refresh-2")
        #expect(try await repository.storeRefreshed(org: org, realmID: "123", tokens: refreshed, expectedGeneration: opened.generation, now: Date()))
        let row = try await Self.sealedRow(store, org)
        #expect(!TokenVault.isLegacy(row.refresh) && !TokenVault.isLegacy(row.access), "re-sealed as version 2")
        #expect(try await repository.connection(org)?.tokens.refreshToken.value == "refresh-2")
        // A key rotation migrates a legacy row too.
        try await store.writer.write { db in
            try db.execute(sql: "UPDATE qb_configs SET access_token = ?, refresh_token = ? WHERE org = ?", arguments: [legacyAccess, legacyRefresh, org.rawValue])
        }
        let next = TokenVault(key: TokenKey.generate())
        #expect(try await repository.reseal(with: next) == 1)
        #expect(!TokenVault.isLegacy(try await Self.sealedRow(store, org).refresh))
        #expect(try await ConnectionRepository(store: store, vault: next).connection(org)?.tokens.refreshToken.value == "refresh-1")
    }

    /// L17: a key file must be a regular file owned by this user (or root), and its creation is
    /// synced with its directory; L16: a rotation never creates the key in use.
    @Test func keyFilesAreRegularOwnedAndNotCreatedWhenAsked() throws {
        let directory = try TempDirectory()
        defer { directory.remove() }
        let keyDirectory = directory.file("keys")
        mkdir(keyDirectory, 0o700)
        #expect(throws: TokenKeyError.self) { try TokenKey.load(.file(keyDirectory)) }
        let fifo = directory.file("fifo.key")
        mkfifo(fifo, 0o600)
        #expect { try TokenKey.load(.file(fifo)) } throws: { "\($0)".contains("not a regular file") }

        let missing = directory.file("state/token.key")
        mkdir(directory.file("state"), 0o700)
        #expect { try TokenKey.load(.generated(missing), create: false) } throws: { "\($0)".contains("QBSYNCD_TOKEN_KEY_FILE=/etc/credstore/qbsyncd.token_key") }
        #expect(!FileManager.default.fileExists(atPath: missing), "not created")
        #expect(throws: Never.self) { try TokenKey.load(.generated(missing)) }

        // Owned by another user (only root can arrange this): refused, unless that user owns the directory.
        if geteuid() == 0 {
            let foreign = directory.file("foreign.key")
            try TokenKey.create(at: foreign)
            chown(foreign, 4242, 4242)
            #expect { try TokenKey.load(.file(foreign)) } throws: { "\($0)".contains("owned by uid 4242") }
            let daemonDirectory = directory.file("daemon")
            mkdir(daemonDirectory, 0o700)
            chown(daemonDirectory, 4242, 4242)
            let owned = daemonDirectory + "/token.key"
            try TokenKey.create(at: owned)
            chown(owned, 4242, 4242)
            #expect(throws: Never.self) { try TokenKey.load(.file(owned)) }
        }
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
