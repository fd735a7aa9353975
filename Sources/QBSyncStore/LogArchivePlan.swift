/// What both stores' log archiving decides, apart from their SQL: the deliveries one archive
/// takes, the run of archives, the check of the rows deleted and the check of the recorded chain.
public enum LogArchivePlan {
    /// The deliveries one archive takes, from `first` (the oldest in the log) to at most `chunkEnd`
    /// (a chunk on), cut before the first one received after the cutoff (`newer`), with a pending
    /// event (`pending`) or not extracted yet (`unexpanded`: archived, it would lose its events), so
    /// the log keeps one contiguous range of ids. Nil when that leaves none.
    public static func range(first: Int64, chunkEnd: Int64, newer: Int64?, pending: Int64?, unexpanded: Int64?) -> ClosedRange<Int64>? {
        let last = [newer, pending, unexpanded].compactMap { $0.map { $0 - 1 } }.reduce(chunkEnd, min)
        return last >= first ? first...last : nil
    }

    /// Archives chunk after chunk until `chunk` finds nothing to archive; the archives, oldest first.
    public static func run(_ chunk: () async throws -> LogArchive?) async throws -> [LogArchive] {
        var made: [LogArchive] = []
        while let archive = try await chunk() {
            made.append(archive)
        }
        return made
    }

    /// Throws unless the transaction deleted the rows the file holds (it then rolls back: nothing is deleted).
    public static func checkDeleted(deliveries: Int, events: Int, written: (deliveries: Int, events: Int)) throws {
        guard deliveries == written.deliveries, events == written.events else {
            throw LogArchiveFile.Failure(
                description: "the rows deleted (\(deliveries), \(events)) are not the rows written (\(written.deliveries), \(written.events)); nothing was deleted"
            )
        }
    }

    /// Checks each archive's file in `directory` against its recorded hash, and each link of the chain.
    public static func verify(_ archives: [LogArchive], directory: String) -> [LogArchiveCheck] {
        var previous: String?
        var checks: [LogArchiveCheck] = []
        for archive in archives {
            defer { previous = archive.sha256 }
            if archive.previousSHA256 != previous {
                checks.append(LogArchiveCheck(archive: archive, outcome: .mismatched, detail: "the chain is broken: it names a previous archive that is not the one before it"))
                continue
            }
            switch LogArchiveFile.sha256(path: directory + "/" + archive.file) {
            case .none: checks.append(LogArchiveCheck(archive: archive, outcome: .missing, detail: "not in \(directory)"))
            case .some(let hash) where hash == archive.sha256: checks.append(LogArchiveCheck(archive: archive, outcome: .verified))
            case .some: checks.append(LogArchiveCheck(archive: archive, outcome: .mismatched, detail: "the file's SHA-256 is not the recorded one"))
            }
        }
        return checks
    }
}
