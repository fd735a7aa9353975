/// Lets the global options come before the subcommand: `qbctl --socket /run/x.sock status`.
///
/// swift-argument-parser only parses options where they are declared (in each subcommand's
/// ``GlobalOptions``), so `main` moves `--socket PATH`, `--socket=PATH` and `--json` found before
/// the first other argument to after the command line (before a `--`, if any).
enum GlobalArguments {
    static func hoisted(_ arguments: [String]) -> [String] {
        var moved: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--json" || argument.hasPrefix("--socket=") {
                moved.append(argument)
                index += 1
            } else if argument == "--socket", index + 1 < arguments.count {
                moved += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        // Nothing moved, or nothing after them: the parser reports what is wrong.
        guard !moved.isEmpty, index < arguments.count else { return arguments }
        var rest = Array(arguments[index...])
        // `qbctl --socket S help status`: help takes no options and needs none.
        if rest.first == "help" { return rest }
        rest.insert(contentsOf: moved, at: rest.firstIndex(of: "--") ?? rest.endIndex)
        return rest
    }
}
