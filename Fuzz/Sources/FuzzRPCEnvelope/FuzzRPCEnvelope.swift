import Foundation
import FuzzDriver
import QBSyncCore

/// One control-socket line, as the daemon parses it before dispatch: any bytes must give an
/// envelope or a failure, never a crash; a failure must map to a JSON-RPC error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let line = Data(bytes: start, count: count)
    switch RPCEnvelope.parse(line) {
    case .success(let envelope):
        _ = envelope.method
    case .failure(let failure):
        _ = failure.error.rpcError
    }
    return 0
}

/// SwiftPM links an executable's entry point as `FuzzRPCEnvelope_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzRPCEnvelope_main")
func FuzzRPCEnvelopeMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
