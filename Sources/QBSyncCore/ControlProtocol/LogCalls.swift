/// `log.archive`: moves settled webhook deliveries older than N days into hash-chained archive
/// files (docs/log-retention.md). Control group only.
public enum LogArchiveCall: ControlCall {
    public static let method = "log.archive"

    public struct Params: Codable, Sendable, Equatable {
        /// 0…36500.
        public var olderThanDays: Int
        public init(olderThanDays: Int) { self.olderThanDays = olderThanDays }
    }

    public struct Result: Codable, Sendable, Equatable {
        /// The archives made, as `log.archives` lists them.
        public var archives: [JSONValue]
        public var deliveries: Int
        public var events: Int
        public init(archives: [JSONValue], deliveries: Int, events: Int) {
            self.archives = archives
            self.deliveries = deliveries
            self.events = events
        }
    }
}

/// `log.archives`: every recorded archive, oldest first.
public enum LogArchivesCall: ControlCall {
    public static let method = "log.archives"
    public typealias Params = NoParams

    public struct Result: Codable, Sendable, Equatable {
        public var directory: String
        public var archives: [JSONValue]
        public init(directory: String, archives: [JSONValue]) {
            self.directory = directory
            self.archives = archives
        }
    }
}
