import Crypto
public import Foundation
public import QBSyncCore

/// Why a sealed token could not be opened.
public struct TokenVaultError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Seals and opens OAuth tokens with AES-256-GCM.
///
/// Layout: version (1), key id (1), nonce (12), ciphertext, tag (16). The associated data binds a
/// ciphertext to its row, column and token generation (version 2: `org|realm|column|g<n>`): a
/// token copied to another org or column does not open, and neither does an older ciphertext of
/// the same row restored over a newer one (L17), since every token write moves the generation.
///
/// Version 1 (before 0.2) had no generation in the associated data. Such a row still opens, with
/// the version-1 data, and is sealed as version 2 by its next token write (a refresh, a connect,
/// a key rotation). Until then an older version-1 ciphertext of that row could still be restored.
public struct TokenVault: Sendable {
    public let key: TokenKey
    static let version: UInt8 = 2
    static let legacyVersion: UInt8 = 1

    public init(key: TokenKey) { self.key = key }

    /// Which token of a row.
    public enum Column: String, Sendable {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
    }

    /// Seals a token for the row's `generation` as it will be once the write that stores it commits.
    public func seal(_ token: Secret<String>, org: OrgID, realm: String, column: Column, generation: Int64) throws -> Data {
        let data = Self.associatedData(org: org, realm: realm, column: column, generation: generation)
        let box = try AES.GCM.seal(Data(token.value.utf8), using: key.key, authenticating: data)
        guard let combined = box.combined else { throw TokenVaultError("sealing failed") }
        return Data([Self.version, key.id]) + combined
    }

    /// Opens a token of the row at its current `generation` (a version-1 ciphertext ignores it).
    public func open(_ sealed: Data, org: OrgID, realm: String, column: Column, generation: Int64) throws(TokenVaultError) -> Secret<String> {
        guard sealed.count > 2 + 12 + 16, let version = sealed.first, version == Self.version || version == Self.legacyVersion else {
            throw TokenVaultError("the sealed \(column.rawValue) of \(org) is not in a known format")
        }
        let keyID = sealed[sealed.startIndex + 1]
        guard keyID == key.id else {
            throw TokenVaultError("the \(column.rawValue) of \(org) was sealed with key id \(keyID); the token key in use has id \(key.id)")
        }
        let data = version == Self.version
            ? Self.associatedData(org: org, realm: realm, column: column, generation: generation)
            : Self.legacyAssociatedData(org: org, realm: realm, column: column)
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(2))
            let plain = try AES.GCM.open(box, using: key.key, authenticating: data)
            return Secret(String(decoding: plain, as: UTF8.self))
        } catch {
            throw TokenVaultError("the \(column.rawValue) of \(org) does not open with the token key (tampered, restored from an older write, or bound to another row)")
        }
    }

    /// Whether a ciphertext predates the generation binding (it is re-sealed on the row's next write).
    public static func isLegacy(_ sealed: Data) -> Bool { sealed.first == legacyVersion }

    static func associatedData(org: OrgID, realm: String, column: Column, generation: Int64) -> Data {
        Data("\(org.rawValue)|\(realm)|\(column.rawValue)|g\(generation)".utf8)
    }

    static func legacyAssociatedData(org: OrgID, realm: String, column: Column) -> Data {
        Data("\(org.rawValue)|\(realm)|\(column.rawValue)".utf8)
    }

    /// A version-1 ciphertext, as stores written before 0.2 hold (for tests of the migration).
    public func sealLegacy(_ token: Secret<String>, org: OrgID, realm: String, column: Column) throws -> Data {
        let box = try AES.GCM.seal(Data(token.value.utf8), using: key.key, authenticating: Self.legacyAssociatedData(org: org, realm: realm, column: column))
        guard let combined = box.combined else { throw TokenVaultError("sealing failed") }
        return Data([Self.legacyVersion, key.id]) + combined
    }
}
