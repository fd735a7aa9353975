import QBSyncCore
import FuzzDriver

/// The settings file (systemd EnvironmentFile syntax), which an admin edits by hand.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    _ = EnvironmentFile.parse(text)
    return 0
}

/// SwiftPM links an executable's entry point as `FuzzEnvironmentFile_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzEnvironmentFile_main")
func FuzzEnvironmentFileMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
