extension Duration {
    /// Whole milliseconds, rounded towards zero (for logs, metrics and APIs that take milliseconds).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
