import Foundation

/// `QBSYNCD_DATABASE_URL`: the PostgreSQL database shared by every instance, as
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?…]`. It may hold a password, so it is kept
/// in a ``Secret`` and every description of it is ``redacted``.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The URL itself; read it only where the connection is made.
    public let secret: Secret<String>
    /// The URL without its password or any query value not known to be harmless.
    public let redacted: String

    /// nil when the text is not a `postgres://` or `postgresql://` URL.
    public init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["postgres", "postgresql"].contains(scheme) else {
            return nil
        }
        secret = Secret(text)
        redacted = Self.redact(components)
    }

    /// Query parameters shown as they are: none can carry a credential.
    static let shownParameters: Set<String> = [
        "sslmode", "host", "hostaddr", "port", "dbname", "application_name", "connect_timeout", "target_session_attrs", "options",
    ]

    static func redact(_ components: URLComponents) -> String {
        var text = "\(components.scheme ?? "")://"
        if let user = components.percentEncodedUser {
            text += user + (components.percentEncodedPassword == nil ? "" : ":<redacted>") + "@"
        }
        text += components.percentEncodedHost ?? ""
        if let port = components.port { text += ":\(port)" }
        text += components.percentEncodedPath
        if let items = components.queryItems, !items.isEmpty {
            text += "?" + items.map { Self.shownParameters.contains($0.name.lowercased()) ? "\($0.name)=\($0.value ?? "")" : "\($0.name)=<redacted>" }.joined(separator: "&")
        }
        return text
    }

    public var description: String { redacted }
    public var debugDescription: String { redacted }
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redacted]) }
}
