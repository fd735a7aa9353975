import Foundation
import QBSyncCore

/// Intuit's query language, the part the daemon and Intuit's client libraries use (reference §2.7):
/// `SELECT * | COUNT(*) FROM <Entity> [WHERE f op v [AND …]] [ORDERBY f [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n]`
/// with `= != < > <= >= IN (…) LIKE`; keywords and entity names case-insensitive.
///
/// Strings: `\'` is a quote (Intuit's blog "Deep dive into data queries", 2017). A backslash
/// before any other character is consumed with it and both are kept as they are: Intuit's lexer
/// reads `\` as an escape (a value ending in `\` escapes its closing quote, quickbooks-ruby#345),
/// yet a name with a backslash inside was still found there, so `\\` is not taken to mean one
/// backslash. Only `\'` has a documented meaning, and it is the only one a client can rely on.
struct IntuitQuery: Equatable {
    enum Value: Equatable {
        case string(String)
        case number(Double)
        case bool(Bool)
    }

    enum Operator: String { case equal = "=", notEqual = "!=", less = "<", greater = ">", lessOrEqual = "<=", greaterOrEqual = ">=", in_ = "IN", like = "LIKE" }

    struct Condition: Equatable {
        var field: String
        var op: Operator
        var values: [Value]
    }

    var count: Bool
    var entity: String
    var conditions: [Condition] = []
    var orderBy: (field: String, descending: Bool)?
    var startPosition = 1
    var maxResults = 100

    static func == (lhs: IntuitQuery, rhs: IntuitQuery) -> Bool {
        lhs.count == rhs.count && lhs.entity == rhs.entity && lhs.conditions == rhs.conditions && lhs.orderBy?.field == rhs.orderBy?.field
            && lhs.orderBy?.descending == rhs.orderBy?.descending && lhs.startPosition == rhs.startPosition && lhs.maxResults == rhs.maxResults
    }

    struct ParseError: Error, CustomStringConvertible {
        let description: String
        /// Parsed, but names no entity Intuit knows: 4001 rather than 4000.
        var validation = false
    }

    /// Entities the simulator can query, in Intuit's spelling.
    static let entities = ["Customer", "Invoice", "Item", "Payment", "Account", "CompanyInfo"]

    static func parse(_ text: String) throws -> IntuitQuery {
        var tokens = try tokenize(text)[...]
        func next() throws -> Token {
            guard let token = tokens.popFirst() else { throw ParseError(description: "unexpected end of query") }
            return token
        }
        func expectWord(_ word: String) throws {
            let token = try next()
            guard case .word(let found) = token, found.uppercased() == word else { throw ParseError(description: "expected \(word), found \(token)") }
        }
        try expectWord("SELECT")
        var count = false
        switch try next() {
        case .symbol("*"): break
        case .word(let word) where word.uppercased() == "COUNT":
            guard try next() == .symbol("("), try next() == .symbol("*"), try next() == .symbol(")") else { throw ParseError(description: "expected COUNT(*)") }
            count = true
        case let token: throw ParseError(description: "only SELECT * and SELECT COUNT(*) are supported, found \(token)")
        }
        try expectWord("FROM")
        guard case .word(let entityName) = try next() else { throw ParseError(description: "expected an entity after FROM") }
        guard let entity = entities.first(where: { $0.lowercased() == entityName.lowercased() }) else {
            throw ParseError(description: "invalid context declaration: \(entityName)", validation: true)
        }
        var query = IntuitQuery(count: count, entity: entity)
        while let token = tokens.first {
            guard case .word(let keyword) = token else { throw ParseError(description: "unexpected \(token)") }
            tokens.removeFirst()
            switch keyword.uppercased() {
            case "WHERE":
                repeat {
                    query.conditions.append(try condition(&tokens))
                } while tokens.first.map({ if case .word(let word) = $0, word.uppercased() == "AND" { return true } else { return false } }) == true
                    && tokens.popFirst() != nil
            case "ORDERBY", "ORDER":
                if keyword.uppercased() == "ORDER" { try expectWord("BY") }
                guard case .word(let field) = try next() else { throw ParseError(description: "ORDERBY needs a field") }
                var descending = false
                if case .word(let direction)? = tokens.first, ["ASC", "DESC"].contains(direction.uppercased()) {
                    descending = direction.uppercased() == "DESC"
                    tokens.removeFirst()
                }
                query.orderBy = (field, descending)
            case "STARTPOSITION":
                guard case .number(let value) = try next(), value >= 1 else { throw ParseError(description: "STARTPOSITION must be a number from 1") }
                query.startPosition = Int(value)
            case "MAXRESULTS":
                guard case .number(let value) = try next(), (1...1000).contains(value) else { throw ParseError(description: "MAXRESULTS must be from 1 to 1000") }
                query.maxResults = Int(value)
            default:
                throw ParseError(description: "unexpected \(keyword)")
            }
        }
        return query
    }

    private static func condition(_ tokens: inout ArraySlice<Token>) throws -> Condition {
        guard case .word(let field)? = tokens.popFirst() else { throw ParseError(description: "expected a field name") }
        guard let opToken = tokens.popFirst() else { throw ParseError(description: "expected an operator") }
        let op: Operator
        switch opToken {
        case .symbol(let symbol): guard let parsed = Operator(rawValue: symbol) else { throw ParseError(description: "unknown operator \(symbol)") }; op = parsed
        case .word(let word): guard let parsed = Operator(rawValue: word.uppercased()), parsed == .in_ || parsed == .like else { throw ParseError(description: "unknown operator \(word)") }; op = parsed
        default: throw ParseError(description: "expected an operator")
        }
        func value() throws -> Value {
            switch tokens.popFirst() {
            case .string(let text)?: return .string(text)
            case .number(let number)?: return .number(number)
            case .word(let word)? where ["TRUE", "FALSE"].contains(word.uppercased()): return .bool(word.uppercased() == "TRUE")
            default: throw ParseError(description: "expected a value after \(field) \(op.rawValue)")
            }
        }
        if op == .in_ {
            guard tokens.popFirst() == .symbol("(") else { throw ParseError(description: "IN needs a list") }
            var values = [try value()]
            while tokens.first == .symbol(",") {
                tokens.removeFirst()
                values.append(try value())
            }
            guard tokens.popFirst() == .symbol(")") else { throw ParseError(description: "IN list not closed") }
            return Condition(field: field, op: op, values: values)
        }
        return Condition(field: field, op: op, values: [try value()])
    }

    enum Token: Equatable, CustomStringConvertible {
        case word(String)
        case string(String)
        case number(Double)
        case symbol(String)
        var description: String {
            switch self {
            case .word(let w): return w
            case .string(let s): return "'\(s)'"
            case .number(let n): return String(n)
            case .symbol(let s): return s
            }
        }
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var tokens: [Token] = []
        var characters = Array(text)[...]
        while let character = characters.first {
            if character.isWhitespace {
                characters.removeFirst()
            } else if character == "'" {
                characters.removeFirst()
                var value = ""
                var closed = false
                while let next = characters.popFirst() {
                    if next == "\\" {
                        guard let escaped = characters.popFirst() else { break }
                        if escaped != "'" { value.append(next) }
                        value.append(escaped)
                        continue
                    }
                    if next == "'" { closed = true; break }
                    value.append(next)
                }
                guard closed else {
                    throw ParseError(description: "Invalid content. Lexical error at line 1, column \(text.count + 1).  Encountered: <EOF> after : \"'\(value)\"")
                }
                tokens.append(.string(value))
            } else if character.isNumber || (character == "-" && characters.dropFirst().first?.isNumber == true) {
                var number = String(characters.removeFirst())
                while let next = characters.first, next.isNumber || next == "." { number.append(characters.removeFirst()) }
                guard let value = Double(number) else { throw ParseError(description: "bad number \(number)") }
                tokens.append(.number(value))
            } else if character.isLetter || character == "_" {
                var word = ""
                while let next = characters.first, next.isLetter || next.isNumber || next == "_" || next == "." { word.append(characters.removeFirst()) }
                tokens.append(.word(word))
            } else if "<>!".contains(character) {
                characters.removeFirst()
                if characters.first == "=" {
                    characters.removeFirst()
                    tokens.append(.symbol(String(character) + "="))
                } else {
                    guard character != "!" else { throw ParseError(description: "unexpected !") }
                    tokens.append(.symbol(String(character)))
                }
            } else if "=*(),".contains(character) {
                tokens.append(.symbol(String(characters.removeFirst())))
            } else {
                throw ParseError(description: "unexpected character \(character)")
            }
        }
        return tokens
    }

    /// Whether an entity passes every condition.
    func matches(_ body: [String: JSONValue]) -> Bool {
        conditions.allSatisfy { condition in
            let actual = Self.lookup(condition.field, in: body)
            switch condition.op {
            case .in_: return condition.values.contains { Self.compare(actual, $0) == .orderedSame }
            case .like:
                guard case .string(let pattern) = condition.values[0], let text = actual.flatMap(Self.text) else { return false }
                return Self.like(text.lowercased(), pattern.lowercased())
            default:
                guard let order = Self.compare(actual, condition.values[0]) else { return condition.op == .notEqual }
                switch condition.op {
                case .equal: return order == .orderedSame
                case .notEqual: return order != .orderedSame
                case .less: return order == .orderedAscending
                case .greater: return order == .orderedDescending
                case .lessOrEqual: return order != .orderedDescending
                case .greaterOrEqual: return order != .orderedAscending
                default: return false
                }
            }
        }
    }

    /// Dotted paths; a ref (`CustomerRef`) compares by its `value`.
    static func lookup(_ field: String, in body: [String: JSONValue]) -> JSONValue? {
        var current: JSONValue = .object(body)
        for part in field.split(separator: ".") {
            guard case .object(let object) = current, let key = object.keys.first(where: { $0.lowercased() == part.lowercased() }) else { return nil }
            current = object[key]!
        }
        if case .object(let object) = current, let value = object["value"] { return value }
        return current
    }

    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): return text
        case .int(let int): return String(int)
        case .double(let double): return String(double)
        case .bool(let bool): return String(bool)
        default: return nil
        }
    }

    static func compare(_ actual: JSONValue?, _ expected: Value) -> ComparisonResult? {
        guard let actual else { return nil }
        switch expected {
        case .bool(let wanted):
            guard case .bool(let value) = actual else { return nil }
            return value == wanted ? .orderedSame : .orderedAscending
        case .number(let wanted):
            let value: Double?
            switch actual {
            case .int(let int): value = Double(int)
            case .double(let double): value = double
            case .string(let text): value = Double(text)
            default: value = nil
            }
            guard let value else { return nil }
            return value == wanted ? .orderedSame : (value < wanted ? .orderedAscending : .orderedDescending)
        case .string(let wanted):
            guard let value = text(actual) else { return nil }
            if let left = IntuitTime.parse(value), let right = IntuitTime.parse(wanted), value.count > 10 || wanted.count > 10 {
                return left == right ? .orderedSame : (left < right ? .orderedAscending : .orderedDescending)
            }
            if let left = Double(value), let right = Double(wanted) {
                return left == right ? .orderedSame : (left < right ? .orderedAscending : .orderedDescending)
            }
            return value.lowercased().compare(wanted.lowercased())
        }
    }

    /// `%` matches any run of characters; nothing else is special.
    static func like(_ text: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "%", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return text == pattern }
        var remainder = text[...]
        guard remainder.hasPrefix(parts[0]) else { return false }
        remainder = remainder.dropFirst(parts[0].count)
        for (index, part) in parts.enumerated().dropFirst() {
            if index == parts.count - 1 { return part.isEmpty || remainder.hasSuffix(part) }
            guard !part.isEmpty else { continue }
            guard let range = remainder.range(of: part) else { return false }
            remainder = remainder[range.upperBound...]
        }
        return true
    }
}

extension SimState {
    /// `GET /query?query=…` or `POST /query` with the SQL as an `application/text` body.
    func query(_ text: String, realmID: String) -> SimResponse {
        let current = now()
        let query: IntuitQuery
        do {
            query = try IntuitQuery.parse(text)
        } catch let error as IntuitQuery.ParseError where error.validation {
            return IntuitFault.queryValidation(error.description, now: current)
        } catch {
            return IntuitFault.queryParser("\(error)", now: current)
        }
        var rows = companies[realmID]!.live(query.entity).map(\.body).filter(query.matches)
        if Self.nameLists.contains(query.entity), !query.mentionsActive {
            // Intuit's default: `SELECT * FROM Customer` answers active customers only.
            rows.removeAll { $0["Active"]?.boolValue == false }
        }
        if query.count {
            return .json(.ok, JSONValue.object(["QueryResponse": ["totalCount": .int(Int64(rows.count))], "time": .string(IntuitTime.pacific(current))]))
        }
        if query.orderBy == nil, query.entity == "Account" {
            // Intuit answers accounts in Name order (reference query-account.xml).
            rows.sort { (IntuitQuery.lookup("Name", in: $0).flatMap(IntuitQuery.text) ?? "") < (IntuitQuery.lookup("Name", in: $1).flatMap(IntuitQuery.text) ?? "") }
        }
        if let order = query.orderBy {
            rows.sort { left, right in
                let l = IntuitQuery.lookup(order.field, in: left).flatMap(IntuitQuery.text) ?? ""
                let r = IntuitQuery.lookup(order.field, in: right).flatMap(IntuitQuery.text) ?? ""
                let ascending = (Double(l).flatMap { a in Double(r).map { a < $0 } }) ?? (l.lowercased() < r.lowercased())
                return order.descending ? !ascending && l != r : ascending
            }
        }
        let page = Array(rows.dropFirst(query.startPosition - 1).prefix(query.maxResults))
        var response: [String: JSONValue] = [:]
        if !page.isEmpty {
            response = [query.entity: .array(page.map(JSONValue.object)), "startPosition": .int(Int64(query.startPosition)), "maxResults": .int(Int64(page.count))]
        }
        return .json(.ok, JSONValue.object(["QueryResponse": .object(response), "time": .string(IntuitTime.pacific(current))]))
    }

    /// `POST /batch`: up to 30 items, each a create/update/delete of an entity or a query.
    mutating func batch(_ body: Data, realmID: String) -> SimResponse {
        let current = now()
        guard let request = try? JSONDecoder().decode(JSONValue.self, from: body), let items = request["BatchItemRequest"]?.arrayValue else {  // try?: not JSON is the fault below
            return IntuitFault.requiredMissing("BatchItemRequest", now: current)
        }
        guard items.count <= configuration.batchItemsLimit else {
            return IntuitFault.requestValidation("Batch size of \(items.count) exceeds the limit of \(configuration.batchItemsLimit)", now: current)
        }
        var responses: [JSONValue] = []
        for case .object(let item) in items {
            let bID = item.string("bId") ?? ""
            let reply: SimResponse
            var entityName: String?
            if let query = item.string("Query") {
                reply = self.query(query, realmID: realmID)
            } else if let name = ["Customer", "Invoice", "Item", "Payment"].first(where: { item[$0] != nil }), case .object(let entity)? = item[name] {
                entityName = name
                let operation = item.string("operation")
                switch name {
                case "Customer": reply = saveCustomer(entity, realmID: realmID)
                case "Invoice": reply = saveInvoice(entity, realmID: realmID, operation: operation == "create" ? nil : operation)
                case "Item": reply = saveItem(entity, realmID: realmID)
                default: reply = savePayment(entity, realmID: realmID, operation: operation)
                }
            } else {
                reply = IntuitFault.requiredMissing("BatchItemRequest entity", now: current)
            }
            var result: [String: JSONValue] = ["bId": .string(bID)]
            if let decoded = try? JSONDecoder().decode([String: JSONValue].self, from: reply.body) {  // try?: a reply that is not JSON is passed on as it is
                if let fault = decoded["Fault"] {
                    result["Fault"] = fault
                } else if let entityName, let entity = decoded[entityName] {
                    result[entityName] = entity
                } else if let queryResponse = decoded["QueryResponse"] {
                    result["QueryResponse"] = queryResponse
                }
            }
            responses.append(.object(result))
        }
        return .json(.ok, JSONValue.object(["BatchItemResponse": .array(responses), "time": .string(IntuitTime.pacific(current))]))
    }
}
