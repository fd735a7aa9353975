import ArgumentParser

extension Qbctl {
    /// `qbctl completion bash|zsh|fish`: the shell's completion script, from the same definitions.
    struct Completion: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the completion script for bash, zsh or fish.",
            discussion: """
                bash: qbctl completion bash > /etc/bash_completion.d/qbctl
                zsh:  qbctl completion zsh > "${fpath[1]}/_qbctl"
                fish: qbctl completion fish > ~/.config/fish/completions/qbctl.fish
                """
        )

        @OptionGroup(visibility: .hidden) var options: GlobalOptions
        @Argument(help: "The shell.") var shell: Shell

        enum Shell: String, ExpressibleByArgument, CaseIterable { case bash, zsh, fish }

        func run() {
            print(Qbctl.completionScript(for: CompletionShell(rawValue: shell.rawValue)!))
        }
    }
}
