import QBOClient

/// A create payload that can become a sparse update of an existing record.
protocol SparseUpdatable {
    var Id: String? { get set }
    var SyncToken: String? { get set }
    var sparse: Bool? { get set }
}

extension SparseUpdatable {
    /// This payload as a sparse update of record `id` at `syncToken` (only the fields it sets change).
    func sparseUpdate(of id: String, at syncToken: String?) -> Self {
        var update = self
        update.Id = id
        update.SyncToken = syncToken
        update.sparse = true
        return update
    }
}

extension CustomerPayload: SparseUpdatable {}
extension InvoicePayload: SparseUpdatable {}
