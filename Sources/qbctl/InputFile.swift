import Foundation
import QBSyncCore

/// `--file F` or `--file -`: a JSON object for a command's input, from a file or standard input.
enum InputFile {
    static func object(_ path: String) throws(QbctlFailure) -> JSONValue {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw QbctlFailure(message: "cannot read \(path)", exitCode: 2)
            }
            data = contents
        }
        let source = path == "-" ? "standard input" : path
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {  // try?: not JSON is the usage error below
            throw QbctlFailure(message: "\(source) is not JSON", exitCode: 2)
        }
        guard case .object = value else { throw QbctlFailure(message: "\(source) must hold a JSON object", exitCode: 2) }
        return value
    }
}
