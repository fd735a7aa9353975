/// A value that must never be printed: its descriptions are always `<redacted>`.
///
/// Settings keep the client secret, the verifier token and (later) tokens in this box so that
/// string interpolation, `dump` and logging cannot leak them by accident.
public struct Secret<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The secret itself; read it only where it is used.
    public let value: Value

    public init(_ value: Value) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

extension Secret: Equatable where Value: Equatable {}
