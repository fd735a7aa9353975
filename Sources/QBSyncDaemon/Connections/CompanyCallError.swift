import QBOClient
import QBSyncCore

/// Intuit's answer to one organisation's call, as the sync logic branches on it: the client's
/// error unchanged, with the org it concerns. Only the RPC dispatcher turns it into a protocol
/// error (``QBOErrorMapping``), which names the org.
struct CompanyCallError: Error, Sendable, CustomStringConvertible {
    let org: OrgID
    let error: QBOClientError

    /// Intuit's fault when it refused the request (`rejected`), else nil.
    var fault: QBOFault? {
        if case .rejected(let fault) = error { return fault }
        return nil
    }

    /// Whether Intuit refused the request with this fault code.
    func isFault(_ code: String) -> Bool { fault?.code == code }

    /// The words a caller is shown (the protocol error's message), for logs and stored errors.
    var description: String { QBOErrorMapping.protocolError(error, org: org).rpcError.message }
}
