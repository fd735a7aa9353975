import Foundation

/// Values written into Intuit's query language (L2).
///
/// Intuit documents one escape: `\'` for a quote ("Use backslash (\) to escape special characters
/// like apostrophe", Intuit's blog "Deep dive into QuickBooks Online data queries", 2017; the
/// same in quickbooks-ruby's `QueryBuilder` and python-quickbooks). What `\\` means is not
/// documented: a value ending in a backslash escapes its own closing quote (quickbooks-ruby#345:
/// "Lexical error … Encountered: <EOF>"), while a backslash inside a name still found it there,
/// which suggests Intuit keeps other `\x` pairs as they are. So a backslash is never written: a
/// value that holds one is looked up with `LIKE`, each backslash a `%`, and the caller keeps the
/// rows that match exactly.
extension AccountingClient {
    /// `field = '<value>'`, or `field LIKE '<pattern>'` when the value holds a backslash; with
    /// `LIKE` the answer may hold other rows, so callers compare the field exactly.
    public static func condition(_ field: String, equals value: String) -> String {
        value.contains("\\") ? "\(field) LIKE \(likePattern(value, suffix: ""))" : "\(field) = \(literal(value))"
    }

    /// A `LIKE` pattern for a value: each backslash (and Intuit's only wildcard, `%`, which then
    /// matches itself among others) becomes `%`, then `suffix`.
    static func likePattern(_ value: String, suffix: String) -> String {
        literal(value.replacingOccurrences(of: "\\", with: "%") + suffix)
    }

    /// A string literal without backslashes: quotes written `\'`.
    static func literal(_ text: String) -> String {
        precondition(!text.contains("\\"), "a backslash has no documented meaning in Intuit's query language")
        return "'" + text.replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// Whether text holds a control character (C0, DEL or C1). Names and DocNumbers with one are
    /// refused before any call: none belongs in a name, and what Intuit's query lexer does with
    /// them is undocumented (it refuses characters it does not expect with a "Lexical error",
    /// quickbooks-ruby#54, QuickBooks-V3-PHP-SDK#397).
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
