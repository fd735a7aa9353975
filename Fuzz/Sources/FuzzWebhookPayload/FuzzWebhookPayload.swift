import Foundation
import FuzzDriver
import QBSyncCore

/// An Intuit webhook body (after the signature check, which a forger can pass only with the key;
/// the parser must still survive anything Intuit or a key holder might send).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let (_, facts) = WebhookPayload.parse(Data(bytes: start, count: count))
    for fact in facts { _ = WebhookPayload.verb(fact.operation) }
    return 0
}

/// SwiftPM links an executable's entry point as `FuzzWebhookPayload_main`; libFuzzer's driver runs from it.
@_cdecl("FuzzWebhookPayload_main")
func FuzzWebhookPayloadMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runFuzzer(argc, argv, fuzz)
}
