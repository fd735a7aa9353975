import CSystemd
import Foundation

/// `sd_notify(3)`: tells systemd (with `Type=notify`) about readiness, status, reloads, stopping
/// and watchdog keep-alives. A no-op when `NOTIFY_SOCKET` is not set.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// Whether systemd listens (`NOTIFY_SOCKET` is set).
    public var isActive: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    @discardableResult
    public func notify(_ state: String) -> Bool {
        // sd_notify is not variadic (sd_notifyf is, and Swift cannot call it): preformatted text.
        sd_notify(0, state) > 0
    }

    public func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { notify("STATUS=\(text)") }
    public func stopping() { notify("STOPPING=1") }
    public func watchdog() { notify("WATCHDOG=1") }

    /// `RELOADING=1` with `MONOTONIC_USEC` (systemd 253+ wants it; older ones ignore it).
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        notify("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    /// Half of `WATCHDOG_USEC` when the unit set `WatchdogSec=` (and the variable is for this pid).
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }
}
