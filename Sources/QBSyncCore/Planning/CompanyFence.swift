/// The lease under which the current task does one company's work, when several instances share
/// the database. The PostgreSQL store checks it at the start of every write transaction made under
/// it (the row read `FOR SHARE`, ``LeaseRules/admits(instance:generation:stored:now:)``), so a
/// holder that lost its lease (paused past it, or cut off) has its writes refused, not interleaved
/// with the new holder's. Unset (nil): an unfenced write (a single instance, or work not tied to
/// one company).
public enum CompanyFence {
    @TaskLocal public static var lease: CompanyLease?
}
