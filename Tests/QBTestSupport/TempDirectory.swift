import Foundation

/// A fresh directory under /tmp (short, so Unix socket paths fit in 107 bytes), removed by `remove()`.
public struct TempDirectory: Sendable {
    public let path: String

    public init(prefix: String = "qbt") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let result = mkdtemp(&template) else {
            throw DeadlineExceeded(description: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: result)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    public func write(_ name: String, _ contents: String) throws -> String {
        let target = file(name)
        try contents.write(toFile: target, atomically: true, encoding: .utf8)
        return target
    }

    public func makeDirectory(_ name: String) throws -> String {
        let target = file(name)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        return target
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
