public import Logging
import Synchronization

/// The log level in force, changeable at run time (SIGHUP reload of `QBSYNCD_LOG_LEVEL`).
public final class LogLevelControl: Sendable {
    private let current: Mutex<Logger.Level>

    public init(_ level: Logger.Level) { current = Mutex(level) }

    public var level: Logger.Level {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}

/// Wraps a handler so that its level follows a ``LogLevelControl``.
public struct DynamicLevelLogHandler: LogHandler {
    private var upstream: any LogHandler
    private let control: LogLevelControl

    public init(upstream: any LogHandler, control: LogLevelControl) {
        self.upstream = upstream
        self.control = control
    }

    public var logLevel: Logger.Level {
        get { control.level }
        set { control.level = newValue }
    }

    public var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        upstream.log(event: event)
    }
}
