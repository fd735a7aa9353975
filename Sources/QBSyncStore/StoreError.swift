/// Why the store could not be opened or used. The description names the path and the cause, never SQL
/// arguments.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String { case stateDirectoryMissing, stateDirectoryNotWritable, openFailed, damaged, migrationFailed }
        private let base: Base
        public static let stateDirectoryMissing = Code(base: .stateDirectoryMissing)
        public static let stateDirectoryNotWritable = Code(base: .stateDirectoryNotWritable)
        public static let openFailed = Code(base: .openFailed)
        public static let migrationFailed = Code(base: .migrationFailed)
        public static let damaged = Code(base: .damaged)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
