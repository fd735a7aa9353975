import Foundation

/// The package's built executables, found beside the running test bundle.
public enum Binaries {
    public static var directory: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Inside an .xctest bundle on some layouts; the products sit next to the bundle.
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("qbsyncd").path) {
            url.deleteLastPathComponent()
        }
        return url.path
    }

    public static var qbsyncd: String { directory + "/qbsyncd" }
    public static var qbctl: String { directory + "/qbctl" }
}
