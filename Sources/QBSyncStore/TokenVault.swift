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
/// Layout: version (1), key id (1), nonce (12), ciphertext, tag (16). The associated data
/// `org|realm|column` binds a ciphertext to its row and column: a token copied to another org or
/// column does not open.
public struct TokenVault: Sendable {
    public let key: TokenKey
    static let version: UInt8 = 1

    public init(key: TokenKey) { self.key = key }

    /// Which token of a row.
    public enum Column: String, Sendable {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
    }

    public func seal(_ token: Secret<String>, org: OrgID, realm: String, column: Column) throws -> Data {
        let box = try AES.GCM.seal(Data(token.value.utf8), using: key.key, authenticating: Self.associatedData(org: org, realm: realm, column: column))
        guard let combined = box.combined else { throw TokenVaultError("sealing failed") }
        return Data([Self.version, key.id]) + combined
    }

    public func open(_ sealed: Data, org: OrgID, realm: String, column: Column) throws(TokenVaultError) -> Secret<String> {
        guard sealed.count > 2 + 12 + 16, sealed[sealed.startIndex] == Self.version else {
            throw TokenVaultError("the sealed \(column.rawValue) of \(org) is not in a known format")
        }
        let keyID = sealed[sealed.startIndex + 1]
        guard keyID == key.id else {
            throw TokenVaultError("the \(column.rawValue) of \(org) was sealed with key id \(keyID); the token key in use has id \(key.id)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(2))
            let plain = try AES.GCM.open(box, using: key.key, authenticating: Self.associatedData(org: org, realm: realm, column: column))
            return Secret(String(decoding: plain, as: UTF8.self))
        } catch {
            throw TokenVaultError("the \(column.rawValue) of \(org) does not open with the token key (tampered, or bound to another row)")
        }
    }

    static func associatedData(org: OrgID, realm: String, column: Column) -> Data {
        Data("\(org.rawValue)|\(realm)|\(column.rawValue)".utf8)
    }
}
