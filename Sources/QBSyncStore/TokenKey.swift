import Crypto
public import Foundation
public import QBSyncCore

/// Why the token key could not be loaded. Never carries key material.
public struct TokenKeyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The 32-byte AES-256 key that seals OAuth tokens at rest, with a one-byte id (the first byte of
/// its SHA-256) stored beside every ciphertext so that a wrong or rotated key is recognised.
public struct TokenKey: Sendable {
    let key: SymmetricKey
    public let id: UInt8

    public init(bytes: Data) throws(TokenKeyError) {
        guard bytes.count == 32 else { throw TokenKeyError("a token key is 32 bytes; this one has \(bytes.count)") }
        key = SymmetricKey(data: bytes)
        id = SHA256.hash(data: bytes).first { _ in true }!
    }

    /// A new random key.
    public static func generate() -> TokenKey {
        let data = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        return try! TokenKey(bytes: data)
    }

    /// Loads the key runtime.md names: `QBSYNCD_TOKEN_KEY_FILE`, the credential `token_key`, or
    /// `<state dir>/token.key`, which is created (0600, 32 random bytes) on first start unless
    /// `create` is false (a key rotation never makes the key in use).
    ///
    /// A key file is 32 raw bytes, or the same as 64 hex digits or base64 (whitespace ignored). A
    /// key file that is not a regular file, is readable by group or others, or is owned by someone
    /// other than this user or root (L17) is refused. Running as root (a rotation from a root
    /// shell), the owner of the key's directory is accepted too: the daemon's user owns its state
    /// directory and the key in it.
    public static func load(_ source: TokenKeySource, create: Bool = true) throws(TokenKeyError) -> TokenKey {
        if case .generated(let path) = source, !FileManager.default.fileExists(atPath: path) {
            guard create else {
                throw TokenKeyError(
                    "the token key \(path) does not exist. Run from a root shell, the systemd credential is not visible: set \(SettingKey.tokenKeyFile)=/etc/credstore/qbsyncd.token_key (the file the unit loads) or the path the daemon uses"
                )
            }
            try Self.create(at: path)
        }
        let path = source.path
        var info = stat()
        guard stat(path, &info) == 0 else { throw TokenKeyError("the token key \(path) cannot be read: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw TokenKeyError("the token key \(path) is not a regular file") }
        if case .credential = source {} else {
            if info.st_mode & 0o077 != 0 {
                throw TokenKeyError("the token key \(path) is readable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
            }
            guard trustedOwners(of: path).contains(info.st_uid) else {
                throw TokenKeyError("the token key \(path) is owned by uid \(info.st_uid), not by this user (\(geteuid())) or root; chown it")
            }
        }
        guard let contents = FileManager.default.contents(atPath: path) else { throw TokenKeyError("the token key \(path) cannot be read") }
        return try parse(contents, path: path)
    }

    /// Who may own a key file: this user and root; for root, also the owner of its directory.
    static func trustedOwners(of path: String) -> Set<uid_t> {
        var owners: Set<uid_t> = [geteuid(), 0]
        var directory = stat()
        if geteuid() == 0, stat(Self.directory(of: path), &directory) == 0 { owners.insert(directory.st_uid) }
        return owners
    }

    static func directory(of path: String) -> String {
        let parent = (path as NSString).deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    static func parse(_ contents: Data, path: String) throws(TokenKeyError) -> TokenKey {
        if contents.count == 32 { return try TokenKey(bytes: contents) }
        let text = String(decoding: contents, as: UTF8.self).filter { !$0.isWhitespace }
        if text.count == 64, let bytes = hexBytes(text) { return try TokenKey(bytes: bytes) }
        if let bytes = Data(base64Encoded: text), bytes.count == 32 { return try TokenKey(bytes: bytes) }
        throw TokenKeyError("the token key \(path) is not 32 bytes (raw, 64 hex digits or base64)")
    }

    /// Writes a new key with O_EXCL and mode 0600, so two starting daemons cannot both make one;
    /// the file and then its directory are fsynced, so the key survives a crash with its name (L17).
    public static func create(at path: String) throws(TokenKeyError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw TokenKeyError("cannot create the token key \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        guard write(fd, key, key.count) == key.count, fsync(fd) == 0 else {
            unlink(path)
            throw TokenKeyError("cannot write the token key \(path)")
        }
        try syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`, so a file created or renamed in it is durable.
    public static func syncDirectory(of path: String) throws(TokenKeyError) {
        let directory = Self.directory(of: path)
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw TokenKeyError("cannot open \(directory) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw TokenKeyError("cannot sync \(directory): \(String(cString: strerror(errno)))") }
    }

    private static func hexBytes(_ text: String) -> Data? {
        var bytes = Data()
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
