import Foundation
import QBSyncCore

/// Intuit's name lists (customers, items, accounts) are never deleted, only made inactive
/// (reference §2.3). Intuit then renames the record `"<name> (deleted)"` (qbo_api cassettes
/// `deactivate/employee.yml`, `deactivate/account.yml`), leaves it out of queries that do not
/// ask for `Active` (`all/employees_including_active.yml`), and no longer counts its name in
/// the duplicate-name check.
///
/// Reactivation is not captured anywhere we found. The simulator takes the suffix off again
/// (QuickBooks' "Make active" shows the plain name), unless the update names the record
/// itself; a reactivated name that an active record has taken meanwhile is refused with 6240.
extension SimState {
    static let deletedSuffix = " (deleted)"
    /// Entities whose queries leave inactive rows out by default.
    static let nameLists: Set<String> = ["Customer", "Item", "Account"]

    /// Renames a record on (re)activation: `previous` is the stored body, `body` the updated one,
    /// `named` whether the update set the name field itself.
    static func applyActivation(previous: [String: JSONValue], body: inout [String: JSONValue], nameField: String, named: Bool) {
        let wasActive = previous["Active"]?.boolValue != false
        let isActive = body["Active"]?.boolValue != false
        guard wasActive != isActive, var name = body.string(nameField) else { return }
        if !isActive {
            if !name.hasSuffix(deletedSuffix) { name += deletedSuffix }
        } else if !named, name.hasSuffix(deletedSuffix) {
            name.removeLast(deletedSuffix.count)
        }
        body[nameField] = .string(name)
        body["FullyQualifiedName"] = .string(name)
    }

    /// Whether an active record other than `exceptID` already has the name (case-insensitive).
    func activeNameTaken(_ type: String, field: String, name: String, exceptID: String?, realmID: String) -> Bool {
        companies[realmID]?.live(type).contains {
            $0.body["Active"]?.boolValue != false && $0.body.string(field)?.lowercased() == name.lowercased() && $0.body.string("Id") != exceptID
        } == true
    }
}

extension IntuitQuery {
    /// Whether the query decides about `Active` itself; otherwise a name list answers active rows only.
    var mentionsActive: Bool {
        conditions.contains { $0.field.lowercased() == "active" }
    }
}
