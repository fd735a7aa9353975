import ArgumentParser
import Foundation

/// `qbsync-bench`: load generators for the project's benchmarks (`scripts/bench-control.sh` drives it).
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qbsync-bench",
        abstract: "Benchmarks for qbsyncd.",
        subcommands: [Control.self, Month.self]
    )
}

extension BenchCommand {
    /// `daemon.status` over the control socket in the four shapes of the foundation issue.
    struct Control: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "daemon.status over the control socket.")

        @Option(help: "The control socket.") var socket: String
        @Option(help: "The daemon's pid, to sample its RSS.") var pid: Int32?
        @Option(help: "Seconds per shape.") var seconds: Double = 5
        @Option(help: "Runs per shape; the median is reported.") var runs: Int = 3
        @Option(help: "Only this shape, CLIENTS:DEPTH (for profiling).") var only: String?

        func run() throws {
            var shapes = [(1, 1), (16, 1), (1, 16), (16, 16)]
            if let only {
                let parts = only.split(separator: ":").compactMap { Int($0) }
                guard parts.count == 2 else { throw ValidationError("--only takes CLIENTS:DEPTH") }
                shapes = [(parts[0], parts[1])]
            }
            print("shape                         req/s (median)   p50 µs   p99 µs   runs")
            for (clients, depth) in shapes {
                var results: [ControlBenchmark.Result] = []
                for _ in 0..<runs {
                    results.append(ControlBenchmark(socketPath: socket, clients: clients, depth: depth, seconds: seconds).run())
                }
                let median = results.sorted { $0.requestsPerSecond < $1.requestsPerSecond }[results.count / 2]
                let label = "\(clients) client\(clients == 1 ? "" : "s"), depth \(depth)"
                print(
                    label.padding(toLength: 30, withPad: " ", startingAt: 0)
                        + String(format: "%14.0f   %6.0f   %6.0f   %@", median.requestsPerSecond, median.percentile(0.5), median.percentile(0.99),
                            results.map { String(format: "%.0f", $0.requestsPerSecond) }.joined(separator: ","))
                )
            }
            if let pid, let rss = residentKiB(pid: pid) { print("daemon RSS after the runs: \(rss / 1024) MiB") }
        }
    }
}
