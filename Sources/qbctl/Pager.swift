import ArgumentParser
import QBControlClient
import QBSyncCore

/// Follows `nextCursor` so that a list command shows the whole list, not its first page.
enum Pager {
    /// The daemon's largest page (`limit` 1…500).
    static let largestPage = 500

    /// Calls `call` page after page on one connection until `nextCursor` is null or `limit`
    /// rows are in. Answers the method's own shape: every row under `key` (as the daemon sent it),
    /// and the `nextCursor` that would continue (null when the list is complete).
    static func collect<C: ControlCall>(
        _ options: GlobalOptions, _ call: C.Type, _ params: C.Params, key: String, limit: Int?, pageSize: Int = largestPage
    ) async throws(QbctlFailure) -> JSONValue where C.Params: PagedParams, C.Result: PagedResult {
        let client = try await options.connect()
        defer { Task { await client.close() } }
        var rows: [JSONValue] = []
        var cursor: String?
        repeat {
            var page = params
            page.limit = min(pageSize, limit.map { $0 - rows.count } ?? pageSize)
            page.cursor = cursor
            let answer = try await options.call(client, call, page)
            let pageRows = answer.json[key]?.arrayValue ?? []
            rows += pageRows
            cursor = answer.result.nextCursor
            if pageRows.isEmpty { break }
        } while cursor != nil && rows.count < (limit ?? .max)
        if let limit, rows.count > limit { rows = Array(rows.prefix(limit)) }
        return [key: .array(rows), "nextCursor": cursor.map(JSONValue.string) ?? .null]
    }
}

/// `--limit` and the hidden `--page-size` (rows per call; small in tests) of the list commands.
struct PagingOptions: ParsableArguments {
    @Option(help: "Show at most this many rows (default: every row, fetched page after page).")
    var limit: Int?

    @Option(help: .hidden)
    var pageSize = Pager.largestPage

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard (1...Pager.largestPage).contains(pageSize) else { throw ValidationError("--page-size must be from 1 to \(Pager.largestPage)") }
    }
}
