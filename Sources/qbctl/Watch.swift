import ArgumentParser
import Foundation
import QBControlClient
import QBSyncCore

extension Qbctl {
    /// `qbctl watch`: subscribes and prints notifications as they arrive, until interrupted.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stream notifications (status changes, connections, webhook events).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this organisation.") var org: String?
        @Option(help: "Only these topics (repeatable): invoice.status_changed, connection.status_changed, connection.reconnect_due, webhook.event.")
        var topic: [String] = []

        func run() async throws {
            let client: ControlClient
            do { client = try await ControlClient.connect(path: options.socketPath) } catch { throw QbctlFailure(error) }
            let params = SubscribeCall.Params(org: try org.map { name throws(QbctlFailure) in try options.org(name) }, topics: topic.isEmpty ? nil : topic)
            _ = try await options.call(client, SubscribeCall.self, params)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for await notification in client.notifications {
                if options.json {
                    let line: JSONValue = ["method": .string(notification.method), "params": notification.params]
                    print(String(decoding: (try? encoder.encode(line)) ?? Data(), as: UTF8.self))  // try?: a JSONValue always encodes
                } else {
                    print(Self.human(notification))
                }
                fflush(nil)
            }
            throw QbctlFailure(message: "qbsyncd closed the connection", exitCode: 3)
        }

        static func human(_ notification: ControlClient.Notification) -> String {
            let p = notification.params
            func s(_ key: String) -> String { p[key]?.stringValue ?? p[key].map { "\($0)" } ?? "-" }
            switch notification.method {
            case "invoice.status_changed": return "\(s("at"))  \(s("org"))  demand \(s("demandId")) (invoice \(s("qboId"))): \(s("from")) -> \(s("to")), balance \(s("balance"))"
            case "connection.status_changed": return "\(s("at"))  \(s("org"))  connection \(s("from")) -> \(s("to")): \(s("reason"))"
            case "connection.reconnect_due": return "\(s("at"))  \(s("org"))  must reconnect by \(s("reconnectBy")) (\(s("daysLeft")) days)"
            case "webhook.event": return "\(s("receivedAt"))  \(s("org"))  event \(s("id")) \(s("type")) \(s("entityId")): \(s("status"))"
            default: return "\(notification.method) \(p)"
            }
        }
    }
}
