import NIOCore

/// When a control connection may take on more work (F3).
///
/// A request is *unwritten* from the moment it is dispatched until its answer has left for the
/// kernel. At most ``maximumUnwritten`` are, so one connection holds at most that many answers and
/// runs at most that many tasks. Lines read meanwhile wait, undispatched; and nothing more is read
/// while any line waits or while the channel is not writable (its peer does not read). The memory
/// a connection can hold is therefore one read's worth of lines plus 64 answers.
struct ControlBackpressure: Sendable, Equatable {
    static let maximumUnwritten = 64
    /// Past `high` pending bytes the channel turns unwritable; below `low` writable again.
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 64 << 10, high: 256 << 10)

    var unwritten = 0
    /// Lines read but not yet dispatched.
    var waiting = 0
    var writable = true

    var mayDispatch: Bool { unwritten < Self.maximumUnwritten && writable }
    var mayRead: Bool { waiting == 0 && mayDispatch }
    /// Nothing in flight: the idle timeout may run.
    var isIdle: Bool { unwritten == 0 && waiting == 0 }
}
