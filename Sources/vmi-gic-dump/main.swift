import ArgumentParser
import VMICLI
import VMICore

// Placeholder until this tool's issue lands: parses its TARGET and says it is not there yet.
struct GicDumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vmi-gic-dump", abstract: "Not implemented yet.", version: VMIVersion.string)
    @OptionGroup var target: TargetOptions

    func run() throws { throw VMIError("not implemented yet") }
}

ToolMain.run(GicDumpCommand.self)
