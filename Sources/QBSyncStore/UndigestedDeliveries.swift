import Foundation
import GRDB
import Synchronization

/// The deliveries committed with their body digest not yet in the log's unique index (issue 17).
///
/// The intake's commit writes each row with `body_sha256` NULL, so a batch appends a few sequential
/// pages instead of dirtying one random index page per row before its fsync; the extraction fills
/// the digest in afterwards, once, in its own transaction without an fsync of its own
/// (``WebhookRepository/expand(_:)``). Until then the digest is held here, so an exact replay is
/// still recognised in between (F10): the log's replay check is this map, then the index.
///
/// Every change is made by the store's one writer, after its transaction committed, so the map
/// and the index never both miss a committed delivery. The first intake commit loads what a crash
/// left listed. Bounded: with ``limit`` digests waiting (the extraction far behind), the intake
/// writes the digest in its own commit again, slower, and memory stops growing.
final class UndigestedDeliveries: Sendable {
    /// Digests held at most by default: as many as a dictionary of 2^19 slots holds (3/4 of them),
    /// 40 bytes each inline, so at most 21 MiB. A burst is answered at full speed until this many
    /// deliveries wait for their extraction: about 25 s at 15,000 deliveries/s.
    static let standardLimit = (1 << 19) / 4 * 3
    /// Digests held at most.
    let limit: Int

    private struct State {
        var loaded = false
        var byDigest: [Digest: Int64] = [:]
    }

    private let state = Mutex(State())

    init(limit: Int = standardLimit) {
        self.limit = limit
    }

    /// How many digests wait for the extraction.
    var count: Int { state.withLock { $0.byDigest.count } }

    /// Loads, once, the listed deliveries committed without their digest (a crash left them).
    /// Called by the writer, inside its access.
    func loadIfNeeded(_ db: Database) throws {
        guard !state.withLock({ $0.loaded }) else { return }
        var found: [Digest: Int64] = [:]
        let rows = try Row.fetchCursor(db, sql: Self.listedWithoutDigest)
        while let row = try rows.next() {
            let body: Data = row[1]
            found[Digest(WebhookRepository.digest(body))] = row[0]
        }
        state.withLock {
            $0.byDigest.merge(found) { current, _ in current }
            $0.loaded = true
        }
    }

    /// The listed deliveries without a digest. CROSS JOIN keeps the short list as the outer loop:
    /// with a plain JOIN, SQLite's planner scanned the whole delivery log for NULL digests and
    /// probed the list for each row, so the first commit after every start read the entire log
    /// (38,000 pages at 406,000 deliveries: 2.3 s while every delivery waited for its 200).
    static let listedWithoutDigest = """
        SELECT d.id, d.body FROM qb_webhook_unexpanded u CROSS JOIN qb_webhook_deliveries d ON d.id = u.delivery_id
        WHERE d.body_sha256 IS NULL
        """

    /// The delivery stored with this body, if its digest waits here.
    func delivery(withDigest digest: Data) -> Int64? {
        state.withLock { $0.byDigest[Digest(digest)] }
    }

    /// Whether `more` digests still fit under ``limit``.
    func hasRoom(for more: Int) -> Bool {
        state.withLock { $0.byDigest.count + more <= limit }
    }

    /// After the intake's commit: these deliveries were stored without their digest.
    func committed(_ digests: [(digest: Data, id: Int64)]) {
        guard !digests.isEmpty else { return }
        state.withLock { state in
            for (digest, id) in digests { state.byDigest[Digest(digest)] = id }
        }
    }

    /// After the extraction's commit: these digests are in the index now.
    func indexed(_ digests: [Data]) {
        guard !digests.isEmpty else { return }
        state.withLock { state in
            for digest in digests { state.byDigest.removeValue(forKey: Digest(digest)) }
        }
    }

    /// A SHA-256 held inline: 32 bytes where a `Data` key was 16 and a heap block of about 48.
    struct Digest: Hashable {
        let first, second, third, fourth: UInt64

        init(_ digest: Data) {
            assert(digest.count == 32, "a body digest is a SHA-256")
            var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // on the stack: no allocation a lookup
            withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: digest.prefix(32)) }
            (first, second, third, fourth) = words
        }
    }
}
