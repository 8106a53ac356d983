import ArgumentParser
import VMICLI
import VMICore

// Placeholder until this tool's issue lands: parses its TARGET and says it is not there yet.
struct EvtchnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vmi-evtchn", abstract: "Not implemented yet.", version: VMIVersion.string)
    @OptionGroup var target: TargetOptions

    func run() throws { throw VMIError("not implemented yet") }
}

ToolMain.run(EvtchnCommand.self)
