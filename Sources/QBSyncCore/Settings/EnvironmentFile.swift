/// systemd's `EnvironmentFile=` syntax: `KEY=value` lines, `#` and `;` comments, optional single or
/// double quotes around a value, a trailing backslash continuing a line.
///
/// swift-configuration's own `.env` parser skips malformed lines silently and keeps quotes, so the
/// settings file is parsed here and its values handed to an `EnvironmentVariablesProvider`; every
/// malformed line becomes a problem that `--check-config` prints.
public enum EnvironmentFile {
    public struct Parsed: Sendable, Equatable {
        public var values: [String: String]
        /// `line N: …` for every line that is not a comment, blank or a valid assignment.
        public var problems: [String]
    }

    public static func parse(_ contents: String) -> Parsed {
        var values: [String: String] = [:]
        var problems: [String] = []
        var logical: [(number: Int, text: String)] = []
        var pending: (number: Int, text: String)?
        for (index, rawLine) in contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = String(rawLine)
            if var current = pending {
                current.text += line
                pending = current
            } else {
                pending = (index + 1, line)
            }
            if let current = pending, current.text.hasSuffix("\\"), !isComment(current.text) {
                pending = (current.number, String(current.text.dropLast()))
                continue
            }
            if let current = pending { logical.append(current) }
            pending = nil
        }
        if let current = pending { logical.append(current) }

        for (number, text) in logical {
            let trimmed = text.trimmingWhitespace()
            if trimmed.isEmpty || isComment(trimmed) { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                problems.append("line \(number): expected KEY=value")
                continue
            }
            let key = String(trimmed[..<equals]).trimmingWhitespace()
            guard isValidKey(key) else {
                problems.append("line \(number): '\(key.prefix(40))' is not a valid variable name")
                continue
            }
            switch unquote(String(trimmed[trimmed.index(after: equals)...]).trimmingWhitespace()) {
            case .success(let value): values[key] = value
            case .failure(let message): problems.append("line \(number): \(key): \(message)")
            }
        }
        return Parsed(values: values, problems: problems)
    }

    private static func isComment(_ line: String) -> Bool {
        let first = line.trimmingWhitespace().first
        return first == "#" || first == ";"
    }

    private static func isValidKey(_ key: String) -> Bool {
        guard let first = key.utf8.first, first == UInt8(ascii: "_") || isLetter(first) else { return false }
        return key.utf8.allSatisfy { $0 == UInt8(ascii: "_") || isLetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private struct UnquoteError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    private static func unquote(_ value: String) -> Result<String, UnquoteError> {
        guard let quote = value.first, quote == "\"" || quote == "'" else { return .success(value) }
        var result = ""
        var escaped = false
        var closed = false
        var rest = value.dropFirst()
        while let character = rest.first {
            rest = rest.dropFirst()
            if escaped {
                result.append(character)
                escaped = false
            } else if character == "\\" && quote == "\"" {
                escaped = true
            } else if character == quote {
                closed = true
                break
            } else {
                result.append(character)
            }
        }
        guard closed else { return .failure(UnquoteError(message: "unterminated quote")) }
        guard rest.trimmingWhitespace().isEmpty else { return .failure(UnquoteError(message: "text after the closing quote")) }
        return .success(result)
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        guard let start = firstIndex(where: { !$0.isWhitespace }), let end = lastIndex(where: { !$0.isWhitespace }) else {
            return ""
        }
        return String(self[start...end])
    }
}
