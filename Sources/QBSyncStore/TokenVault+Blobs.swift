import Crypto
public import Foundation

extension TokenVault {
    /// Seals data other than a token that the store must not hold in plain text (a forwarded
    /// call's params and answer), bound to `context`: it opens only with the same context.
    public func seal(_ plain: Data, context: String) throws -> Data {
        let box = try AES.GCM.seal(plain, using: key.key, authenticating: Data(("blob|" + context).utf8))
        guard let combined = box.combined else { throw TokenVaultError("sealing failed") }
        return Data([Self.version, key.id]) + combined
    }

    /// Opens what ``seal(_:context:)`` sealed with the same context.
    public func open(_ sealed: Data, context: String) throws(TokenVaultError) -> Data {
        guard sealed.count > 2 + 12 + 16, sealed.first == Self.version, sealed[sealed.startIndex + 1] == key.id else {
            throw TokenVaultError("sealed data for \(context) is not in a known format or was sealed with another token key")
        }
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed.dropFirst(2)), using: key.key, authenticating: Data(("blob|" + context).utf8))
        } catch {
            throw TokenVaultError("sealed data for \(context) does not open with the token key (tampered, or bound to another row)")
        }
    }
}
