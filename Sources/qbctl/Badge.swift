import Foundation

/// Status words in tables (Paid, Overdue, connected, failed, …), coloured for a person.
///
/// Colour only when standard output is a terminal and `NO_COLOR` is unset or empty
/// (https://no-color.org); otherwise the plain word, so scripts and pipes see text.
enum Badge {
    static let coloured: Bool = isatty(STDOUT_FILENO) == 1 && (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty

    static func paint(_ word: String?) -> String { paint(word, coloured: coloured) }

    /// The word, coloured or not as the caller decides (the dashboard's renderer is a pure function).
    static func paint(_ word: String?, coloured: Bool) -> String {
        guard let word else { return "-" }
        guard coloured, let colour = colour(of: word) else { return word }
        return "\u{1B}[\(colour)m\(word)\u{1B}[0m"
    }

    /// The SGR code: green for settled, yellow for waiting, red for needing someone, dim for gone.
    static func colour(of word: String) -> String? {
        switch word {
        case "Paid", "Synced", "connected", "processed", "ok", "enabled": "32"
        case "Outstanding", "pending", "warning": "33"
        case "Overdue", "failed", "needs_reauthorization", "critical", "exhausted", "disabled": "31"
        case "Voided", "disconnected", "ignored": "2"
        default: nil
        }
    }
}
